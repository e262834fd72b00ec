// A team's Jest configuration with cvnotify's global setup and teardown (the helpers' own test
// runs it; Jest runs ES modules with NODE_OPTIONS=--experimental-vm-modules).
export default {
  testMatch: ['**/test/jest/*.spec.mjs'],
  globalSetup: '<rootDir>/../../jest-global-setup.mjs',
  globalTeardown: '<rootDir>/../../jest-global-teardown.mjs',
  transform: {},
  testTimeout: 60000,
};
