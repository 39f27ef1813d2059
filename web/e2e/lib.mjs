// Helpers for the browser tests: build and run the real sker binary on a
// free port with a temporary DATA_DIR, and drive Debian's Chromium through
// playwright-core (never a downloaded browser).

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, rmSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = resolve(webDir, '..');
export const artifacts = resolve(repoRoot, 'test-artifacts', 'e2e');

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function log(...args) {
  const t = new Date().toISOString().slice(11, 23);
  console.log(`[${t}]`, ...args);
}

/** Builds the sker binary (with the UI embedded, which must be built first) unless SKER_BIN is set. */
export function buildSker() {
  if (process.env.SKER_BIN) return process.env.SKER_BIN;
  if (!existsSync(join(repoRoot, 'ui', 'dist', 'app', 'index.html'))) {
    throw new Error('the UI is not built: run `npm run build` in web/ first');
  }
  const dir = mkdtempSync(join(tmpdir(), 'sker-studio-bin-'));
  const bin = join(dir, 'sker');
  log('building sker');
  const r = spawnSync('go', ['build', '-o', bin, './cmd/sker'], { cwd: repoRoot, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('go build ./cmd/sker failed');
  return bin;
}

export function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/**
 * A sker process; restart() keeps the port and the data. env adds to (or
 * overrides) its environment; AI providers are off unless env sets them,
 * so a key in the caller's environment never reaches a real provider.
 * opts.logName names its log in artifacts (default sker.log, shared by
 * every process that does not set it); opts.readyMs bounds the wait for
 * /health at start (default 30 s).
 */
export class Sker {
  constructor(bin, port, dataDir, env = {}, opts = {}) {
    this.bin = bin;
    this.port = port;
    this.dataDir = dataDir;
    this.env = env;
    this.logName = opts.logName ?? 'sker.log';
    this.readyMs = opts.readyMs ?? 30_000;
    this.url = `http://127.0.0.1:${port}`;
    this.proc = null;
  }

  static async start(bin, env = {}, opts = {}) {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'sker-studio-data-'));
    const s = new Sker(bin, port, dataDir, env, opts);
    await s.start();
    return s;
  }

  /** The log file of this process, in artifacts. */
  get logPath() {
    return join(artifacts, this.logName);
  }

  /** The environment of every command this Sker runs. */
  environment() {
    return {
      ...process.env,
      PORT: String(this.port),
      HOST: '127.0.0.1',
      DATA_DIR: this.dataDir,
      JWT_SECRET: 'studio-e2e-secret-0123456789abcdef-0123456789',
      LOG_LEVEL: 'warn',
      NATS_URL: '',
      DATABASE_URL: '',
      REDIS_URL: '',
      RABBITMQ_URL: '',
      CANVAS_IDLE_TIMEOUT: '5m',
      OPENAI_API_KEY: '',
      OPENAI_BASE_URL: '',
      ANTHROPIC_API_KEY: '',
      ANTHROPIC_BASE_URL: '',
      ...this.env,
    };
  }

  /** Runs `sker <args…>` once (like migrate) with this process's environment, its output going to the log; throws unless it exits 0. */
  run(...args) {
    mkdirSync(artifacts, { recursive: true });
    const out = openSync(this.logPath, 'a');
    const r = spawnSync(this.bin, args, { cwd: this.dataDir, env: this.environment(), stdio: ['ignore', out, out], timeout: 120_000 });
    closeSync(out);
    if (r.status !== 0) throw new Error(`sker ${args.join(' ')} exited with ${r.status ?? r.signal}; see ${this.logPath}`);
  }

  async start() {
    mkdirSync(artifacts, { recursive: true });
    const out = openSync(this.logPath, 'a');
    this.proc = spawn(this.bin, ['serve'], {
      cwd: this.dataDir,
      env: this.environment(),
      stdio: ['ignore', out, out],
    });
    const deadline = Date.now() + this.readyMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`sker exited with ${this.proc.exitCode}; see ${this.logPath}`);
      try {
        const r = await fetch(`${this.url}/health`);
        if (r.ok) return;
      } catch {
        /* not yet */
      }
      await sleep(100);
    }
    throw new Error(`sker did not answer /health within ${this.readyMs / 1000} s; see ${this.logPath}`);
  }

  async stop() {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((res) => p.once('exit', res));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  }

  /** Kills the process with SIGKILL (kill -9: no shutdown at all) and waits until it is gone. */
  async kill() {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((res) => p.once('exit', res));
    p.kill('SIGKILL');
    await exited;
    this.proc = null;
  }

  async close() {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Calls the REST API; token from a session. */
  async api(method, path, body, token) {
    const r = await fetch(`${this.url}/api/v1${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    const json = text ? JSON.parse(text) : undefined;
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return json;
  }
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Launches Debian's Chromium headless. Playwright gives the browser a fresh
 * temporary profile (user-data-dir) and removes it on close; each
 * newContext() is isolated, like another person's browser.
 */
export async function launchBrowser() {
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Polls fn until it returns a truthy value; returns it and how long it took. */
export async function waitFor(what, fn, timeoutMs = 5000, everyMs = 20) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeoutMs) {
    try {
      last = await fn();
      if (last) return { value: last, ms: Date.now() - t0 };
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
}

/**
 * A scenario's bookkeeping: step() runs and logs one named step (a failed
 * one is recorded and rethrown), assert() fails a step, and seesLive()
 * waits until fn returns a truthy value and fails when that took longer
 * than liveMs; results lists each step's outcome for the closing line.
 */
export function scenario(liveMs) {
  const results = [];
  const assert = (cond, msg) => {
    if (!cond) throw new Error(msg);
  };
  return {
    results,
    assert,
    async step(name, fn) {
      const t0 = Date.now();
      try {
        await fn();
        results.push({ name, ok: true, ms: Date.now() - t0 });
        log(`ok    ${name} (${Date.now() - t0} ms)`);
      } catch (err) {
        results.push({ name, ok: false, err });
        log(`FAIL  ${name}: ${err.stack ?? err}`);
        throw err;
      }
    },
    async seesLive(who, what, fn) {
      const { value, ms } = await waitFor(`${who} to see ${what}`, fn, 8000);
      log(`      ${who} saw ${what} after ${ms} ms`);
      assert(ms <= liveMs, `${who} saw ${what} after ${ms} ms; want within ${liveMs} ms`);
      return value;
    },
  };
}

/** The studio's connection state on page: "connected", "offline", … */
export const status = (page) => page.getAttribute('[data-testid="status"]', 'data-status');

/** Registers name and email through the studio's form; waits for the canvas list. */
export async function register(page, base, name, email) {
  await page.goto(`${base}/register`);
  await page.fill('input[name="name"]', name);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', 'correct horse battery');
  await page.click('[data-testid="auth-submit"]');
  await page.waitForSelector('[data-testid="new-title"]');
}

/** The access token of the studio's session on page. */
export async function accessToken(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('sker.session')).accessToken);
}

/** Opens canvas id on page and waits until its connection is up. */
export async function openCanvas(page, base, id) {
  await page.goto(`${base}/c/${id}`);
  await page.waitForSelector('.react-flow__pane');
  await waitFor('connected', async () => (await status(page)) === 'connected', 15_000);
}
