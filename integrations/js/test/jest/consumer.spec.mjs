// A team's Jest test: the simulation from the global setup, the team's consumer against it.
import { expect, test } from '@jest/globals';
import { Simulation } from '../../index.mjs';
import { consume } from '../consumer.mjs';

test('the consumer reads the whole lifecycle', async () => {
  const sim = Simulation.fromEnvironment();
  await sim.lifecycle();
  const seen = await consume(sim.connectionString, sim.queueName, {
    remove: process.env.CONSUMER_DELETES !== 'no',
  });
  expect(seen.sort()).toEqual(['ConnectionTest', 'Export', 'Training']);
});
