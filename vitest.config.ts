import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The native addon is loaded once per process; forks keep a crash in one
    // file from taking the others down and avoid sharing it across threads.
    pool: 'forks',
    testTimeout: 60_000,
  },
});
