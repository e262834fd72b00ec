// cvnotify's test helpers for Node (Vitest, Jest): start `cvnotify simulate` (the simulated
// Custom Vision training API, Queue service and Blob service, which the official Azure SDKs talk
// to unchanged), drive the service's side, and judge what your code did from the simulation's
// journal (`cvnotify replay`). Node's standard library only.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, delimiter } from 'node:path';
import { createInterface } from 'node:readline';

/** The compact domain: a project in it can be exported. */
export const EXPORTABLE_DOMAIN = '0732100f-1a38-4e49-a514-c9b44c697ab5';
const API = 'customvision/v3.3/Training';
const START_MS = 30_000;
const ANSWER_MS = 30_000;
/** The environment variable the global setup leaves the shared simulation's endpoints in. */
export const ENV = 'CVNOTIFY_SIMULATION';

/** The cvnotify binary: `given`, else $CVNOTIFY_BIN, else `cvnotify` on PATH. */
export function findBinary(given) {
  const candidates = given ? [given] : process.env.CVNOTIFY_BIN ? [process.env.CVNOTIFY_BIN]
    : (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'cvnotify'));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {}
  }
  throw new Error('cvnotify is not found: put it on PATH, set CVNOTIFY_BIN, or pass { binary } '
    + '(build it with `cargo build --release -p cvnotify-harness`)');
}

async function call(method, url, { body, contentType = 'application/json', headers = {} } = {}) {
  const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(ANSWER_MS) };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['content-type'] = contentType;
  }
  const answer = await fetch(url, init);
  const text = await answer.text();
  if (!answer.ok) throw new Error(`${method} ${url.split('?')[0]}: ${answer.status} ${text}`);
  return text.trim() ? JSON.parse(text) : null;
}

/** A running `cvnotify simulate`, its journal recorded. Its endpoints are properties:
 * connectionString, trainingEndpoint, trainingKey, notificationQueueUri,
 * exportModelContainerUri, queueUrl, containerUrl, blobEndpoint, queueEndpoint, accountName,
 * accountKey; queueName and containerName are the simulation's own queue and container. */
export class Simulation {
  queueName = 'notifications';
  containerName = 'backups';

  constructor(endpoints, process, dir, binary) {
    // Every endpoint but `settle` (a method here; its URL stays in `endpoints`).
    const { settle, ...fields } = endpoints;
    Object.assign(this, fields);
    Object.defineProperty(this, 'endpoints', { value: endpoints });
    Object.defineProperty(this, 'process', { value: process });
    Object.defineProperty(this, 'dir', { value: dir });
    Object.defineProperty(this, 'binary', { value: binary });
    Object.defineProperty(this, 'journal', { value: dir && join(dir, 'journal.jsonl') });
  }

  /** The simulation an earlier global setup started, from the environment (not judged here). */
  static fromEnvironment() {
    const text = process.env[ENV];
    if (!text) throw new Error(`no cvnotify simulation: add cvnotify-test-helpers/global-setup to globalSetup (${ENV} is not set)`);
    return new Simulation(JSON.parse(text), null, null, null);
  }

  async api(method, path, query) {
    const q = query ? `?${new URLSearchParams(query)}` : '';
    return call(method, `${this.trainingEndpoint}/${API}/${path}${q}`, {
      headers: { 'Training-Key': this.trainingKey },
    });
  }

  /** Runs everything the service has promised, now: how many pieces of work ran. */
  async settle() {
    return (await call('POST', this.endpoints.settle)).ran;
  }

  /** Puts `text` on the queue as the service puts a notification (a raw message). */
  async deliver(text, { base64 = false, queue = this.queueName } = {}) {
    const q = new URLSearchParams({ queue, base64: String(base64) });
    await call('POST', `${this.trainingEndpoint}/admin/deliver?${q}`, { body: text, contentType: 'text/plain' });
  }

  /** A project with the simulation's queue and container, settled: its ConnectionTest is queued. */
  async configure(name = 'cvnotify-test-helpers') {
    const project = await this.api('POST', 'projects', {
      name,
      domainId: EXPORTABLE_DOMAIN,
      notificationQueueUri: this.notificationQueueUri,
      exportModelContainerUri: this.exportModelContainerUri,
    });
    await this.settle();
    return project.id;
  }

