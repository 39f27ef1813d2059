// Version history in the studio, in a real browser against the real binary.
//
// A user (Ada) and a colleague (Bo, an editor) are on one canvas. Ada
// writes two cards and names the version "First draft" from the History
// panel, then changes one card, deletes the other and adds a third. She
// previews "First draft": the canvas shows the old content under a
// read-only banner, with the changed, removed and added cards outlined;
// Bo's edit meanwhile does not show over the preview, and "Back to live"
// shows it at once. Ada restores the version while Bo watches: Bo's page
// shows the restored content without a reload. Ctrl+Z at Ada's undoes the
// restore for both. The scrubber previews seq 0; as a viewer, Bo may
// preview but gets no Name or Restore, and the server refuses both (403).
// Screenshots go to test-artifacts/e2e/.
//
// Run: npm run build && node e2e/history.e2e.mjs (scripts/test.sh does both).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, buildSker, launchBrowser, log, Sker, waitFor, scenario, register, accessToken, status, openCanvas } from './lib.mjs';

const liveMs = 1000; // Bo must see Ada's change within this

const { results, step, assert, seesLive } = scenario(liveMs);

const nodeIds = (page) => page.$$eval('.react-flow__node', (els) => els.map((e) => e.getAttribute('data-id')));
const cardText = (page, id) => page.locator(`[data-testid="card-${id}"] [data-testid="card-text"]`).first().textContent({ timeout: 500 });
const nodeClass = (page, id) => page.getAttribute(`.react-flow__node[data-id="${id}"]`, 'class', { timeout: 500 });
const pending = async (page) => Number(await page.getAttribute('[data-testid="status"]', 'data-pending'));
const banner = (page) => page.locator('[data-testid="history-banner"]');

/** Waits until every change of page is committed. */
async function synced(page) {
  await waitFor('no change waiting', async () => (await status(page)) === 'connected' && (await pending(page)) === 0, 5000);
}

/** Adds a text card by a double click on the canvas at (x, y) and writes in it; returns its id. */
async function addCard(page, x, y, text) {
  const before = await nodeIds(page);
  await page.dblclick('.react-flow__pane', { position: { x, y } });
  const { value: id } = await waitFor('the new card', async () => (await nodeIds(page)).find((x) => !before.includes(x)));
  await page.dblclick(`[data-testid="card-${id}"] [data-testid="card-text"]`);
  await page.keyboard.type(text, { delay: 5 });
  await page.keyboard.press('Escape');
  await synced(page);
  return id;
}

