// The studio behind Debian's nginx, in a real browser: nginx runs
// deploy/nginx/sker.conf as shipped, with only its addresses and
// certificate paths filled in (as e2e/nginx_test.go does), in front of the
// real binary, over HTTPS with HTTP/2 and a certificate made for this run.
//
// A and B (two browser contexts) sign up through nginx; A creates a canvas
// and shares it with B; each page's WebSocket goes through nginx's /ws
// (wss:// on nginx's port) and the studio goes online although CORS_ORIGIN
// lists only a foreign origin (the studio is on SKER's own origin); A adds
// a card and types in it, B sees both live; after a reload both still show
// them. Without nginx the test fails saying how to install it (as root on
// Debian it installs Debian's package); it never skips.
//
// Run: npm run build && node e2e/nginx.e2e.mjs (scripts/test.sh does both).

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifacts, buildSker, freePort, launchBrowser, log, repoRoot, Sker, waitFor, scenario, status } from './lib.mjs';

const liveMs = 1000; // B must see A's change within this
const foreignOrigin = 'https://elsewhere.example';

const { results, step, assert, seesLive } = scenario(liveMs);

const nodeIds = (page) => page.$$eval('.react-flow__node', (els) => els.map((e) => e.getAttribute('data-id')));
const cardText = (page, id) => page.locator(`[data-testid="card-${id}"] [data-testid="card-text"]`).textContent({ timeout: 500 });
const executable = (p) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** nginx's path; installs Debian's package when it is missing and this is root on Debian, and throws otherwise. */
function findNginx() {
  const find = () => ['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx'].find(executable);
  let p = find();
  if (p) return p;
  const root = process.getuid?.() === 0;
  if (!root || !existsSync('/etc/debian_version') || spawnSync('sh', ['-c', 'command -v apt-get']).status !== 0) {
    throw new Error('nginx is not installed: install Debian\'s package as root (apt-get install -y nginx)');
  }
  log("installing Debian's nginx package");
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', 'nginx']]) {
    const r = spawnSync('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed with ${r.status}`);
  }
  p = find();
  if (!p) throw new Error('apt-get install nginx left no nginx binary');
  return p;
}

