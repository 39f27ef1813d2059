// Studio performance on a canvas of 2,000 cards and 2,000 edges: time to
// first render, frames per second while panning, memory of the tab, and
// the production bundle size (gzip). Prints a Markdown table for
// docs/performance.md ("Studio").
//
// Run: npm run build && node e2e/perf.mjs   (SKER_BIN=… to skip the Go build)

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildSker, launchBrowser, log, repoRoot, Sker, sleep } from './lib.mjs';

const N = Number(process.env.PERF_NODES ?? 2000);
const E = Number(process.env.PERF_EDGES ?? 2000);

function bundleSize() {
  const dir = join(repoRoot, 'ui', 'dist', 'app', 'assets');
  let raw = 0;
  let gz = 0;
  const files = [];
  for (const f of readdirSync(dir)) {
    const data = readFileSync(join(dir, f));
    const g = gzipSync(data, { level: 6 }).length;
    raw += statSync(join(dir, f)).size;
    gz += g;
    files.push({ f, raw: data.length, gz: g });
  }
  const index = readFileSync(join(repoRoot, 'ui', 'dist', 'app', 'index.html'));
  return { raw: raw + index.length, gz: gz + gzipSync(index).length, files };
}

async function seed(sker) {
  const s = await sker.api('POST', '/auth/register', { email: 'perf@example.com', password: 'perf-password', name: 'Perf' });
  const token = s.access_token;
  const c = await sker.api('POST', '/canvases', { title: `${N} cards` }, token);
  const ops = [];
  const cols = Math.ceil(Math.sqrt(N * 1.6));
  const kinds = ['text', 'note', 'ai'];
  for (let i = 0; i < N; i++) {
    ops.push({
      op: 'node.add',
      id: `n${i}`,
      kind: kinds[i % 3],
      x: (i % cols) * 300,
      y: Math.floor(i / cols) * 180,
      w: 240,
      h: 120,
      data: { [i % 3 === 2 ? 'prompt' : 'text']: `Card ${i}: some words to render in the card body` },
    });
  }
  for (let i = 0; i < E; i++) {
    const src = i % N;
    const dst = i < N ? (i + 1) % N : (i * 7 + 3) % N;
    if (src !== dst) ops.push({ op: 'edge.add', id: `e${i}`, source: `n${src}`, target: `n${dst}` });
  }
  for (let i = 0; i < ops.length; i += 500) {
    await sker.api('POST', `/canvases/${c.id}/ops`, { ops: ops.slice(i, i + 500) }, token);
  }
  return { session: s, canvasId: c.id };
}

function rendererRSS() {
  try {
    const out = execFileSync('ps', ['-eo', 'rss,args'], { encoding: 'utf8' });
    const rss = out
      .split('\n')
      .filter((l) => l.includes('--type=renderer') && !l.includes('--extension-process'))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
    return Math.max(0, ...rss) * 1024;
  } catch {
    return 0;
  }
}

async function measurePan(page, { durationMs = 3000, dx = 400 }) {
  await page.evaluate(() => {
    window.__frames = [];
    const tick = (t) => {
      window.__frames.push(t);
      if (window.__frames.length < 100000 && !window.__stop) requestAnimationFrame(tick);
    };
    window.__stop = false;
    requestAnimationFrame(tick);
  });
  const box = await page.locator('.react-flow__pane').boundingBox();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const t0 = Date.now();
  let dir = 1;
  while (Date.now() - t0 < durationMs) {
    await page.mouse.move(cx - (dir * dx) / 2, cy);
    await page.mouse.down();
    await page.mouse.move(cx + (dir * dx) / 2, cy + 40 * dir, { steps: 30 });
    await page.mouse.up();
    dir = -dir;
  }
  const frames = await page.evaluate(() => {
    window.__stop = true;
    return window.__frames;
  });
  const span = (frames[frames.length - 1] - frames[0]) / 1000;
  const gaps = frames.slice(1).map((t, i) => t - frames[i]).sort((a, b) => a - b);
  return { fps: (frames.length - 1) / span, p95FrameMs: gaps[Math.floor(gaps.length * 0.95)] ?? 0 };
}