async function setText(page, id, text) {
  await page.dblclick(`[data-testid="card-${id}"] [data-testid="card-text"]`);
  await page.keyboard.press('Control+A');
  await page.keyboard.type(text, { delay: 5 });
  await page.keyboard.press('Escape');
  await synced(page);
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const bin = buildSker();
  // The browser first: without one, no sker is left running.
  const browser = await launchBrowser();
  const sker = await Sker.start(bin, {}, { logName: 'sker-history.log' });
  const base = sker.url;
  log(`sker on ${base}, data in ${sker.dataDir}`);
  const ctxA = await browser.newContext({ locale: 'en-US', viewport: { width: 1400, height: 850 } });
  const ctxB = await browser.newContext({ locale: 'en-US', viewport: { width: 1400, height: 850 } });
  const a = await ctxA.newPage();
  const b = await ctxB.newPage();
  for (const [who, p] of [['Ada', a], ['Bo', b]]) {
    p.on('pageerror', (e) => log(`${who} page error: ${e.message}`));
    p.on('console', (m) => m.type() === 'error' && log(`${who} console: ${m.text()}`));
  }
  let canvasId = '';
  let card1 = '';
  let card2 = '';
  let card3 = '';
  let namedSeq = -1;
  const shot = (p, name) => p.screenshot({ path: join(artifacts, name) });
  try {
    await step('Ada and Bo register; Ada creates a canvas and shares it with Bo as editor', async () => {
      await register(b, base, 'Bo Builder', 'bo@example.com');
      await register(a, base, 'Ada Author', 'ada@example.com');
      await a.fill('[data-testid="new-title"]', 'History plan');
      await a.click('[data-testid="create"]');
      await a.waitForURL(/\/c\//);
      canvasId = a.url().split('/c/')[1];
      await waitFor('Ada connected', async () => (await status(a)) === 'connected', 10000);
      await sker.api('POST', `/canvases/${canvasId}/members`, { email: 'bo@example.com', role: 'editor' }, await accessToken(a));
      await openCanvas(b, base, canvasId);
    });

    await step('Ada writes two cards; Bo sees them', async () => {
      card1 = await addCard(a, 250, 200, 'Version one');
      card2 = await addCard(a, 650, 200, 'Keep me');
      await seesLive('Bo', 'both cards', async () => (await cardText(b, card1)) === 'Version one' && (await cardText(b, card2)) === 'Keep me');
    });

    await step('Ada names the version "First draft" in the History panel', async () => {
      await a.click('[data-testid="history-toggle"]');
      await a.waitForSelector('[data-testid="history-panel"]');
      await a.fill('[data-testid="version-name"]', 'First draft');
      await a.click('[data-testid="name-version"]');
      const entry = a.locator('[data-testid="history-entry"][data-kind="named"]', { hasText: 'First draft' });
      await entry.waitFor({ timeout: 5000 });
      namedSeq = Number(await entry.getAttribute('data-seq'));
      const text = await entry.textContent();
      assert(text.includes('Ada Author'), `the entry does not name its author: ${JSON.stringify(text)}`);
      assert(namedSeq > 0, `named at seq ${namedSeq}`);
      assert((await a.locator('[data-testid="history-notice"]').textContent()).length > 0, 'no notice after naming');
      await a.click('[data-testid="history-toggle"]');
      await a.locator('[data-testid="history-panel"]').waitFor({ state: 'detached' });
    });

    await step('Ada changes the first card, deletes the second and adds a third', async () => {
      await setText(a, card1, 'Changed later');
      await a.click(`[data-testid="card-${card2}"] .card-kind`);
      await a.keyboard.press('Delete');
      await synced(a);
      card3 = await addCard(a, 450, 450, 'Added later');
      await seesLive('Bo', 'the later changes', async () => {
        const ids = await nodeIds(b);
        return !ids.includes(card2) && ids.includes(card3) && (await cardText(b, card1)) === 'Changed later';
      });
    });

    await step('Ada previews "First draft": the old content, read-only, with what changed outlined', async () => {
      await a.click('[data-testid="history-toggle"]');
      const entry = a.locator('[data-testid="history-entry"][data-kind="named"]', { hasText: 'First draft' });
      await entry.click();
      await banner(a).waitFor({ timeout: 5000 });
      const text = await banner(a).textContent();
      assert(/Viewing version of .+ — read-only/.test(text), `banner says ${JSON.stringify(text)}`);
      assert(Number(await banner(a).getAttribute('data-seq')) === namedSeq, 'the banner is for another seq');
      await waitFor('the old content', async () => (await cardText(a, card1)) === 'Version one' && (await cardText(a, card2)) === 'Keep me');
      await waitFor('the outlines', async () => {
        const [c1, c2, c3] = await Promise.all([nodeClass(a, card1), nodeClass(a, card2), nodeClass(a, card3)]);
        return c1.includes('diff-changed') && c2.includes('diff-removed') && c3.includes('diff-added') && c3.includes('is-ghost');
      });
      const legend = await a.$$eval('[data-testid="history-legend"] li[data-mark]', (els) => els.map((e) => [e.dataset.mark, e.dataset.count]));
      assert(JSON.stringify(legend) === JSON.stringify([['added', '1'], ['removed', '1'], ['changed', '1']]), `legend ${JSON.stringify(legend)}`);
      for (const btn of ['add-text', 'add-note', 'delete', 'undo']) assert(await a.isDisabled(`[data-testid="${btn}"]`), `${btn} is enabled in the preview`);
      // No editing in place either.
      await a.dblclick(`[data-testid="card-${card1}"] [data-testid="card-text"]`);
      assert((await a.locator(`[data-testid="card-${card1}"] textarea`).count()) === 0, 'the preview opened a text editor');
      await shot(a, 'history-preview.png');
    });

    await step("Bo's edit meanwhile stays off the preview; Back to live shows it at once", async () => {
      await setText(b, card1, 'Bo live edit');
      await waitFor('Ada to get the diff again', async () => (await a.locator('[data-testid="history-legend"]').count()) === 1, 3000);
      // Give Bo's change time to reach Ada: it must not show over the preview.
      await a.waitForTimeout(600);
      assert((await cardText(a, card1)) === 'Version one', `the preview shows ${JSON.stringify(await cardText(a, card1))}`);
      const t0 = Date.now();
      await a.click('[data-testid="back-to-live"]');
      await waitFor('the live canvas at Ada', async () => (await cardText(a, card1)) === 'Bo live edit', 1000);
      log(`      Ada saw the live canvas ${Date.now() - t0} ms after Back to live`);
      assert((await banner(a).count()) === 0, 'the banner stayed');
      assert(!(await nodeIds(a)).includes(card2), 'the live canvas shows the deleted card');
      assert(!(await a.isDisabled('[data-testid="add-text"]')), 'editing stayed off');
    });

    await step('Ada restores "First draft" while Bo watches: Bo sees it without a reload', async () => {
      await a.locator('[data-testid="history-entry"][data-kind="named"]', { hasText: 'First draft' }).click();
      await a.locator('[data-testid="restore-version"]').waitFor();
      await waitFor('the old content', async () => (await cardText(a, card1)) === 'Version one');
      await a.click('[data-testid="restore-version"]');
      await seesLive('Bo', 'the restored version', async () => {
        const ids = await nodeIds(b);
        return !ids.includes(card3) && ids.includes(card2) && (await cardText(b, card1)) === 'Version one' && (await cardText(b, card2)) === 'Keep me';
      });
      await waitFor('Ada back on the live canvas', async () => (await banner(a).count()) === 0 && (await a.locator('[data-testid="history-notice"]').count()) === 1, 5000);
      assert((await cardText(a, card1)) === 'Version one' && !(await nodeIds(a)).includes(card3), "Ada's live canvas is not the restored one");
      const snap = await sker.api('GET', `/canvases/${canvasId}`, undefined, await accessToken(a));
      const texts = snap.nodes.map((n) => n.data.text).sort();
      assert(JSON.stringify(texts) === JSON.stringify(['Keep me', 'Version one']), `the server holds ${JSON.stringify(texts)}`);
      await shot(a, 'history-restored-user.png');
      await shot(b, 'history-restored-colleague.png');
    });

    await step('Ctrl+Z undoes the restore for both', async () => {
      await a.click('.react-flow__pane', { position: { x: 5, y: 5 } });
      await a.keyboard.press('Control+Z');
      await seesLive('Bo', 'the state before the restore', async () => {
        const ids = await nodeIds(b);
        return !ids.includes(card2) && ids.includes(card3) && (await cardText(b, card1)) === 'Bo live edit' && (await cardText(b, card3)) === 'Added later';
      });
      await waitFor('Ada to see it too', async () => (await cardText(a, card1)) === 'Bo live edit' && !(await nodeIds(a)).includes(card2), 2000);
      await synced(a);
      await shot(b, 'history-undone-colleague.png');
    });

    await step('the scrubber previews seq 0: the empty canvas, read-only', async () => {
      // Home takes a range input to its least value, as a person would.
      await a.focus('[data-testid="history-scrubber"]');
      await a.keyboard.press('Home');
      await waitFor('the banner at seq 0', async () => (await banner(a).getAttribute('data-seq', { timeout: 200 })) === '0', 5000);
      const text = await banner(a).textContent();
      // Seq 0 is a kept point (the canvas as created), shown by its time.
      assert(/^Viewing version of .+ — read-only/.test(text), `banner says ${JSON.stringify(text)}`);
      await waitFor('only ghosts', async () => {
        const classes = await a.$$eval('.react-flow__node', (els) => els.map((e) => e.className));
        return classes.length === 2 && classes.every((c) => c.includes('is-ghost'));
      });
      await a.click('[data-testid="banner-back-to-live"]');
      await waitFor('the live canvas', async () => (await banner(a).count()) === 0 && (await nodeIds(a)).length === 2);
    });

    await step('the panel speaks 简体中文', async () => {
      await a.selectOption('[data-testid="language"]', 'zh-CN');
      await a.waitForSelector('[data-testid="history-panel"] >> text=版本历史');
      await a.waitForSelector('[data-testid="history-entry"] >> text=First draft');
      await shot(a, 'history-panel-zh.png');
      await a.selectOption('[data-testid="language"]', 'en');
    });

    await step('a viewer may preview but not name or restore; the server refuses both', async () => {
      const token = await accessToken(a);
      const bo = (await sker.api('GET', `/canvases/${canvasId}/members`, undefined, token)).members.find((m) => m.email === 'bo@example.com');
      await sker.api('PATCH', `/canvases/${canvasId}/members/${bo.user_id}`, { role: 'viewer' }, token);
      await openCanvas(b, base, canvasId);
      await b.click('[data-testid="history-toggle"]');
      await b.locator('[data-testid="history-viewer-hint"]').waitFor();
      assert((await b.locator('[data-testid="version-name"]').count()) === 0, 'a viewer can name a version');
      await b.locator('[data-testid="history-entry"][data-kind="named"]', { hasText: 'First draft' }).click();
      await banner(b).waitFor({ timeout: 5000 });
      await waitFor('the old content at Bo', async () => (await cardText(b, card1)) === 'Version one');
      assert((await b.locator('[data-testid="restore-version"]').count()) === 0, 'a viewer can restore');
      const tokenB = await accessToken(b);
      for (const [path, body] of [
        ['versions', { name: 'Mine' }],
        ['restore', { seq: namedSeq }],
      ]) {
        const r = await fetch(`${base}/api/v1/canvases/${canvasId}/${path}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tokenB}` },
          body: JSON.stringify(body),
        });
        assert(r.status === 403, `POST ${path} as a viewer: ${r.status}; want 403`);
      }
      await shot(b, 'history-viewer.png');
    });
  } catch {
    for (const [who, p] of [['user', a], ['colleague', b]]) await shot(p, `history-failure-${who}.png`).catch(() => {});
  } finally {
    await browser.close().catch(() => {});
    await sker.close();
  }
  const passed = results.filter((r) => r.ok).length;
  const fails = results.filter((r) => !r.ok).length;
  console.log(`history e2e: ${passed} passed, ${fails} failed`);
  process.exit(results.some((r) => !r.ok) ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  console.log('history e2e: 0 passed, 1 failed');
  process.exit(1);
});
