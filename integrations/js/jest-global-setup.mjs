// Jest's globalSetup: see global-setup.mjs.
export { setup as default } from './global-setup.mjs';
