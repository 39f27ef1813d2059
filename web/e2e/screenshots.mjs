// The README's screenshots: the editor as a third person sees it while two
// others work (two named cursors, their selections outlined), and the
// canvas list. Writes docs/screenshots/studio-editor.png and
// docs/screenshots/studio-canvas-list.png.
//
// Run: npm run build && node e2e/screenshots.mjs

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildSker, launchBrowser, log, repoRoot, Sker, sleep, waitFor } from './lib.mjs';

const out = join(repoRoot, 'docs', 'screenshots');

async function signIn(ctx, sker, session) {
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
  return page;
}

async function open(page, sker, id) {
  await page.goto(`${sker.url}/c/${id}`);
  await page.waitForSelector('.react-flow__node');
  await waitFor('connected', async () => (await page.getAttribute('[data-testid="status"]', 'data-status')) === 'connected', 10000);
}

async function main() {
  mkdirSync(out, { recursive: true });
  const sker = await Sker.start(buildSker());
  try {
    const reg = (name, email) => sker.api('POST', '/auth/register', { name, email, password: 'screenshot-pass' });
    const ada = await reg('Ada Lovelace', 'ada@example.com');
    const bo = await reg('Bo Chen', 'bo@example.com');
    const mia = await reg('Mia Santos', 'mia@example.com');
    const T = ada.access_token;
    const c = await sker.api('POST', '/canvases', { title: 'Product launch' }, T);
    const card = (id, kind, x, y, text, w = 240, h = 120) => ({ op: 'node.add', id, kind, x, y, w, h, data: { [kind === 'ai' ? 'prompt' : 'text']: text } });
    await sker.api(
      'POST',
      `/canvases/${c.id}/ops`,
      {
        ops: [
          card('goal', 'text', 0, 0, 'Goal: ship the studio to the first 100 teams by March', 260, 110),
          card('users', 'note', 340, -120, 'Interviews: teams want live cursors and undo that respects others', 220, 150),
          card('risks', 'note', 340, 80, 'Risk: large canvases (2,000+ cards) must stay smooth', 220, 140),
          card('plan', 'text', 0, 200, 'Plan\n1. Beta with 10 teams\n2. Pricing page\n3. Launch post', 260, 140),
          card('ask', 'ai', 680, -20, 'Draft a launch announcement from the goal, the interviews and the risks', 280, 170),
          { op: 'edge.add', id: 'e1', source: 'goal', target: 'users' },
          { op: 'edge.add', id: 'e2', source: 'goal', target: 'risks' },
          { op: 'edge.add', id: 'e3', source: 'users', target: 'ask' },
          { op: 'edge.add', id: 'e4', source: 'risks', target: 'ask' },
          { op: 'edge.add', id: 'e5', source: 'goal', target: 'plan' },
        ],
      },
      T,
    );
    for (const [email, role] of [['bo@example.com', 'editor'], ['mia@example.com', 'editor']]) {
      await sker.api('POST', `/canvases/${c.id}/members`, { email, role }, T);
    }
    await sker.api('POST', '/canvases', { title: 'Q3 research board' }, T);
    await sker.api('POST', '/canvases', { title: 'Onboarding flow' }, T);
    const shared = await sker.api('POST', '/canvases', { title: 'Design review (from Bo)' }, bo.access_token);
    await sker.api('POST', `/canvases/${shared.id}/members`, { email: 'ada@example.com', role: 'viewer' }, bo.access_token);

    const browser = await launchBrowser();
    const ctx = (locale) => browser.newContext({ viewport: { width: 1400, height: 820 }, locale, deviceScaleFactor: 1 });
    const [ca, cb, cm] = await Promise.all([ctx('en-US'), ctx('en-US'), ctx('en-US')]);
    const a = await signIn(ca, sker, ada);
    const b = await signIn(cb, sker, bo);
    const m = await signIn(cm, sker, mia);
    for (const p of [a, b, m]) await open(p, sker, c.id);

    // Ada selects the goal card, Bo the AI card; both move their pointers.
    await a.click('[data-testid="card-goal"] .card-kind');
    await b.click('[data-testid="card-ask"] .card-kind');
    const pointAt = async (page, id, dx, dy) => {
      const box = await page.locator(`[data-testid="card-${id}"]`).boundingBox();
      await page.mouse.move(box.x + dx - 20, box.y + dy - 20);
      await page.mouse.move(box.x + dx, box.y + dy, { steps: 4 });
    };
    await pointAt(a, 'plan', 180, 60);
    await pointAt(b, 'ask', 120, 130);
    await waitFor('two cursors at Mia', async () => (await m.locator('[data-testid="peer-cursor"]').count()) === 2, 5000);
    await waitFor('two outlines at Mia', async () => (await m.locator('.card.has-peer').count()) === 2, 5000);
    await m.mouse.move(5, 800);
    await sleep(400);
    await m.screenshot({ path: join(out, 'studio-editor.png') });
    log('wrote docs/screenshots/studio-editor.png');

    // Mia goes back to her list; Ada's list shows who is on each canvas.
    await a.goto(`${sker.url}/`);
    await a.waitForSelector('[data-testid="canvas-item"]');
    await waitFor('people here on the list', async () => (await a.locator('[data-testid="here"] .avatar').count()) >= 2, 5000);
    await sleep(200);
    await a.screenshot({ path: join(out, 'studio-canvas-list.png') });
    log('wrote docs/screenshots/studio-canvas-list.png');
    await browser.close();
  } finally {
    await sker.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
