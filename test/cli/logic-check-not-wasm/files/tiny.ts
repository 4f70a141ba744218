@external("capsule_v1", "now_ms") declare function now_ms(): i64;
export function decide(): i32 { return now_ms() >= 1000 ? 1 : 0; }
