import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { startSimulation } from '../index.mjs';
import { consume } from './consumer.mjs';

let sim;
afterEach(async () => { await sim?.close(); sim = undefined; });

describe('a simulation per test, judged by the test', () => {
  test('a consumer that deletes every notification passes', async () => {
    sim = await startSimulation();
    await sim.lifecycle();
    const seen = await consume(sim.connectionString, sim.queueName);
    expect(seen.sort()).toEqual(['ConnectionTest', 'Export', 'Training']);
    const judgement = await sim.judge();
    expect(judgement.findings).toEqual([]);
    expect(judgement.verdict).toBe('PASS');
  });

  test('a consumer that forgets to delete gets the finding', async () => {
    sim = await startSimulation();
    await sim.configure();
    await consume(sim.connectionString, sim.queueName, { remove: false });
    const judgement = await sim.judge();
    expect(judgement.verdict).toBe('FAIL');
    expect(judgement.findings.map((f) => f.code)).toEqual(['notification-not-deleted']);
  });

  test('a raw message goes on the queue as the service puts one', async () => {
    sim = await startSimulation();
    await sim.deliver('not a notification');
    const { QueueClient } = await import('@azure/storage-queue');
    const client = new QueueClient(sim.connectionString, sim.queueName);
    const { receivedMessageItems } = await client.receiveMessages();
    expect(receivedMessageItems.map((m) => m.messageText)).toEqual(['not a notification']);
  });

  test('a missing binary is said plainly', async () => {
    await expect(startSimulation({ binary: '/nonexistent/cvnotify' })).rejects.toThrow(/cvnotify is not found/);
  });
});

describe('the global setup, as a team configures it', () => {
  const here = fileURLToPath(new URL('./global', import.meta.url));
  const vitest = fileURLToPath(new URL('../../../node_modules/vitest/vitest.mjs', import.meta.url));
  const run = (env) => spawnSync(process.execPath, [vitest, 'run', '--root', here], {
    env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000,
  });

  test('a run whose consumer deletes passes', () => {
    const done = run({ CONSUMER_DELETES: 'yes' });
    expect(done.status, done.stdout + done.stderr).toBe(0);
  });

  test('a run whose consumer forgets to delete fails with the finding', () => {
    const done = run({ CONSUMER_DELETES: 'no' });
    expect(done.status).not.toBe(0);
    expect(done.stdout + done.stderr).toMatch(/notification-not-deleted/);
  });
});

describe('the Jest global setup and teardown, as a team configures them', () => {
  const config = fileURLToPath(new URL('./jest/jest.config.mjs', import.meta.url));
  const root = fileURLToPath(new URL('./jest', import.meta.url));
  const jest = fileURLToPath(new URL('../../../node_modules/jest/bin/jest.js', import.meta.url));
  const run = (env) => spawnSync(process.execPath, [jest, '--rootDir', root, '--config', config], {
    env: { ...process.env, NODE_OPTIONS: '--experimental-vm-modules', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });

  test('a run whose consumer deletes passes', () => {
    const done = run({ CONSUMER_DELETES: 'yes' });
    expect(done.status, done.stdout + done.stderr).toBe(0);
  });

  test('a run whose consumer forgets to delete fails with the finding', () => {
    const done = run({ CONSUMER_DELETES: 'no' });
    expect(done.status).not.toBe(0);
    expect(done.stdout + done.stderr).toMatch(/error notification-not-deleted/);
  });
});
