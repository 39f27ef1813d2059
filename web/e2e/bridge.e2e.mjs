// The RabbitMQ bridge end to end: the real sker binary with RABBITMQ_URL
// set (the machine's RabbitMQ; SKER_TEST_RABBITMQ_URL overrides it), a
// studio in a real browser, and a script on the other side of RabbitMQ.
//
// A signs up and makes a canvas in the studio, and an API token through
// the API. A script publishes an op batch to the commands queue with that
// token: the card appears in A's studio, and the ack comes back on the
// script's reply queue with its correlation id. A then adds a card, types
// in it and moves it; sker stops (SIGTERM) in the middle of a burst of
// commands, A adds a card while it is away, and sker starts again on the
// same data: every command of the burst is acked, applied once and on
// A's canvas. A consumer
// bound to the events exchange before sker started has received a changes
// event for every committed batch, each seq from 1 to the last, first in
// seq order, each the batch the history lists, under the message id
// <canvas>:<seq>; a batch published again carries the same id and body.
// A viewer's token gets a forbidden reject, and nothing is applied.
//
// The queues and the exchange have names of this run's own and are
// deleted at the end. amqplib comes from examples/ai-worker (scripts/test.sh
// installs it with npm ci before these tests).
//
// Run: npm run build && node e2e/bridge.e2e.mjs (scripts/test.sh does both).

import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { artifacts, buildSker, launchBrowser, log, repoRoot, Sker, sleep, waitFor, scenario, status } from './lib.mjs';

const liveMs = 2000; // a command's card must be in the studio within this of its publish
const burstSize = 60; // commands published just before sker gets SIGTERM

const { results, step, assert } = scenario(liveMs);

const rabbitURL = process.env.SKER_TEST_RABBITMQ_URL || 'amqp://guest:guest@127.0.0.1:5672';
const base = `sker-e2e-web-${randomBytes(4).toString('hex')}`;
const names = {
  commands: `${base}.commands`,
  dead: `${base}.dead`,
  events: `${base}.events`,
  consumer: base.replaceAll('.', '-'),
};

function loadAmqplib() {
  const req = createRequire(join(repoRoot, 'examples', 'ai-worker', 'package.json'));
  try {
    return req('amqplib');
  } catch (err) {
    throw new Error(`amqplib is not installed in examples/ai-worker: run npm ci there (scripts/test.sh does): ${err.message}`);
  }
}

const nodeIds = (page) => page.$$eval('.react-flow__node', (els) => els.map((e) => e.getAttribute('data-id')));
const cardText = (page, id) => page.locator(`[data-testid="card-${id}"] [data-testid="card-text"]`).textContent({ timeout: 500 });
const position = (page, id) =>
  page.$eval(`.react-flow__node[data-id="${id}"]`, (el) => {
    const m = /translate\(([-\d.]+)px,\s*([-\d.]+)px\)/.exec(el.style.transform);
    return m ? { x: Number(m[1]), y: Number(m[2]) } : null;
  });
const pending = async (page) => Number(await page.getAttribute('[data-testid="status"]', 'data-pending'));

async function register(page, url, name, email) {
  await page.goto(`${url}/register`);
  await page.fill('input[name="name"]', name);
  await page.fill('input[name="email"]', email);
  await page.fill('input[name="password"]', 'correct horse battery');
  await page.click('[data-testid="auth-submit"]');
  await page.waitForSelector('[data-testid="new-title"]');
}

/** Waits until /ready answers 200 with the bridge's check ok. */
async function bridgeReady(sker) {
  await waitFor('/ready with rabbitmq ok', async () => {
    const r = await fetch(`${sker.url}/ready`);
    const body = await r.json();
    return r.status === 200 && body.checks?.rabbitmq === 'ok';
  }, 30000, 100);
}

