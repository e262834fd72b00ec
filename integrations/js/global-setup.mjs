// A Vitest global setup (globalSetup: ['cvnotify-test-helpers/global-setup']): one simulation
// for the whole run, its endpoints in process.env.CVNOTIFY_SIMULATION (Simulation.fromEnvironment()
// reads them in a test). At teardown it is judged: a finding fails the run. CVNOTIFY_DUTIES (comma
// separated) says what the code under test must do beyond consuming; CVNOTIFY_JUDGE=off skips
// the judgement. Jest: jest-global-setup.mjs and jest-global-teardown.mjs.
import { startSimulation, describe, ENV } from './index.mjs';

export async function setup() {
  const duties = (process.env.CVNOTIFY_DUTIES ?? '').split(',').filter(Boolean);
  const sim = await startSimulation({ duties });
  process.env[ENV] = JSON.stringify(sim.endpoints);
  globalThis.__cvnotifySimulation = sim;
}

export async function teardown() {
  const sim = globalThis.__cvnotifySimulation;
  if (!sim) return;
  globalThis.__cvnotifySimulation = undefined;
  try {
    const judgement = await sim.judge();
    if (!judgement.passed && process.env.CVNOTIFY_JUDGE !== 'off') {
      throw new Error(describe(judgement));
    }
  } finally {
    await sim.close();
  }
}
