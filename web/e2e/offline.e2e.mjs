// Offline editing in the studio, end to end, in a real browser against the
// real binary (docs/offline.md).
//
// A and B (two browser contexts) are on one canvas with three cards. The
// server stops; A adds two cards and changes the text of a third, reloads
// the page while the server is still down, and sees the canvas with those
// edits from the device's copy and "Offline · 3 changes waiting". The
// server starts again on the same data: A's three batches are committed
// exactly once (the history holds each of them once, the seq moved by
// three) and B sees them live without a reload. Then A's browser goes
// offline, A edits a card that B deletes meanwhile; back online, the
// server refuses A's batch and A sees it rolled back with the message.
// Signing out clears what the device kept. Screenshots go to
// test-artifacts/e2e/.
//
// Run: npm run build && node e2e/offline.e2e.mjs (scripts/test.sh does both).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, buildSker, launchBrowser, log, Sker, waitFor, scenario } from './lib.mjs';

const { results, step, assert, seesLive } = scenario(1000);

const nodeIds = (page) => page.$$eval('.react-flow__node', (els) => els.map((e) => e.getAttribute('data-id')));
const cardText = (page, id) => page.locator(`[data-testid="card-${id}"] [data-testid="card-text"]`).textContent({ timeout: 500 });
const status = (page) => page.getAttribute('[data-testid="status"]', 'data-status');
const pending = async (page) => Number(await page.getAttribute('[data-testid="status"]', 'data-pending'));

async function register(page, base, name, email) {
  await page.goto(`${base}/register`);
  await page.fill('input[name="name"]', name);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', 'correct horse battery');
  await page.click('[data-testid="auth-submit"]');
  await page.waitForSelector('[data-testid="new-title"]');
}

async function accessToken(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('sker.session')).accessToken);
}

async function openCanvas(page, base, id) {
  await page.goto(`${base}/c/${id}`);
  await page.waitForSelector('.react-flow__pane');
  await waitFor('connected', async () => (await status(page)) === 'connected', 10000);
}