  /** The smallest training set (two tags of five images), trained and settled: the iteration. */
  async train(projectId) {
    const images = [];
    for (const [t, name] of ['stripes', 'checks'].entries()) {
      const tag = await this.api('POST', `projects/${projectId}/tags`, { name });
      for (let n = 0; n < 5; n += 1) {
        const contents = Buffer.concat([Buffer.from([66, 77, t, n]), Buffer.alloc(60)]).toString('base64');
        images.push({ name: `${name}-${n}.bmp`, contents, tagIds: [tag.id] });
      }
    }
    await call('POST', `${this.trainingEndpoint}/${API}/projects/${projectId}/images/files`, {
      headers: { 'Training-Key': this.trainingKey }, body: { images },
    });
    const iteration = await this.api('POST', `projects/${projectId}/train`);
    await this.settle();
    return iteration.id;
  }

  /** The iteration exported and settled: its backup is in the container, its Export queued. */
  async export(projectId, iterationId, platform = 'ONNX') {
    await this.api('POST', `projects/${projectId}/iterations/${iterationId}/export`, { platform });
    await this.settle();
  }

  /** configure, train, export: three notifications and a backup. */
  async lifecycle(platform = 'ONNX') {
    const project = await this.configure();
    const iteration = await this.train(project);
    await this.export(project, iteration, platform);
    return { project, iteration };
  }

  /** Stops the simulation (its journal is then complete). */
  async stop() {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try { process.kill(-child.pid, 'SIGTERM'); } catch {}
    const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch {} }, 10_000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops it and judges what the clients did from its journal: { verdict, findings, report },
   * each finding { code, severity, summary, details }. */
  async judge({ strict = false } = {}) {
    if (!this.journal) throw new Error('this simulation is not recorded here: judge it where it was started');
    await this.stop();
    const args = ['replay', '--format', 'json', this.journal, ...(strict ? ['--strict'] : [])];
    const stdout = await new Promise((resolve, reject) => {
      execFile(this.binary, args, { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, out, err) => {
        if (error && error.code !== 1) reject(new Error(`cvnotify replay failed: ${err}`));
        else resolve(out);
      });
    });
    const report = JSON.parse(stdout);
    const findings = [];
    for (const session of report.sessions ?? []) {
      for (const client of session.clients ?? []) {
        for (const f of client.findings ?? []) {
          if (f.waived) continue;
          findings.push({
            code: f.code, severity: f.severity, summary: f.summary,
            details: (f.examples ?? []).map((e) => e.detail),
          });
        }
      }
    }
    return { verdict: report.verdict, passed: report.verdict === 'PASS', findings, report };
  }

  /** Stops it and removes its files. */
  async close() {
    await this.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts `cvnotify simulate` on free loopback ports, recording its journal.
 * Options: binary, duties (['fetch-backups', 'configure']), encoding ('plain' | 'base64'),
 * args (more flags). */
export async function startSimulation({ binary, duties = [], encoding = 'plain', args = [] } = {}) {
  const bin = findBinary(binary);
  const dir = mkdtempSync(join(tmpdir(), 'cvnotify-node-'));
  const flags = ['simulate', '--record', join(dir, 'journal.jsonl'), '--encoding', encoding,
    ...duties.flatMap((d) => ['--duty', d]), ...args];
  // Its own process group: stopped whole.
  const child = spawn(bin, flags, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    new Promise((resolve) => lines.once('line', resolve)),
    new Promise((resolve) => child.once('exit', () => resolve(null))),
    new Promise((resolve) => setTimeout(() => resolve(null), START_MS).unref()),
  ]);
  if (!first) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch {}
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`cvnotify simulate did not start: ${stderr.trim()}`);
  }
  return new Simulation(JSON.parse(first), child, dir, bin);
}

/** The text of a judgement, for an assertion message. */
export function describe(judgement) {
  return [`cvnotify: ${judgement.verdict}`,
    ...judgement.findings.map((f) => `  ${f.severity} ${f.code}${f.details[0] ? `: ${f.details[0]}` : ''}`)].join('\n');
}