/** A self-signed certificate for 127.0.0.1 and its key, in dir. */
function selfSigned(dir) {
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl req -x509 failed (${r.error?.message ?? r.status}): ${r.stderr}`);
}

/** deploy/nginx/sker.conf with one upstream (sker), nginx's ports on 127.0.0.1 and the test's certificate. */
function siteConf(upstream, httpPort, tlsPort, dir) {
  let conf = readFileSync(join(repoRoot, 'deploy', 'nginx', 'sker.conf'), 'utf8');
  const nodes = /^\s*server 10\.0\.0\.1[1-3]:3000 [^;]*;\n/gm;
  const n = conf.match(nodes)?.length ?? 0;
  if (n !== 3) throw new Error(`deploy/nginx/sker.conf: ${n} upstream lines server 10.0.0.1x:3000; want 3`);
  let first = true;
  conf = conf.replace(nodes, () => {
    if (!first) return '';
    first = false;
    return `    server ${upstream} max_fails=3 fail_timeout=10s;\n`;
  });
  for (const [from, to] of [
    ['listen 80;', `listen 127.0.0.1:${httpPort};`],
    ['listen [::]:80;', ''],
    ['listen 443 ssl http2;', `listen 127.0.0.1:${tlsPort} ssl http2;`],
    ['listen [::]:443 ssl http2;', ''],
    ['/etc/ssl/sker/fullchain.pem', join(dir, 'cert.pem')],
    ['/etc/ssl/sker/privkey.pem', join(dir, 'key.pem')],
  ]) {
    const count = conf.split(from).length - 1;
    if (count !== 1) throw new Error(`deploy/nginx/sker.conf: ${JSON.stringify(from)} appears ${count} times; want once`);
    conf = conf.replace(from, to);
  }
  return conf;
}

/** The nginx.conf around the site: every file nginx writes is in dir. */
function mainConf(nginx, dir) {
  let b = process.getuid?.() === 0 ? 'user root;\n' : '';
  b += `worker_processes 1;\npid ${join(dir, 'nginx.pid')};\nerror_log ${join(dir, 'error.log')} warn;\nevents { worker_connections 256; }\nhttp {\n`;
  b += `    access_log ${join(dir, 'access.log')};\n`;
  const v = spawnSync(nginx, ['-V'], { encoding: 'utf8' });
  for (const m of `${v.stdout}${v.stderr}`.matchAll(/--http-([a-z-]+)-temp-path=/g)) {
    const name = m[1].replaceAll('-', '_');
    b += `    ${name}_temp_path ${join(dir, `tmp-${name}`)};\n`;
  }
  return `${b}    include ${join(dir, 'sker.conf')};\n}\n`;
}

/** Resolves once something accepts connections on 127.0.0.1:port. */
function waitListening(port, ms = 10000) {
  return waitFor(`nginx on port ${port}`, () => new Promise((res) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      res(true);
    });
    s.on('error', () => res(false));
  }), ms, 50);
}

async function startNginx(skerURL) {
  const nginx = findNginx();
  const dir = mkdtempSync(join(tmpdir(), 'sker-nginx-'));
  selfSigned(dir);
  const httpPort = await freePort();
  const tlsPort = await freePort();
  writeFileSync(join(dir, 'sker.conf'), siteConf(skerURL.replace(/^http:\/\//, ''), httpPort, tlsPort, dir));
  writeFileSync(join(dir, 'nginx.conf'), mainConf(nginx, dir));
  const args = ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
  const t = spawnSync(nginx, [...args, '-t'], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`nginx -t with deploy/nginx/sker.conf failed:\n${t.stdout}${t.stderr}`);
  const proc = spawn(nginx, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((res) => proc.once('exit', res));
      proc.kill('SIGTERM'); // the master stops its workers before it exits
      await exited;
    }
  };
  try {
    await waitListening(tlsPort);
  } catch (err) {
    await stop();
    throw new Error(`${err.message}\nnginx error.log:\n${readFileSync(join(dir, 'error.log'), 'utf8')}`);
  }
  return {
    url: `https://127.0.0.1:${tlsPort}`,
    dir,
    async close(failed) {
      await stop();
      if (failed && existsSync(join(dir, 'error.log'))) log(`nginx error.log:\n${readFileSync(join(dir, 'error.log'), 'utf8')}`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function register(page, url, name, email) {
  await page.goto(`${url}/register`);
  await page.fill('input[name="name"]', name);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', 'correct horse battery');
  await page.click('[data-testid="auth-submit"]');
  await page.waitForSelector('[data-testid="new-title"]');
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const bin = buildSker();
  const sker = await Sker.start(bin, { TRUST_PROXY: '127.0.0.1', CORS_ORIGIN: foreignOrigin }, { logName: 'sker-nginx.log' });
  let front;
  try {
    front = await startNginx(sker.url);
  } catch (err) {
    await sker.close();
    throw err;
  }
  const base = front.url;
  log(`nginx on ${base} in front of sker on ${sker.url} (CORS_ORIGIN=${foreignOrigin})`);
  let browser;
  try {
    browser = await launchBrowser();
  } catch (err) {
    await front.close(false);
    await sker.close();
    throw err;
  }
  const pages = {};
  const sockets = { A: [], B: [] };
  for (const who of ['A', 'B']) {
    const ctx = await browser.newContext({ locale: 'en-US', ignoreHTTPSErrors: true });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => log(`${who} page error: ${e.message}`));
    p.on('console', (m) => m.type() === 'error' && log(`${who} console: ${m.text()}`));
    p.on('websocket', (ws) => sockets[who].push(ws.url()));
    pages[who] = p;
  }
  const { A: a, B: b } = pages;
  let canvasId = '';
  let card = '';
  let failed = false;
  try {
    await step('A and B sign up in the studio through nginx over HTTPS', async () => {
      const res = await b.goto(`${base}/register`);
      const h = await res.allHeaders();
      assert(res.status() === 200 && h['strict-transport-security']?.includes('max-age='), `GET /register through nginx: ${res.status()} ${JSON.stringify(h)}`);
      const proto = await b.evaluate(() => performance.getEntriesByType('navigation')[0]?.nextHopProtocol);
      log(`      the page came over ${proto}`);
      assert(proto === 'h2', `the studio came over ${proto}; want h2 (nginx's listen … ssl http2)`);
      await register(b, base, 'Bo Builder', 'bo@example.com');
      await register(a, base, 'Ada Author', 'ada@example.com');
    });

    await step("A creates a canvas and shares it with B; both go online through nginx's /ws although CORS_ORIGIN is foreign", async () => {
      await a.fill('[data-testid="new-title"]', 'Behind nginx');
      await a.click('[data-testid="create"]');
      await a.waitForURL(/\/c\//);
      canvasId = a.url().split('/c/')[1];
      await waitFor('A connected', async () => (await status(a)) === 'connected', 10000);
      await a.click('text=Share');
      await a.fill('[data-testid="share-email"]', 'bo@example.com');
      await a.selectOption('[data-testid="share-role"]', 'editor');
      await a.click('[data-testid="share-add"]');
      await a.waitForSelector('[data-testid="member"] >> text=bo@example.com');
      await a.keyboard.press('Escape');
      await b.goto(`${base}/c/${canvasId}`);
      await b.waitForSelector('.react-flow__pane');
      await waitFor('B connected', async () => (await status(b)) === 'connected', 10000);
      for (const who of ['A', 'B']) {
        const want = `wss://127.0.0.1:${new URL(base).port}/ws`;
        assert(sockets[who].length > 0 && sockets[who].every((u) => u.startsWith(want)), `${who}'s WebSockets: ${JSON.stringify(sockets[who])}; want ${want}`);
      }
    });

    await step('A adds a card and types in it; B sees both live through nginx', async () => {
      await a.click('[data-testid="add-text"]');
      card = (await waitFor('A card', async () => (await nodeIds(a))[0])).value;
      await seesLive('B', 'the new card', async () => (await nodeIds(b)).includes(card));
      await a.dblclick(`[data-testid="card-${card}"] [data-testid="card-text"]`);
      await a.keyboard.type('Hello through nginx', { delay: 15 });
      await seesLive('B', 'the text', async () => (await cardText(b, card)) === 'Hello through nginx');
      await a.keyboard.press('Escape');
      await b.screenshot({ path: join(artifacts, 'nginx-b.png') });
    });

    await step('after a reload A and B still show the card, online again', async () => {
      await a.reload();
      await b.reload();
      for (const [who, p] of [['A', a], ['B', b]]) {
        await waitFor(`${who} connected after reload`, async () => (await status(p)) === 'connected', 10000);
        await waitFor(`${who}: the card after reload`, async () => (await cardText(p, card)) === 'Hello through nginx', 8000);
      }
    });
  } catch {
    failed = true;
    for (const [who, p] of Object.entries(pages)) await p.screenshot({ path: join(artifacts, `nginx-failure-${who}.png`) }).catch(() => {});
  } finally {
    await browser.close().catch(() => {});
    await front.close(failed);
    await sker.close();
  }
  const passed = results.filter((r) => r.ok).length;
  const fails = results.filter((r) => !r.ok).length;
  console.log(`nginx e2e: ${passed} passed, ${fails} failed`);
  process.exit(fails || passed === 0 ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  console.log('nginx e2e: 0 passed, 1 failed');
  process.exit(1);
});
