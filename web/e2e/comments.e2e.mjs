// Comments end to end, in real browsers against the real binary
// (docs/comments.md).
//
// An owner (O) and a viewer (V) in two browsers on one canvas with a card.
// V, with the comment tool, starts a thread on the card mentioning O
// through the @ picker; O sees its pin at the card's top-right corner live,
// without a reload. O's canvas list (a third page) shows the unread mention
// badge once the canvas is checkpointed, and it goes when O opens the
// canvas's comments. O replies and V sees the reply live; V has edit and
// delete on V's own comment and none on O's reply. O moves the card and
// the pin follows it for both. O resolves the thread:
// it moves to Resolved for both. After a reload the thread, its reply and
// its resolved state are still there: they were committed. Screenshots go
// to test-artifacts/e2e/comments-*.png.
//
// Run: npm run build && node e2e/comments.e2e.mjs (scripts/test.sh does both).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, buildSker, launchBrowser, log, Sker, waitFor, scenario, register, status, openCanvas } from './lib.mjs';

const liveMs = 1500; // each must see the other's comment change within this
// unread_mentions counts the checkpointed comments: the canvas actor
// checkpoints at least every 30 s (actors.HubConfig.CheckpointInterval).
const checkpointMs = 45_000;

const { results, step, assert, seesLive } = scenario(liveMs);

const shot = (page, name) => page.screenshot({ path: join(artifacts, `comments-${name}.png`) });

async function session(page) {
  return page.evaluate(() => JSON.parse(localStorage.getItem('sker.session')));
}

/** The threads listed in a page's comments panel: id, resolved, and the texts of its comments. */
const threads = (page) =>
  page.$$eval('[data-testid="comment-thread"]', (els) =>
    els.map((el) => ({
      id: el.getAttribute('data-thread'),
      resolved: el.getAttribute('data-resolved') === 'true',
      texts: [...el.querySelectorAll('[data-testid="comment-text"]')].map((t) => t.textContent),
    })),
  );

const pinIds = (page) => page.$$eval('[data-testid="comment-pin"]', (els) => els.map((e) => e.getAttribute('data-thread')));