/** What the page's IndexedDB holds: the kept seq of a canvas and the cbids waiting (null: nothing kept). */
function kept(page, canvasId) {
  return page.evaluate(
    (canvas) =>
      new Promise((resolve, reject) => {
        const req = indexedDB.open('sker-offline');
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const db = req.result;
          if (!db.objectStoreNames.contains('snapshots')) return resolve({ records: 0, seq: null, pending: null });
          const t = db.transaction(['snapshots', 'pending'], 'readonly');
          const all = t.objectStore('snapshots').getAllKeys();
          let snap;
          let pend;
          const user = JSON.parse(localStorage.getItem('sker.session') ?? 'null')?.user?.id ?? '';
          if (user) {
            const s = t.objectStore('snapshots').get([user, canvas]);
            s.onsuccess = () => (snap = s.result);
            const p = t.objectStore('pending').get([user, canvas]);
            p.onsuccess = () => (pend = p.result);
          }
          t.oncomplete = () => resolve({ records: all.result.length, seq: snap ? snap.seq : null, pending: pend ? pend.map((b) => b.cbid) : null });
          t.onerror = () => reject(t.error);
        };
      }),
    canvasId,
  );
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const bin = buildSker();
  const sker = await Sker.start(bin, {}, { logName: 'sker-offline.log' });
  const base = sker.url;
  log(`sker on ${base}, data in ${sker.dataDir}`);
  const browser = await launchBrowser();
  const ctxA = await browser.newContext({ locale: 'en-US' });
  const ctxB = await browser.newContext({ locale: 'en-US' });
  const a = await ctxA.newPage();
  const b = await ctxB.newPage();
  for (const [who, p] of [['A', a], ['B', b]]) {
    p.on('pageerror', (e) => log(`${who} page error: ${e.message}`));
  }
  let canvasId = '';
  let tokenA = '';
  let tokenB = '';
  let seqBefore = 0;
  const added = [];
  try {
    await step('A and B are on one canvas with three cards', async () => {
      await register(b, base, 'Bo Builder', 'bo@example.com');
      await register(a, base, 'Ada Author', 'ada@example.com');
      tokenA = await accessToken(a);
      tokenB = await accessToken(b);
      const c = await sker.api('POST', '/canvases', { title: 'Field notes' }, tokenA);
      canvasId = c.id;
      await sker.api(
        'POST',
        `/canvases/${canvasId}/ops`,
        {
          ops: [
            { op: 'node.add', id: 'c1', kind: 'text', x: 0, y: 0, data: { text: 'Stays as it is' } },
            { op: 'node.add', id: 'c2', kind: 'text', x: 300, y: 0, data: { text: 'Change me' } },
            { op: 'node.add', id: 'c3', kind: 'note', x: 600, y: 0, data: { text: 'Bo deletes this' } },
          ],
        },
        tokenA,
      );
      await sker.api('POST', `/canvases/${canvasId}/members`, { email: 'bo@example.com', role: 'editor' }, tokenA);
      await openCanvas(a, base, canvasId);
      await openCanvas(b, base, canvasId);
      for (const p of [a, b]) await p.waitForSelector('[data-testid="card-c3"]');
    });

    await step("A's studio keeps its shell and the canvas on the device", async () => {
      const { ms } = await waitFor('the service worker in control at A', () => a.evaluate(() => navigator.serviceWorker.controller !== null), 10000);
      log(`      the service worker controls A's page after ${ms} ms`);
      seqBefore = (await sker.api('GET', `/canvases/${canvasId}`, undefined, tokenA)).seq;
      await waitFor('A to keep the canvas at the current seq', async () => (await kept(a, canvasId)).seq === seqBefore, 5000);
      const cache = await a.evaluate(async () => {
        const keys = await (await caches.open('sker-shell-v1')).keys();
        return keys.map((r) => new URL(r.url).pathname);
      });
      assert(cache.includes('/index.html') && cache.some((p) => p.startsWith('/assets/') && p.endsWith('.js')), `the shell cache holds ${JSON.stringify(cache)}`);
      assert(!cache.some((p) => p.startsWith('/api') || p.startsWith('/ws')), `the shell cache holds API answers: ${JSON.stringify(cache)}`);
    });

    await step('the server stops; A adds two cards and changes a third', async () => {
      await sker.stop();
      await waitFor('A to notice', async () => ['reconnecting', 'offline'].includes(await status(a)), 10000);
      await a.click('[data-testid="add-text"]');
      await a.click('.react-flow__pane', { position: { x: 5, y: 5 } });
      await a.click('[data-testid="add-note"]');
      await a.click('.react-flow__pane', { position: { x: 5, y: 5 } });
      const ids = await waitFor('two new cards at A', async () => {
        const ids = (await nodeIds(a)).filter((id) => !['c1', 'c2', 'c3'].includes(id));
        return ids.length === 2 && ids;
      });
      added.push(...ids.value);
      await a.dblclick('[data-testid="card-c2"] [data-testid="card-text"]');
      await a.keyboard.press('Control+A');
      await a.keyboard.insertText('Changed offline');
      await a.keyboard.press('Escape');
      await waitFor('3 changes waiting at A', async () => (await pending(a)) === 3, 5000);
      // Written at once: the device holds the three batches already.
      await waitFor('A to keep the 3 batches', async () => (await kept(a, canvasId)).pending?.length === 3, 2000);
      await a.screenshot({ path: join(artifacts, 'offline-a-before-reload.png') });
    });

    await step('A reloads while the server is down and sees the canvas with the edits, offline, 3 changes waiting', async () => {
      await a.reload({ waitUntil: 'domcontentloaded' });
      await a.waitForSelector('.react-flow__pane', { timeout: 10000 });
      const ids = await nodeIds(a);
      for (const id of ['c1', 'c2', 'c3', ...added]) assert(ids.includes(id), `A's reloaded canvas lacks ${id}: ${JSON.stringify(ids)}`);
      assert((await cardText(a, 'c2')) === 'Changed offline', `c2 reads ${JSON.stringify(await cardText(a, 'c2'))}`);
      assert((await a.getAttribute('[data-testid="status"]', 'data-local')) === 'true', 'the reloaded canvas is not marked as the saved copy');
      const { ms } = await waitFor('offline at A', async () => (await status(a)) === 'offline' && (await pending(a)) === 3, 10000);
      log(`      A says offline after ${ms} ms`);
      const shown = await a.locator('[data-testid="status"]').textContent();
      assert(/Offline · 3 changes waiting/.test(shown), `status says ${JSON.stringify(shown)}`);
      await a.screenshot({ path: join(artifacts, 'offline-a-reloaded.png') });
    });

    await step("the server starts again: A's edits are committed exactly once and B sees them live", async () => {
      await sker.start();
      await waitFor('A connected with nothing waiting', async () => (await status(a)) === 'connected' && (await pending(a)) === 0, 20000);
      assert((await a.getAttribute('[data-testid="status"]', 'data-local')) === null, 'A still says saved copy once joined');
      const { ms } = await waitFor("B to see A's cards", async () => {
        const ids = await nodeIds(b);
        return added.every((id) => ids.includes(id)) && (await cardText(b, 'c2')) === 'Changed offline';
      }, 20000);
      log(`      B saw A's offline edits ${ms} ms after A was synced (B reconnects on its own backoff)`);
      const h = await sker.api('GET', `/canvases/${canvasId}/history?since=${seqBefore}`, undefined, tokenA);
      assert(h.seq === seqBefore + 3, `seq went from ${seqBefore} to ${h.seq}; want +3`);
      assert(h.batches.length === 3, `history since ${seqBefore} holds ${h.batches.length} batches; want 3`);
      const cbids = new Set(h.batches.map((x) => x.cbid));
      assert(cbids.size === 3 && !cbids.has(undefined), `cbids ${JSON.stringify([...cbids])}`);
      for (const id of added) {
        const adds = h.batches.flatMap((x) => x.ops).filter((op) => op.op === 'node.add' && op.id === id);
        assert(adds.length === 1, `card ${id} added ${adds.length} times`);
      }
      const snap = await sker.api('GET', `/canvases/${canvasId}`, undefined, tokenA);
      assert(snap.nodes.length === 5, `the canvas holds ${snap.nodes.length} cards; want 5`);
      assert(snap.nodes.find((n) => n.id === 'c2')?.data.text === 'Changed offline', 'c2 is not changed on the server');
      await waitFor('A to keep nothing waiting', async () => {
        const k = await kept(a, canvasId);
        return k.pending?.length === 0 && k.seq === seqBefore + 3;
      }, 5000);
      await b.screenshot({ path: join(artifacts, 'offline-b-after.png') });
    });

    await step('A edits a card offline that B deletes meanwhile: back online, the batch is rolled back with the message', async () => {
      // The browser's offline mode leaves an open socket alone: the server
      // restarts while A's browser is offline, so A's next socket cannot open.
      await ctxA.setOffline(true);
      await sker.stop();
      await waitFor('A offline', async () => (await status(a)) === 'offline', 10000);
      await a.dblclick('[data-testid="card-c3"] [data-testid="card-text"]');
      await a.keyboard.press('Control+A');
      await a.keyboard.insertText('Edited while away');
      await a.keyboard.press('Escape');
      await waitFor('1 change waiting at A', async () => (await pending(a)) === 1, 5000);
      await waitFor('A to keep the batch', async () => (await kept(a, canvasId)).pending?.length === 1, 2000);
      await a.reload({ waitUntil: 'domcontentloaded' });
      await a.waitForSelector('[data-testid="card-c3"]', { timeout: 10000 });
      await waitFor('A offline after the reload, 1 waiting', async () => (await status(a)) === 'offline' && (await pending(a)) === 1, 10000);
      assert((await cardText(a, 'c3')) === 'Edited while away', 'A lost its edit in the reload');
      await sker.start();
      await waitFor('B connected again', async () => (await status(b)) === 'connected', 20000);
      const seq = (await sker.api('POST', `/canvases/${canvasId}/ops`, { ops: [{ op: 'node.delete', id: 'c3' }] }, tokenB)).seq;
      await seesLive('B', 'c3 gone', async () => !(await nodeIds(b)).includes('c3'));
      assert((await status(a)) === 'offline', 'A is not offline any more before its browser is back');
      await ctxA.setOffline(false);
      await waitFor('A connected with nothing waiting', async () => (await status(a)) === 'connected' && (await pending(a)) === 0, 20000);
      const toast = a.locator('[data-testid="reject-toast"]');
      await toast.waitFor({ timeout: 5000 });
      const text = await toast.textContent();
      assert(/Your change was undone/.test(text), `the message says ${JSON.stringify(text)}`);
      assert(!(await nodeIds(a)).includes('c3'), 'c3 is still on A');
      await a.screenshot({ path: join(artifacts, 'offline-a-rejected.png') });
      const h = await sker.api('GET', `/canvases/${canvasId}/history?since=${seq}`, undefined, tokenA);
      assert(h.batches.length === 0, `the refused batch is in the history: ${JSON.stringify(h.batches)}`);
      await waitFor('A to keep nothing waiting', async () => (await kept(a, canvasId)).pending?.length === 0, 5000);
    });

    await step('signing out clears what the device kept', async () => {
      assert((await kept(a, canvasId)).records >= 1, 'A keeps nothing before signing out');
      await a.goto(`${base}/`);
      await a.click('text=Sign out');
      await a.waitForURL(/\/login/);
      await waitFor("A's device to keep nothing", async () => (await kept(a, canvasId)).records === 0, 5000);
    });
  } catch {
    for (const [who, p] of [['a', a], ['b', b]]) await p.screenshot({ path: join(artifacts, `offline-failure-${who}.png`) }).catch(() => {});
  } finally {
    await browser.close().catch(() => {});
    await sker.close();
  }
  const passed = results.filter((r) => r.ok).length;
  const fails = results.filter((r) => !r.ok).length;
  console.log(`offline e2e: ${passed} passed, ${fails} failed`);
  process.exit(results.some((r) => !r.ok) ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  console.log('offline e2e: 0 passed, 1 failed');
  process.exit(1);
});
