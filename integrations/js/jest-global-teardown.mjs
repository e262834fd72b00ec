// Jest's globalTeardown: see global-setup.mjs.
export { teardown as default } from './global-setup.mjs';
