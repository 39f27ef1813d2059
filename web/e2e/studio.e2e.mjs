// The studio end to end, in a real browser against the real binary.
//
// User A and user B (two browser contexts) open the same canvas; A adds a
// card, types in it, moves it and connects it to a second card; B sees each
// change within 1 s; B edits the text, A sees it; A undoes, B sees the
// undo; the server goes away and comes back, and A's change made meanwhile
// arrives; B, a viewer on another canvas, cannot change it; a reload keeps
// everything; with no AI provider configured, the AI card's model picker
// says so and Run shows the server's error on the card (e2e/ai.e2e.mjs runs
// AI cards against a fake provider). Screenshots go to test-artifacts/e2e/.
//
// Run: npm run build && node e2e/studio.e2e.mjs (scripts/test.sh does both).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, buildSker, launchBrowser, log, Sker, sleep, waitFor, scenario, register, accessToken, status, openCanvas } from './lib.mjs';

const liveMs = 1000; // B must see A's change within this

const { results, step, assert, seesLive } = scenario(liveMs);

const nodeIds = (page) => page.$$eval('.react-flow__node', (els) => els.map((e) => e.getAttribute('data-id')));
const cardText = (page, id) => page.locator(`[data-testid="card-${id}"] [data-testid="card-text"]`).textContent({ timeout: 500 });
const position = (page, id) =>
  page.$eval(`.react-flow__node[data-id="${id}"]`, (el) => {
    const m = /translate\(([-\d.]+)px,\s*([-\d.]+)px\)/.exec(el.style.transform);
    return m ? { x: Number(m[1]), y: Number(m[2]) } : null;
  });
