import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // GPU tests share one device; files run one at a time so timings and memory stay predictable.
    fileParallelism: false,
    // A test that reaches no expect() checks nothing: fail it rather than count it as passed.
    expect: { requireAssertions: true },
  },
});
