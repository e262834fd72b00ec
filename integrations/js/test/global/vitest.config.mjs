// A team's Vitest configuration with cvnotify's global setup (the helpers' own test runs it).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['*.spec.mjs'],
    globalSetup: ['../../global-setup.mjs'],
  },
});
