// Benchmark policy: a minimal time lock written against the raw ABI (no SDK), so the benchmark
// measures the sandbox, not the SDK.
@external("capsule_v1", "now_ms") declare function now_ms(): i64;
@external("capsule_v1", "set_reason") declare function set_reason(ptr: usize, len: usize): void;
export function decide(): i32 {
  if (now_ms() >= 1893456000000) return 1;
  const msg = String.UTF8.encode("opens at 2030-01-01T00:00:00Z");
  set_reason(changetype<usize>(msg), msg.byteLength);
  return 0;
}
