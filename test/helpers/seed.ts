// The seed of a test's random inputs: fresh each run (the seed is printed with any failure), repeatable by
// setting LIM_TEST_SEED. The generators themselves are reference/random.ts.

export function testSeed(): number {
  const fixed = process.env.LIM_TEST_SEED;
  return fixed !== undefined ? Number(fixed) : (Date.now() ^ (process.pid << 16)) >>> 0;
}
