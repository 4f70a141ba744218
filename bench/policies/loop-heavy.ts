// Benchmark policy: a tight arithmetic loop (an xorshift hash over 2 million rounds), the worst
// case for per-loop-iteration fuel charging.
export function decide(): i32 {
  let x: u32 = 2463534242;
  for (let i = 0; i < 2000000; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
  }
  return x == 0 ? 1 : 0;
}