async function main() {
  const bundle = bundleSize();
  const bin = buildSker();
  const sker = await Sker.start(bin);
  try {
    log(`seeding ${N} cards and ${E} edges`);
    const { session, canvasId } = await seed(sker);
    const browser = await launchBrowser();
    const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await ctx.newPage();
    await page.goto(`${sker.url}/login`);
    await page.evaluate(
      (s) =>
        localStorage.setItem(
          'sker.session',
          JSON.stringify({ user: s.user, accessToken: s.access_token, refreshToken: s.refresh_token, expiresAt: Date.now() + s.expires_in * 1000 }),
        ),
      session,
    );
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Performance.enable');

    const runs = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(`${sker.url}/c/${canvasId}`);
      await page.waitForFunction((n) => document.querySelectorAll('.react-flow__node').length >= Math.min(n, 50), N, { polling: 'raf', timeout: 60000 });
      const firstRender = await page.evaluate(() => performance.now());
      await page.waitForFunction(() => document.querySelector('[data-testid="status"]')?.getAttribute('data-status') === 'connected');
      runs.push(firstRender);
      log(`run ${i + 1}: first render with cards after ${firstRender.toFixed(0)} ms`);
    }
    await sleep(1000);
    const rendered = await page.evaluate(() => document.querySelectorAll('.react-flow__node').length);
    const edgesRendered = await page.evaluate(() => document.querySelectorAll('.react-flow__edge').length);
    const fitPan = await measurePan(page, {});
    log(`pan, whole canvas in view (${rendered} cards, ${edgesRendered} edges in the DOM): ${fitPan.fps.toFixed(1)} fps`);
    // Zoom 1: the usual working view; off-screen cards are not rendered.
    await page.evaluate(() => document.querySelector('.react-flow__controls-zoomin'));
    for (let i = 0; i < 12; i++) await page.click('.react-flow__controls-zoomin');
    await sleep(500);
    const renderedZoomed = await page.evaluate(() => document.querySelectorAll('.react-flow__node').length);
    const zoomPan = await measurePan(page, {});
    log(`pan, zoomed in (${renderedZoomed} cards in the DOM): ${zoomPan.fps.toFixed(1)} fps`);
    await cdp.send('HeapProfiler.collectGarbage').catch(() => {});
    const { metrics } = await cdp.send('Performance.getMetrics');
    const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
    const rss = rendererRSS();
    await browser.close();

    const mb = (b) => `${(b / 1024 / 1024).toFixed(1)} MB`;
    const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;
    const median = [...runs].sort((a, b) => a - b)[1];
    console.log('\n| measure | result |\n| --- | --- |');
    console.log(`| canvas | ${N} cards, ${E} edges |`);
    console.log(`| time to first render (navigation start → cards on screen; median of 3 loads) | ${median.toFixed(0)} ms (runs: ${runs.map((r) => r.toFixed(0)).join(', ')}) |`);
    console.log(`| fps while panning, whole canvas in view (${rendered} cards in the DOM) | ${fitPan.fps.toFixed(1)} (p95 frame ${fitPan.p95FrameMs.toFixed(1)} ms) |`);
    console.log(`| fps while panning at working zoom (${renderedZoomed} cards in the DOM) | ${zoomPan.fps.toFixed(1)} (p95 frame ${zoomPan.p95FrameMs.toFixed(1)} ms) |`);
    console.log(`| tab memory: JS heap used / total | ${mb(m.JSHeapUsedSize)} / ${mb(m.JSHeapTotalSize)} |`);
    console.log(`| tab memory: renderer process RSS | ${rss ? mb(rss) : 'n/a'} |`);
    console.log(`| DOM nodes | ${m.Nodes} |`);
    console.log(`| production bundle (all of ui/dist/app) | ${kb(bundle.raw)} raw, ${kb(bundle.gz)} gzip |`);
    for (const f of bundle.files) console.log(`| · ${f.f} | ${kb(f.raw)} raw, ${kb(f.gz)} gzip |`);
  } finally {
    await sker.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