/** The unread mentions badge of a canvas in the list, after reading the list again; 0 when there is none. */
async function listBadge(page, canvasId) {
  await page.bringToFront();
  await page.reload();
  const item = page.locator(`[data-testid="canvas-item"][data-id="${canvasId}"]`);
  await item.waitFor();
  const badge = item.locator('[data-testid="unread-mentions"]');
  if ((await badge.count()) === 0) return 0;
  return Number((await badge.textContent()).replace('@', ''));
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const bin = buildSker();
  const sker = await Sker.start(bin);
  const base = sker.url;
  log(`sker on ${base}, data in ${sker.dataDir}`);
  const browser = await launchBrowser();
  const ctxO = await browser.newContext({ locale: 'en-US', viewport: { width: 1400, height: 900 } });
  const ctxV = await browser.newContext({ locale: 'en-US', viewport: { width: 1400, height: 900 } });
  const o = await ctxO.newPage();
  const v = await ctxV.newPage();
  // O's canvas list, in a tab beside O's open canvas. A tab in the
  // background gets no animation frames, so the studio draws its changes
  // only when it is brought to the front: each step does that first.
  const list = await ctxO.newPage();
  for (const [who, p] of [['O', o], ['V', v], ['O list', list]]) {
    p.on('pageerror', (e) => log(`${who} page error: ${e.message}`));
    p.on('console', (m) => m.type() === 'error' && log(`${who} console: ${m.text()}`));
  }
  let canvasId = '';
  let card = '';
  let threadId = '';
  let replyId = '';
  let owner = null;
  let viewer = null;
  try {
    await step('O and V register; O creates a canvas with a card and shares it with V as viewer', async () => {
      await register(v, base, 'Vic Viewer', 'vic@example.com');
      await register(o, base, 'Ada Owner', 'ada@example.com');
      owner = await session(o);
      viewer = await session(v);
      await o.fill('[data-testid="new-title"]', 'Board deck');
      await o.click('[data-testid="create"]');
      await o.waitForURL(/\/c\//);
      canvasId = o.url().split('/c/')[1];
      await waitFor('O connected', async () => (await status(o)) === 'connected', 10000);
      await o.click('[data-testid="add-text"]');
      const ids = await waitFor('the card', async () => {
        const ids = await o.$$eval('.react-flow__node', (els) => els.map((e) => e.getAttribute('data-id')));
        return ids.length === 1 && ids;
      });
      card = ids.value[0];
      await o.keyboard.press('Escape');
      await sker.api('POST', `/canvases/${canvasId}/members`, { email: 'vic@example.com', role: 'viewer' }, owner.accessToken);
      await openCanvas(v, base, canvasId);
      assert((await v.textContent('[data-testid="my-role"]')) === 'View only', `V's role badge: ${await v.textContent('[data-testid="my-role"]')}`);
      assert(await v.isDisabled('[data-testid="add-text"]'), "V's Add text is enabled");
      assert(await v.isEnabled('[data-testid="comment-tool"]'), "V's Comment tool is disabled");
      await v.waitForSelector(`.react-flow__node[data-id="${card}"]`);
    });

    await step('V starts a thread on the card, mentioning O through the @ picker', async () => {
      await v.click('[data-testid="comment-tool"]');
      await v.waitForSelector('[data-testid="comment-placer"]');
      const box = await v.locator(`.react-flow__node[data-id="${card}"]`).boundingBox();
      await v.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
      await v.waitForSelector('[data-testid="comment-draft"]');
      const where = await v.textContent('[data-testid="comment-draft"] .comment-where');
      assert(where === 'On a card', `the draft is ${JSON.stringify(where)}; want On a card`);
      await v.click('[data-testid="comment-new"]');
      await v.keyboard.type('Is this the Q3 figure, @Ad', { delay: 10 });
      await v.waitForSelector('[data-testid="mention-option"]');
      const options = await v.$$eval('[data-testid="mention-option"]', (els) => els.map((e) => e.textContent));
      assert(options.length === 1 && options[0] === 'Ada Owner', `mention options ${JSON.stringify(options)}; want ["Ada Owner"] (V left out)`);
      await v.keyboard.press('Enter');
      await v.keyboard.type('?', { delay: 10 });
      const text = await v.inputValue('[data-testid="comment-new"]');
      assert(text === 'Is this the Q3 figure, @Ada Owner ?', `composed ${JSON.stringify(text)}`);
      await v.click('[data-testid="comment-new-submit"]');
      const t = await waitFor("V's thread", async () => {
        const ts = await threads(v);
        return ts.length === 1 && ts[0];
      });
      threadId = t.value.id;
      assert(t.value.texts[0] === text, `V's thread shows ${JSON.stringify(t.value.texts)}`);
      // The viewer's batch was committed: the server lists it with the mention.
      const got = await waitFor('the committed thread', async () => {
        const r = await sker.api('GET', `/canvases/${canvasId}/comments`, undefined, viewer.accessToken);
        return r.comments.find((c) => c.id === threadId);
      });
      const c = got.value;
      assert(c.node === card && c.author === viewer.user.id && c.mentions?.length === 1 && c.mentions[0] === owner.user.id, `committed ${JSON.stringify(c)}`);
      await shot(v, 'viewer-thread');
    });

    await step("O sees V's pin at the card's top-right corner live, without a reload", async () => {
      await seesLive('O', "V's pin", async () => (await pinIds(o)).includes(threadId));
      const pin = await o.locator(`[data-testid="comment-pin"][data-thread="${threadId}"] .comment-pin-face`).boundingBox();
      const box = await o.locator(`.react-flow__node[data-id="${card}"]`).boundingBox();
      // The pin's tail (its bottom-left corner) is on the card's top-right corner.
      assert(Math.abs(pin.x - (box.x + box.width)) < 4 && Math.abs(pin.y + pin.height - box.y) < 4, `pin at ${JSON.stringify(pin)}, card at ${JSON.stringify(box)}`);
      await waitFor("O's unread badge", async () => (await o.textContent('[data-testid="comments-toggle"]')).includes('1'), 3000);
      await shot(o, 'owner-pin');
    });

    await step("O's canvas list shows the unread mention", async () => {
      await list.goto(`${base}/`);
      const { value, ms } = await waitFor('the unread mention badge', async () => (await listBadge(list, canvasId)) === 1, checkpointMs, 1000);
      log(`      the badge showed after ${ms} ms`);
      assert(value, 'no badge');
      await shot(list, 'list-unread');
    });

    await step("O opens the canvas's comments: the thread is there, and the badge goes", async () => {
      await o.bringToFront();
      await o.click('[data-testid="comments-toggle"]');
      const t = await waitFor("the thread in O's panel", async () => (await threads(o)).find((x) => x.id === threadId));
      assert(t.value.texts[0] === 'Is this the Q3 figure, @Ada Owner ?', `O's thread shows ${JSON.stringify(t.value.texts)}`);
      await waitFor('the badge gone from the list', async () => (await listBadge(list, canvasId)) === 0, 10000, 500);
      await o.bringToFront();
      const r = await sker.api('GET', `/canvases/${canvasId}/comments`, undefined, owner.accessToken);
      assert(r.read >= r.comments.find((c) => c.id === threadId).seq, `O's read marker ${r.read}`);
    });

    await step('O replies; V sees the reply live', async () => {
      await o.click(`[data-testid="comment-thread"][data-thread="${threadId}"] [data-testid="comment-reply"]`);
      await o.keyboard.type('Yes, from the board deck.', { delay: 5 });
      await o.keyboard.press('Enter');
      await seesLive('V', "O's reply", async () => {
        const t = (await threads(v)).find((x) => x.id === threadId);
        return t?.texts.length === 2 && t.texts[1] === 'Yes, from the board deck.';
      });
      replyId = await v.getAttribute(`[data-testid="comment-thread"][data-thread="${threadId}"] [data-testid="comment"]:nth-of-type(2)`, 'data-comment');
      assert(replyId && replyId !== threadId, `reply id ${replyId}`);
    });

    await step("V has edit and delete on V's own comment and none on O's reply; O the other way round", async () => {
      const buttons = async (page, id) => page.locator(`[data-comment="${id}"] [data-testid="comment-edit"], [data-comment="${id}"] [data-testid="comment-delete"]`).count();
      assert((await buttons(v, threadId)) === 2, `V's own comment has ${await buttons(v, threadId)} edit/delete buttons; want 2`);
      assert((await buttons(v, replyId)) === 0, `O's reply shows ${await buttons(v, replyId)} edit/delete buttons to V; want 0`);
      assert((await buttons(o, replyId)) === 2, `O's own reply has ${await buttons(o, replyId)} edit/delete buttons; want 2`);
      assert((await buttons(o, threadId)) === 0, `V's comment shows ${await buttons(o, threadId)} edit/delete buttons to O; want 0`);
      await shot(v, 'viewer-reply');
    });

    await step("O moves the card: the pin follows it, in O's view and live in V's", async () => {
      const before = await v.locator(`.react-flow__node[data-id="${card}"]`).boundingBox();
      const box = await o.locator(`.react-flow__node[data-id="${card}"] .card-kind`).boundingBox();
      await o.mouse.move(box.x + 10, box.y + 5);
      await o.mouse.down();
      for (let i = 1; i <= 10; i++) await o.mouse.move(box.x + 10 - 20 * i, box.y + 5 + 12 * i);
      await o.mouse.up();
      for (const [who, page] of [['O', o], ['V', v]]) {
        await seesLive(who, 'the pin on the moved card', async () => {
          const pin = await page.locator(`[data-testid="comment-pin"][data-thread="${threadId}"] .comment-pin-face`).boundingBox();
          const c = await page.locator(`.react-flow__node[data-id="${card}"]`).boundingBox();
          const moved = page !== v || Math.abs(c.x - before.x) > 50;
          return pin && c && moved && Math.abs(pin.x - (c.x + c.width)) < 4 && Math.abs(pin.y + pin.height - c.y) < 4;
        });
      }
      // Clicking the thread in the panel selects its pin.
      await v.click(`[data-testid="comment-thread"][data-thread="${threadId}"] [data-testid="comment-jump"]`);
      await waitFor("V's pin selected", async () => (await v.getAttribute(`[data-testid="comment-pin"][data-thread="${threadId}"]`, 'class')).includes('selected'), 2000);
    });

    await step('O resolves the thread: it moves to Resolved for both', async () => {
      await o.click(`[data-testid="comment-thread"][data-thread="${threadId}"] [data-testid="comment-resolve"]`);
      for (const [who, page] of [['O', o], ['V', v]]) {
        await seesLive(who, 'the thread leave the open threads', async () => (await threads(page)).length === 0);
        assert((await page.textContent('[data-testid="comments-tab-resolved"]')) === 'Resolved (1)', `${who}'s resolved tab: ${await page.textContent('[data-testid="comments-tab-resolved"]')}`);
        await page.click('[data-testid="comments-tab-resolved"]');
        const ts = await threads(page);
        assert(ts.length === 1 && ts[0].id === threadId && ts[0].resolved, `${who}'s resolved threads: ${JSON.stringify(ts)}`);
      }
      await shot(o, 'owner-resolved');
    });

    await step('after a reload the thread, its reply and its resolved state are still there', async () => {
      for (const [who, page] of [['O', o], ['V', v]]) {
        await openCanvas(page, base, canvasId);
        await page.click('[data-testid="comments-toggle"]');
        await page.click('[data-testid="comments-tab-resolved"]');
        const ts = await waitFor(`${who}'s threads after the reload`, async () => {
          const ts = await threads(page);
          return ts.length === 1 && ts;
        });
        const t = ts.value[0];
        assert(t.id === threadId && t.resolved && t.texts.length === 2 && t.texts[1] === 'Yes, from the board deck.', `${who} after the reload: ${JSON.stringify(t)}`);
      }
      const r = await sker.api('GET', `/canvases/${canvasId}/comments`, undefined, viewer.accessToken);
      const root = r.comments.find((c) => c.id === threadId);
      const reply = r.comments.find((c) => c.id === replyId);
      assert(r.comments.length === 2 && root?.resolved === true && reply?.thread === threadId && reply.author === owner.user.id, `committed comments ${JSON.stringify(r.comments)}`);
      await shot(v, 'viewer-after-reload');
    });
  } catch (err) {
    if (!results.some((r) => !r.ok)) results.push({ name: 'setup', ok: false, err });
    for (const [who, p] of [['o', o], ['v', v], ['list', list]]) await p.screenshot({ path: join(artifacts, `comments-failure-${who}.png`) }).catch(() => {});
  } finally {
    await browser.close().catch(() => {});
    await sker.close();
  }
  const passed = results.filter((r) => r.ok).length;
  const fails = results.filter((r) => !r.ok).length;
  console.log(`comments e2e: ${passed} passed, ${fails} failed`);
  process.exit(fails > 0 ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  console.log('comments e2e: 0 passed, 1 failed');
  process.exit(1);
});