/** The canvas's whole history (every batch from seq 1). */
async function history(sker, canvasId, token) {
  const out = [];
  let since = 0;
  for (;;) {
    const h = await sker.api('GET', `/canvases/${canvasId}/history?since=${since}&limit=1000`, undefined, token);
    out.push(...h.batches);
    if (h.batches.length === 0 || out[out.length - 1].seq >= h.seq) return out;
    since = out[out.length - 1].seq;
  }
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const amqp = loadAmqplib();
  let conn;
  try {
    conn = await amqp.connect(rabbitURL);
  } catch (err) {
    throw new Error(`RabbitMQ does not answer at ${rabbitURL} (${err.message}): start it with rabbitmq-server -detached (scripts/services.sh starts every service) or set SKER_TEST_RABBITMQ_URL`);
  }
  conn.on('error', (err) => log(`RabbitMQ connection: ${err.message}`));
  const ch = await conn.createChannel();
  ch.on('error', (err) => log(`RabbitMQ channel: ${err.message}`));
  // Bound before sker starts, so that this consumer hears every batch.
  await ch.assertExchange(names.events, 'topic', { durable: true });
  const evq = (await ch.assertQueue('', { exclusive: true, autoDelete: true })).queue;
  await ch.bindQueue(evq, names.events, 'canvas.*.changes');
  const events = [];
  await ch.consume(evq, (m) => events.push(m), { noAck: true });
  const rq = (await ch.assertQueue('', { exclusive: true, autoDelete: true })).queue;
  const replies = [];
  await ch.consume(rq, (m) => replies.push(m), { noAck: true });
  const reply = (id) => waitFor(`the reply to ${id}`, async () => replies.find((m) => m.properties.correlationId === id), 20000);
  const publish = (canvas, token, id, ops) =>
    ch.sendToQueue(names.commands, Buffer.from(JSON.stringify({ canvas, ops })), {
      contentType: 'application/json',
      persistent: true,
      messageId: id,
      correlationId: id,
      replyTo: rq,
      headers: { authorization: `Bearer ${token}` },
    });

  const bin = buildSker();
  const sker = await Sker.start(
    bin,
    {
      RABBITMQ_URL: rabbitURL,
      BRIDGE_COMMANDS_QUEUE: names.commands,
      BRIDGE_DEAD_LETTER_QUEUE: names.dead,
      BRIDGE_EVENTS_EXCHANGE: names.events,
      BRIDGE_EVENTS_CONSUMER: names.consumer,
    },
    { logName: 'sker-bridge.log' },
  );
  log(`sker on ${sker.url}, data in ${sker.dataDir}, RabbitMQ names ${base}.*`);
  let browser;
  try {
    browser = await launchBrowser();
  } catch (err) {
    await sker.close();
    await conn.close().catch(() => {});
    throw err;
  }
  const ctx = await browser.newContext({ locale: 'en-US' });
  const a = await ctx.newPage();
  a.on('pageerror', (e) => log(`A page error: ${e.message}`));
  a.on('console', (m) => m.type() === 'error' && log(`A console: ${m.text()}`));
  let canvasId = '';
  let session = '';
  let apiToken = '';
  let card1 = '';
  try {
    await step('A signs up and makes a canvas in the studio, and an API token through the API', async () => {
      await bridgeReady(sker);
      await register(a, sker.url, 'Ada Author', 'ada@example.com');
      await a.fill('[data-testid="new-title"]', 'Bridged');
      await a.click('[data-testid="create"]');
      await a.waitForURL(/\/c\//);
      canvasId = a.url().split('/c/')[1];
      await waitFor('A connected', async () => (await status(a)) === 'connected', 10000);
      session = await a.evaluate(() => JSON.parse(localStorage.getItem('sker.session')).accessToken);
      const t = await sker.api('POST', '/tokens', { name: 'script' }, session);
      apiToken = t.token;
      assert(/^sker_/.test(apiToken), `POST /tokens answered the token ${JSON.stringify(apiToken)}`);
    });

    await step('a batch published to the commands queue shows in the studio and is acked on the reply queue', async () => {
      const t0 = Date.now();
      publish(canvasId, apiToken, 'cmd-1', [{ op: 'node.add', id: 'from-rabbit', kind: 'note', x: 40, y: 40, data: { text: 'from RabbitMQ' } }]);
      const { ms } = await waitFor('the card in the studio', async () => (await nodeIds(a)).includes('from-rabbit') && (await cardText(a, 'from-rabbit')) === 'from RabbitMQ', 8000);
      log(`      A saw the command's card ${Date.now() - t0} ms after the publish`);
      assert(ms <= liveMs, `the card showed after ${ms} ms; want within ${liveMs} ms`);
      const m = (await reply('cmd-1')).value;
      const body = JSON.parse(m.content.toString());
      assert(m.properties.type === 'ack' && m.properties.contentType === 'application/json', `reply properties ${JSON.stringify(m.properties)}`);
      assert(body.type === 'ack' && body.canvas === canvasId && body.seq === 1 && body.cbid === 'cmd-1', `reply ${m.content}; want an ack of seq 1 with cbid cmd-1`);
    });

    await step('A adds a card, types in it and moves it in the studio', async () => {
      await a.click('[data-testid="add-text"]');
      const ids = await waitFor('the new card', async () => (await nodeIds(a)).find((id) => id !== 'from-rabbit'));
      card1 = ids.value;
      await a.dblclick(`[data-testid="card-${card1}"] [data-testid="card-text"]`);
      await a.keyboard.type('Hello from the studio', { delay: 15 });
      await a.keyboard.press('Escape');
      const box = await a.locator(`.react-flow__node[data-id="${card1}"] .card-kind`).boundingBox();
      await a.mouse.move(box.x + 10, box.y + 5);
      await a.mouse.down();
      for (let i = 1; i <= 10; i++) await a.mouse.move(box.x + 10 + 20 * i, box.y + 5 + 12 * i);
      await a.mouse.up();
      await waitFor('nothing waiting to be sent', async () => (await pending(a)) === 0, 5000);
      const snap = await sker.api('GET', `/canvases/${canvasId}`, undefined, session);
      const node = snap.nodes.find((n) => n.id === card1);
      const at = await position(a, card1);
      assert(node?.data?.text === 'Hello from the studio', `the server holds ${JSON.stringify(node)}`);
      assert(Math.abs(node.x - at.x) < 1 && Math.abs(node.y - at.y) < 1, `the server has the card at ${node.x},${node.y}; the studio at ${at.x},${at.y}`);
    });

    await step('sker stops (SIGTERM) with commands in flight; A adds a card meanwhile; sker starts again on the same data', async () => {
      const before = (await history(sker, canvasId, session)).length;
      // A burst of commands still arriving when SIGTERM comes: each is
      // applied once, before the stop or after the restart.
      const burst = Array.from({ length: burstSize }, (_, i) => `burst-${i}`);
      burst.forEach((id, i) => publish(canvasId, apiToken, id, [{ op: 'node.add', id, kind: 'note', x: 40 + 30 * (i % 10), y: 400 + 30 * Math.floor(i / 10) }]));
      await waitFor('the first of the burst acked', async () => replies.some((m) => m.properties.correlationId?.startsWith('burst-')), 10000, 5);
      const ackedAtStop = new Set(replies.map((m) => m.properties.correlationId).filter((id) => id?.startsWith('burst-'))).size;
      await sker.stop();
      assert(sker.proc.exitCode === 0, `sker exited with ${sker.proc.exitCode ?? sker.proc.signalCode} on SIGTERM; want 0 (see ${sker.logPath})`);
      const ackedBefore = new Set(replies.map((m) => m.properties.correlationId).filter((id) => id?.startsWith('burst-'))).size;
      log(`      ${ackedAtStop} of ${burstSize} commands acked at SIGTERM, ${ackedBefore} once sker had stopped`);
      await waitFor('A to notice', async () => ['reconnecting', 'offline'].includes(await status(a)), 10000);
      await a.click('.react-flow__pane', { position: { x: 5, y: 5 } });
      await a.click('[data-testid="add-note"]');
      await waitFor('the change waiting', async () => (await pending(a)) === 1, 5000);
      await sker.start();
      await waitFor('A reconnected and synced', async () => (await status(a)) === 'connected' && (await pending(a)) === 0, 20000);
      await bridgeReady(sker);
      // One more change after the restart, and one more command.
      await a.dblclick(`[data-testid="card-${card1}"] [data-testid="card-text"]`);
      await a.keyboard.press('End');
      await a.keyboard.type(', again', { delay: 15 });
      await a.keyboard.press('Escape');
      await waitFor('nothing waiting to be sent', async () => (await pending(a)) === 0, 5000);
      publish(canvasId, apiToken, 'cmd-2', [{ op: 'node.add', id: 'after-restart', kind: 'note', x: 400, y: 40, data: { text: 'after the restart' } }]);
      const body = JSON.parse((await reply('cmd-2')).value.content.toString());
      assert(body.type === 'ack', `cmd-2: reply ${JSON.stringify(body)}`);
      await waitFor('the second command in the studio', async () => (await nodeIds(a)).includes('after-restart'), 5000);
      await waitFor('every command of the burst acked', async () => burst.every((id) => replies.some((m) => m.properties.correlationId === id)), 20000);
      const seqs = new Map();
      for (const m of replies) {
        const id = m.properties.correlationId;
        if (!id?.startsWith('burst-')) continue;
        const r = JSON.parse(m.content.toString());
        assert(r.type === 'ack', `${id}: reply ${m.content}`);
        assert(!seqs.has(id) || seqs.get(id) === r.seq, `${id} acked with seq ${seqs.get(id)}, then ${r.seq}: applied twice`);
        seqs.set(id, r.seq);
      }
      const ids = await nodeIds(a);
      const missing = burst.filter((id) => !ids.includes(id));
      assert(missing.length === 0, `the studio lacks ${missing.length} cards of the burst: ${missing.slice(0, 5).join(', ')}…`);
      const after = (await history(sker, canvasId, session)).length;
      assert(after === before + burstSize + 3, `history went from ${before} to ${after} batches; want ${burstSize + 3} more (the burst once each, the offline card, the text, cmd-2)`);
    });

    await step('the events consumer received every committed batch, in seq order, with stable message ids', async () => {
      const batches = await history(sker, canvasId, session);
      const last = batches[batches.length - 1].seq;
      batches.forEach((b, i) => assert(b.seq === i + 1, `history: batch ${i} has seq ${b.seq}`));
      await waitFor(`events up to seq ${last}`, async () => events.some((m) => m.properties.messageId === `${canvasId}:${last}`), 20000);
      const firsts = [];
      const byId = new Map();
      let dups = 0;
      for (const m of events) {
        const id = m.properties.messageId;
        const body = m.content.toString();
        if (byId.has(id)) {
          assert(byId.get(id) === body, `message ${id} came twice with different bodies`);
          dups++;
          continue;
        }
        byId.set(id, body);
        const batch = JSON.parse(body);
        assert(id === `${canvasId}:${batch.seq}`, `message id ${id} for seq ${batch.seq}`);
        assert(m.fields.routingKey === `canvas.${canvasId}.changes`, `routing key ${m.fields.routingKey}`);
        assert(m.properties.type === 'changes' && m.properties.appId === 'sker', `properties ${JSON.stringify(m.properties)}`);
        assert(m.properties.headers['sker-canvas'] === canvasId && Number(m.properties.headers['sker-seq']) === batch.seq, `headers ${JSON.stringify(m.properties.headers)}`);
        firsts.push(batch);
      }
      assert(firsts.length === batches.length, `got ${firsts.length} distinct events; want ${batches.length} (seqs 1..${last}): ${firsts.map((b) => b.seq).join(',')}`);
      firsts.forEach((got, i) => {
        const want = batches[i];
        assert(got.seq === want.seq, `event ${i}: seq ${got.seq} first; want ${want.seq} (every batch, in seq order)`);
        assert(JSON.stringify(got.ops) === JSON.stringify(want.ops) && got.author === want.author && got.at === want.at,
          `event of seq ${got.seq}: ${JSON.stringify(got)}; history has ${JSON.stringify(want)}`);
      });
      const kinds = {};
      for (const b of firsts) for (const o of b.ops) kinds[o.op] = (kinds[o.op] ?? 0) + 1;
      log(`      ${firsts.length} batches, seqs 1..${last} (ops ${JSON.stringify(kinds)}), ${dups} published again`);
    });

    await step("a viewer's token gets a forbidden reject and changes nothing", async () => {
      const v = await sker.api('POST', '/auth/register', { email: 'vic@example.com', password: 'correct horse battery', name: 'Vic Viewer' });
      await sker.api('POST', `/canvases/${canvasId}/members`, { email: 'vic@example.com', role: 'viewer' }, session);
      const vt = (await sker.api('POST', '/tokens', { name: 'viewer script' }, v.access_token)).token;
      const seq = (await sker.api('GET', `/canvases/${canvasId}`, undefined, session)).seq;
      publish(canvasId, vt, 'cmd-viewer', [{ op: 'node.add', id: 'from-viewer', kind: 'note', x: 0, y: 300 }]);
      const m = (await reply('cmd-viewer')).value;
      const body = JSON.parse(m.content.toString());
      assert(m.properties.type === 'reject' && body.type === 'reject' && body.code === 'forbidden', `reply ${m.content}; want a forbidden reject`);
      await sleep(300);
      const snap = await sker.api('GET', `/canvases/${canvasId}`, undefined, session);
      assert(snap.seq === seq && !snap.nodes.some((n) => n.id === 'from-viewer'), `the canvas changed: seq ${seq} → ${snap.seq}`);
      assert(!(await nodeIds(a)).includes('from-viewer'), "the viewer's card is in the studio");
    });
  } catch {
    await a.screenshot({ path: join(artifacts, 'bridge-failure.png') }).catch(() => {});
  } finally {
    await browser.close().catch(() => {});
    await sker.close();
    for (const q of [names.commands, names.dead, `${names.events}.dead`]) await ch.deleteQueue(q).catch(() => {});
    await ch.deleteExchange(names.events).catch(() => {});
    await conn.close().catch(() => {});
  }
  const passed = results.filter((r) => r.ok).length;
  const fails = results.filter((r) => !r.ok).length;
  console.log(`bridge e2e: ${passed} passed, ${fails} failed`);
  process.exit(fails || passed === 0 ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  console.log('bridge e2e: 0 passed, 1 failed');
  process.exit(1);
});