const edgeCount = (page) => page.$$eval('.react-flow__edge', (els) => els.length);
async function main() {
  mkdirSync(artifacts, { recursive: true });
  const bin = buildSker();
  const sker = await Sker.start(bin);
  const base = sker.url;
  log(`sker on ${base}, data in ${sker.dataDir}`);
  const browser = await launchBrowser();
  const ctxA = await browser.newContext({ locale: 'en-US' });
  const ctxB = await browser.newContext({ locale: 'en-US' });
  const a = await ctxA.newPage();
  const b = await ctxB.newPage();
  for (const [who, p] of [['A', a], ['B', b]]) {
    p.on('pageerror', (e) => log(`${who} page error: ${e.message}`));
    p.on('console', (m) => m.type() === 'error' && log(`${who} console: ${m.text()}`));
  }
  let canvasId = '';
  let viewCanvasId = '';
  let card1 = '';
  let card2 = '';
  try {
    await step('A and B register through the UI', async () => {
      await register(b, base, 'Bo Builder', 'bo@example.com');
      await register(a, base, 'Ada Author', 'ada@example.com');
    });

    await step('A creates a canvas and shares it with B as editor', async () => {
      await a.fill('[data-testid="new-title"]', 'Launch plan');
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
    });

    await step("B's list shows the shared canvas with B's role", async () => {
      await b.reload();
      const item = b.locator(`[data-testid="canvas-item"][data-id="${canvasId}"]`);
      await item.waitFor();
      const text = await item.textContent();
      assert(text.includes('Launch plan') && text.includes('Editor') && text.includes('Shared with you'), `got list item ${JSON.stringify(text)}`);
      await openCanvas(b, base, canvasId);
    });

    await step('A adds a card; B sees it live', async () => {
      await a.click('[data-testid="add-text"]');
      const ids = await waitFor('A card', async () => {
        const ids = await nodeIds(a);
        return ids.length === 1 && ids;
      });
      card1 = ids.value[0];
      await seesLive('B', 'the new card', async () => (await nodeIds(b)).includes(card1));
    });

    await step('A types in the card; B sees the text live', async () => {
      await a.dblclick(`[data-testid="card-${card1}"] [data-testid="card-text"]`);
      await a.keyboard.type('Hello from Ada', { delay: 15 });
      await seesLive('B', 'the text', async () => (await cardText(b, card1)) === 'Hello from Ada');
      await a.keyboard.press('Escape');
    });

    await step('A moves the card; B sees the move live', async () => {
      const before = await position(b, card1);
      const box = await a.locator(`.react-flow__node[data-id="${card1}"] .card-kind`).boundingBox();
      await a.mouse.move(box.x + 10, box.y + 5);
      await a.mouse.down();
      for (let i = 1; i <= 10; i++) await a.mouse.move(box.x + 10 - 25 * i, box.y + 5 - 8 * i);
      await a.mouse.up();
      const after = await position(a, card1);
      assert(after && (after.x !== before.x || after.y !== before.y), `A's card did not move (${JSON.stringify(before)} → ${JSON.stringify(after)})`);
      await seesLive('B', 'the card at its new place', async () => {
        const p = await position(b, card1);
        return p && Math.abs(p.x - after.x) < 1 && Math.abs(p.y - after.y) < 1;
      });
    });

    await step('A adds a second card and connects the two; B sees the edge live', async () => {
      await a.click('[data-testid="add-note"]');
      const ids = await waitFor('the second card', async () => {
        const ids = await nodeIds(a);
        return ids.length === 2 && ids;
      });
      card2 = ids.value.find((id) => id !== card1);
      await seesLive('B', 'the second card', async () => (await nodeIds(b)).includes(card2));
      // Move the note away from the first card, then drag an edge between them.
      const nb = await a.locator(`.react-flow__node[data-id="${card2}"] .card-kind`).boundingBox();
      await a.mouse.move(nb.x + 10, nb.y + 5);
      await a.mouse.down();
      for (let i = 1; i <= 8; i++) await a.mouse.move(nb.x + 10 + 20 * i, nb.y + 5 + 5 * i);
      await a.mouse.up();
      await a.click('.react-flow__pane', { position: { x: 5, y: 5 } });
      await a.hover(`.react-flow__node[data-id="${card1}"] .card-kind`);
      const src = await a.locator(`.react-flow__node[data-id="${card1}"] .react-flow__handle-right`).boundingBox();
      const dst = await a.locator(`.react-flow__node[data-id="${card2}"] .react-flow__handle-left`).boundingBox();
      await a.mouse.move(src.x + src.width / 2, src.y + src.height / 2);
      await a.mouse.down();
      for (let i = 1; i <= 10; i++) {
        await a.mouse.move(src.x + ((dst.x - src.x) * i) / 10 + dst.width / 2, src.y + ((dst.y - src.y) * i) / 10 + dst.height / 2);
      }
      await a.mouse.up();
      await waitFor('the edge at A', async () => (await edgeCount(a)) === 1);
      await seesLive('B', 'the edge', async () => (await edgeCount(b)) === 1);
    });

    await step('B edits the text; A sees it live', async () => {
      await b.dblclick(`[data-testid="card-${card1}"] [data-testid="card-text"]`);
      await b.keyboard.press('Control+A');
      await b.keyboard.type('Edited by Bo', { delay: 10 });
      await seesLive('A', "B's text", async () => (await cardText(a, card1)) === 'Edited by Bo');
      await b.keyboard.press('Escape');
    });

    await step("A undoes (the edge goes); B sees the undo; B's text stays", async () => {
      await a.click('.react-flow__pane', { position: { x: 5, y: 5 } });
      await a.keyboard.press('Control+Z');
      await seesLive('B', 'the undone edge', async () => (await edgeCount(b)) === 0);
      // A's own view drops the edge on its next render, which may come a
      // few milliseconds after B's.
      await waitFor('A to drop the undone edge', async () => (await edgeCount(a)) === 0, 1000);
      assert((await cardText(b, card1)) === 'Edited by Bo', "A's undo overwrote B's text");
      // Redo and undo again through the toolbar.
      await a.click('[data-testid="redo"]');
      await seesLive('B', 'the redone edge', async () => (await edgeCount(b)) === 1);
      await a.click('[data-testid="undo"]');
      await seesLive('B', 'the edge undone again', async () => (await edgeCount(b)) === 0);
    });

    await step('presence: B sees A named on the canvas with a cursor', async () => {
      await a.mouse.move(640, 420);
      await a.mouse.move(660, 430);
      await b.mouse.move(420, 360);
      await b.mouse.move(430, 370);
      await waitFor("A's cursor at B", async () => (await b.locator('[data-testid="peer-cursor"]').count()) === 1);
      await waitFor("B's cursor at A", async () => (await a.locator('[data-testid="peer-cursor"]').count()) === 1);
      const name = await b.locator('[data-testid="peer-cursor"] .cursor-name').textContent();
      assert(name === 'Ada Author', `got cursor name ${name}`);
      assert((await b.locator('[data-testid="peer-avatar"]').count()) === 1, 'no avatar of A at B');
      // A selects the card; B sees it outlined.
      await a.click(`[data-testid="card-${card1}"] .card-kind`);
      await waitFor('the outline of A\'s selection at B', async () => (await b.locator(`[data-testid="card-${card1}"] .card.has-peer`).count()) === 1);
      await a.mouse.move(700, 450);
      await b.mouse.move(500, 380);
      await sleep(300);
      await a.screenshot({ path: join(artifacts, 'editor-user-a.png') });
      await b.screenshot({ path: join(artifacts, 'editor-user-b.png') });
    });

    await step('the server goes away: A keeps working offline and nothing is lost', async () => {
      await sker.stop();
      await waitFor('A to notice', async () => ['reconnecting', 'offline'].includes(await status(a)), 10000);
      await a.click('.react-flow__pane', { position: { x: 5, y: 5 } });
      await a.click('[data-testid="add-ai"]');
      await waitFor('A pending change', async () => Number(await a.getAttribute('[data-testid="status"]', 'data-pending')) === 1);
      const shown = await a.locator('[data-testid="status"]').textContent();
      assert(/1 change waiting/.test(shown), `status says ${JSON.stringify(shown)}`);
      await a.screenshot({ path: join(artifacts, 'editor-offline-a.png') });
      await sker.start();
      await waitFor('A reconnected and synced', async () => (await status(a)) === 'connected' && Number(await a.getAttribute('[data-testid="status"]', 'data-pending')) === 0, 20000);
      await waitFor('B reconnected', async () => (await status(b)) === 'connected', 20000);
      await waitFor('B to see the card made offline', async () => (await nodeIds(b)).length === 3, 5000);
    });

    await step('B, a viewer on another canvas, cannot change it', async () => {
      const tokenA = await accessToken(a);
      const c = await sker.api('POST', '/canvases', { title: 'Read me' }, tokenA);
      viewCanvasId = c.id;
      await sker.api('POST', `/canvases/${c.id}/ops`, { ops: [{ op: 'node.add', id: 'v1', kind: 'note', x: 0, y: 0, data: { text: 'Only Ada edits' } }] }, tokenA);
      await sker.api('POST', `/canvases/${c.id}/members`, { email: 'bo@example.com', role: 'viewer' }, tokenA);
      await openCanvas(b, base, viewCanvasId);
      await b.waitForSelector('[data-testid="card-v1"]');
      assert((await b.textContent('[data-testid="my-role"]')) === 'View only', 'no view-only badge');
      for (const btn of ['add-text', 'add-note', 'add-ai', 'delete', 'undo', 'redo']) {
        assert(await b.isDisabled(`[data-testid="${btn}"]`), `${btn} is enabled for a viewer`);
      }
      // No editing in place, no delete, no drag.
      await b.dblclick('[data-testid="card-v1"] [data-testid="card-text"]');
      assert((await b.locator('[data-testid="card-v1"] textarea').count()) === 0, 'a viewer got a text editor');
      await b.click('[data-testid="card-v1"] .card-kind');
      await b.keyboard.press('Delete');
      const before = await position(b, 'v1');
      const box = await b.locator('[data-testid="card-v1"] .card-kind').boundingBox();
      await b.mouse.move(box.x + 5, box.y + 5);
      await b.mouse.down();
      await b.mouse.move(box.x + 150, box.y + 150, { steps: 5 });
      await b.mouse.up();
      await sleep(300);
      assert((await nodeIds(b)).includes('v1'), 'the viewer deleted the card');
      const after = await position(b, 'v1');
      assert(after.x === before.x && after.y === before.y, 'the viewer moved the card');
      // The server refuses a viewer's ops anyway.
      const tokenB = await accessToken(b);
      const code = await b.evaluate(
        ({ token, id }) =>
          new Promise((resolve) => {
            const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws`);
            ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token }));
            ws.onmessage = (e) => {
              const f = JSON.parse(e.data);
              if (f.type === 'hello') ws.send(JSON.stringify({ type: 'join', canvas: id }));
              if (f.type === 'joined') ws.send(JSON.stringify({ type: 'ops', canvas: id, cbid: 'x1', ops: [{ op: 'node.delete', id: 'v1' }] }));
              if (f.type === 'reject' || f.type === 'ack') {
                ws.close();
                resolve(f.type === 'reject' ? f.code : 'acked');
              }
            };
          }),
        { token: tokenB, id: viewCanvasId },
      );
      assert(code === 'forbidden', `the server answered a viewer's ops with ${code}; want reject forbidden`);
      const snap = await sker.api('GET', `/canvases/${viewCanvasId}`, undefined, tokenA);
      assert(snap.nodes.length === 1 && snap.nodes[0].x === 0, 'the viewer changed the canvas');
    });

    await step('a reload keeps everything', async () => {
      await openCanvas(b, base, canvasId);
      await a.reload();
      await waitFor('A connected after reload', async () => (await status(a)) === 'connected', 10000);
      for (const [who, p] of [['A', a], ['B', b]]) {
        await waitFor(`${who}: three cards`, async () => (await nodeIds(p)).length === 3);
        assert((await cardText(p, card1)) === 'Edited by Bo', `${who} lost the text`);
        assert((await edgeCount(p)) === 0, `${who} shows the undone edge`);
      }
      const pa = await position(a, card1);
      const pb = await position(b, card1);
      assert(pa.x === pb.x && pa.y === pb.y, `positions differ after reload: ${JSON.stringify(pa)} vs ${JSON.stringify(pb)}`);
    });

    await step('with no AI provider, the AI card says so and Run puts the server\'s error on it', async () => {
      const aiId = (await nodeIds(a)).find((id) => id !== card1 && id !== card2);
      const card = (p) =>
        p.evaluate((id) => {
          const el = document.querySelector(`[data-testid="card-${id}"]`);
          const select = el.querySelector('[data-testid="ai-model"]');
          return {
            options: [...select.options].map((o) => o.textContent),
            disabled: select.disabled,
            status: el.querySelector('[data-testid="ai-status"]')?.getAttribute('data-status') ?? '',
            answer: el.querySelector('[data-testid="ai-answer"]')?.textContent ?? '',
          };
        }, aiId);
      const before = await waitFor('the model picker', async () => {
        const c = await card(a);
        return c.options[0] === 'No AI provider configured' && c;
      });
      assert(before.value.options.length === 1 && before.value.disabled, `picker without providers: ${JSON.stringify(before.value)}`);
      await a.dblclick(`[data-testid="card-${aiId}"] [data-testid="card-text"]`);
      await a.keyboard.type('Summarise the plan', { delay: 5 });
      await a.keyboard.press('Escape');
      await a.click(`[data-testid="card-${aiId}"] [data-testid="ai-run"]`);
      await waitFor('the error at A', async () => (await card(a)).status === 'error', 5000);
      const shown = await seesLive('B', 'the error', async () => {
        const c = await card(b);
        return c.status === 'error' && c;
      });
      assert(/no AI provider is configured/.test(shown.answer), `B's card shows ${JSON.stringify(shown.answer)}`);
      assert((await card(a)).answer === shown.answer, 'A and B show different errors');
    });

    await step('the canvas list shows who is here and the UI switches to 简体中文', async () => {
      await a.goto(`${base}/`);
      await a.waitForSelector('[data-testid="canvas-item"]');
      // B is on the canvas (opened it in this browser before): A sees B's avatar.
      await waitFor('B here on the list', async () => (await a.locator(`[data-testid="canvas-item"][data-id="${canvasId}"] [data-testid="here"] .avatar`).count()) >= 1, 5000);
      await a.screenshot({ path: join(artifacts, 'canvas-list.png') });
      await a.selectOption('[data-testid="language"]', 'zh-CN');
      await a.waitForSelector('text=我的画布');
      await a.screenshot({ path: join(artifacts, 'canvas-list-zh.png') });
      await a.selectOption('[data-testid="language"]', 'en');
    });
  } catch {
    for (const [who, p] of [['a', a], ['b', b]]) await p.screenshot({ path: join(artifacts, `failure-${who}.png`) }).catch(() => {});
  } finally {
    await browser.close().catch(() => {});
    await sker.close();
  }
  const passed = results.filter((r) => r.ok).length;
  const fails = results.filter((r) => !r.ok).length;
  console.log(`studio e2e: ${passed} passed, ${fails} failed`);
  process.exit(results.some((r) => !r.ok) ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  console.log('studio e2e: 0 passed, 1 failed');
  process.exit(1);
});
