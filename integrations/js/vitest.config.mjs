// The helpers' own tests (cvnotify's scripts/test runs them on Node 20).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.mjs'],
    testTimeout: 120_000,
  },
});
