/**
 * A seeded pseudo-random generator (mulberry32): the simulator's only source
 * of randomness, so that the same scene and the same calls give the same run.
 * Returns numbers in [0, 1).
 */
export function _random(seed: number): () => number {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(
      `Cannot seed the random generator: the seed must be a safe integer >= 0, got ${seed}`,
    );
  }
  const low = seed % 0x1_0000_0000;
  const high = Math.floor(seed / 0x1_0000_0000);
  let state = (low ^ Math.imul(high, 0x9e3779b9)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}
