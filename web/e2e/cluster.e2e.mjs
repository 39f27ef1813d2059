// Cluster mode end to end, in real browsers against three real sker nodes.
//
// Three `sker serve` processes share one fresh PostgreSQL database and one
// JWT secret and form one NATS cluster with the journal at three copies.
// User A's browser is on node-1, user B's on node-3; the canvas they share
// is owned by node-2, so every change goes from one node through the owner
// to the other. Each adds a card and types in it, each sees the other's
// card and cursor live; every change is acknowledged; then the owner gets
// kill -9. Right away each adds another card: after a pause (measured from
// the kill until both cards are committed and seen by both, and printed)
// both have all cards, the canvas has a new owner, and live editing and
// cursors work as before. Finally node-1 and node-3 serve the same canvas
// over REST, with every card acknowledged before the kill. Logs of the
// nodes and screenshots go to test-artifacts/e2e/.
//
// Needs a local PostgreSQL that admits postgres on 127.0.0.1 without a
// password (PGHOST, PGPORT and PGUSER change that); the database it makes
// is dropped at the end.
//
// Run: npm run build && node e2e/cluster.e2e.mjs (scripts/test.sh does both).

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifacts, buildSker, freePort, launchBrowser, log, Sker, sleep, waitFor, scenario, register, accessToken, status, openCanvas } from './lib.mjs';

const liveMs = 2000; // what one user does, the other sees within this (through the owner node)
const failoverMs = 20_000; // after the owner's kill -9, both see every card within this
const readyMs = 120_000; // the nodes wait for each other before /health answers

const { results, step, assert, seesLive } = scenario(liveMs);

const pg = { host: process.env.PGHOST ?? '127.0.0.1', port: process.env.PGPORT ?? '5432', user: process.env.PGUSER ?? 'postgres' };

/** Runs one SQL statement on the server's postgres database with psql. */
function psql(sql) {
  const r = spawnSync('psql', ['-h', pg.host, '-p', pg.port, '-U', pg.user, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qc', sql], { encoding: 'utf8' });
  if (r.error) throw new Error(`psql: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`psql -c ${JSON.stringify(sql)}: ${r.stderr.trim()}`);
}

/** Free ports, none twice. */
async function freePorts(n) {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/**
 * Three nodes of one cluster, not started: node-1 to node-3, each with its
 * own port, DATA_DIR and log, all with the same database and JWT secret and
 * each other's NATS route addresses.
 */
async function clusterNodes(bin, databaseURL) {
  const [p1, p2, p3, r1, r2, r3] = await freePorts(6);
  const routes = [r1, r2, r3].map((p) => `127.0.0.1:${p}`);
  return [p1, p2, p3].map((port, i) => {
    const name = `node-${i + 1}`;
    const logName = `cluster-${name}.log`;
    writeFileSync(join(artifacts, logName), '');
    const env = {
      DATABASE_URL: databaseURL,
      JWT_SECRET: 'cluster-e2e-secret-0123456789abcdef-0123456789abcdef',
      NODE_NAME: name,
      NATS_CLUSTER_LISTEN: routes[i],
      NATS_CLUSTER_ROUTES: routes.join(','),
      NATS_CLUSTER_NAME: 'sker',
      NATS_LISTEN: '',
      JOURNAL_REPLICAS: '3',
      SKER_ROLES: 'all',
      OPS_TOKEN: '',
      LOG_LEVEL: 'info',
    };
    const node = new Sker(bin, port, mkdtempSync(join(tmpdir(), `sker-cluster-${name}-`)), env, { logName, readyMs });
    node.name = name;
    return node;
  });
}

/** GET on a node's ops routes (from loopback, no token). */
async function opsGet(node, path) {
  const r = await fetch(`${node.url}${path}`, { signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  if (!r.ok) throw new Error(`GET ${path} on ${node.name}: ${r.status} ${text}`);
  if (!r.headers.get('content-type')?.startsWith('application/json')) {
    throw new Error(`GET ${path} on ${node.name}: ${r.headers.get('content-type')}, not JSON (a sker without this route?): ${text.slice(0, 80)}`);
  }
  return JSON.parse(text);
}

/** Where a canvas lives, as node answers: {canvas, owner, preferred, epoch, seq}. */
const placeOf = (node, canvasID) => opsGet(node, `/cluster/canvases/${canvasID}`);

const nodeIds = (page) => page.$$eval('.react-flow__node', (els) => els.map((e) => e.getAttribute('data-id')));
const cardText = (page, id) => page.locator(`[data-testid="card-${id}"] [data-testid="card-text"]`).textContent({ timeout: 500 });
const pending = async (page) => Number(await page.getAttribute('[data-testid="status"]', 'data-pending'));
const cursorAt = (page) => page.getAttribute('[data-testid="peer-cursor"]', 'style', { timeout: 500 });
const hasAll = (have, want) => want.every((id) => have.includes(id));
/** obj with its keys in order, as JSON: two canvases' cards compare equal as strings. */
const sortedJSON = (obj) => JSON.stringify(Object.fromEntries(Object.entries(obj).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))));

/** Adds a note through the toolbar and returns its id (the one card on page that was not in before). */
async function addNote(page) {
  const before = await nodeIds(page);
  await page.click('.react-flow__pane', { position: { x: 5, y: 5 } });
  await page.click('[data-testid="add-note"]');
  const { value } = await waitFor('the new card', async () => (await nodeIds(page)).find((id) => !before.includes(id)));
  return value;
}

/** Types text into the card id on page, in place. */
async function typeInto(page, id, text) {
  await page.dblclick(`[data-testid="card-${id}"] [data-testid="card-text"]`);
  await page.keyboard.type(text, { delay: 10 });
  await page.keyboard.press('Escape');
}

/** The canvas as node serves it over REST: its seq and its cards (id → text) as sortedJSON. */
async function restCanvas(node, canvasID, token) {
  const c = await node.api('GET', `/canvases/${canvasID}`, undefined, token);
  return { seq: c.seq, cards: sortedJSON(Object.fromEntries(c.nodes.map((n) => [n.id, n.data?.text ?? '']))) };
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const bin = buildSker();
  const db = `sker_e2e_cluster_${process.pid}_${Date.now()}`;
  let dbMade = false;
  let nodes = [];
  let browser = null;
  let a = null;
  let b = null;
  let canvasId = '';
  let tokenA = '';
  const texts = {}; // card id → text, of every card acknowledged so far
  let pauseMs = -1;

  // Ctrl-C still stops the nodes and drops the database.
  const interrupted = () => {
    for (const n of nodes) n.proc?.kill('SIGKILL');
    if (dbMade) psql(`drop database if exists ${db} with (force)`);
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  try {
    await step('three nodes share a fresh PostgreSQL database and form one cluster', async () => {
      psql(`create database ${db}`);
      dbMade = true;
      nodes = await clusterNodes(bin, `postgres://${pg.user}@${pg.host}:${pg.port}/${db}?sslmode=disable`);
      nodes[0].run('migrate');
      const t0 = Date.now();
      await Promise.all(nodes.map((n) => n.start()));
      log(`      the three answered /health after ${Date.now() - t0} ms: ${nodes.map((n) => `${n.name} ${n.url}`).join(', ')}`);
      for (const n of nodes) {
        await waitFor(`${n.name} to know all three`, async () => (await opsGet(n, '/cluster')).nodes.length === 3, 30_000, 200);
      }
    });

    browser = await launchBrowser();
    a = await (await browser.newContext({ locale: 'en-US' })).newPage();
    b = await (await browser.newContext({ locale: 'en-US' })).newPage();
    for (const [who, p] of [['A', a], ['B', b]]) {
      p.on('pageerror', (e) => log(`${who} page error: ${e.message}`));
      p.on('console', (m) => m.type() === 'error' && log(`${who} console: ${m.text()}`));
    }
    const [n1, n2, n3] = nodes;

    await step('A registers through node-1 and B through node-3', async () => {
      await register(a, n1.url, 'Ada Author', 'ada@example.com');
      await register(b, n3.url, 'Bo Builder', 'bo@example.com');
      tokenA = await accessToken(a);
    });

    await step('A makes a canvas that node-2 owns and shares it with B as editor', async () => {
      for (let i = 1; i <= 20 && !canvasId; i++) {
        const c = await n1.api('POST', '/canvases', { title: `Cluster plan ${i}` }, tokenA);
        const place = await placeOf(n1, c.id);
        if (place.preferred !== 'node-2') continue;
        await n1.api('GET', `/canvases/${c.id}`, undefined, tokenA); // loads it on its owner
        const loaded = await placeOf(n1, c.id);
        log(`      canvas ${c.id} (try ${i}): owner ${loaded.owner}, preferred ${loaded.preferred}`);
        if (loaded.owner === 'node-2') canvasId = c.id;
      }
      assert(canvasId, 'no canvas of 20 was placed on node-2');
      await n1.api('POST', `/canvases/${canvasId}/members`, { email: 'bo@example.com', role: 'editor' }, tokenA);
    });

    await step('A opens the canvas on node-1 and B on node-3; node-2 still owns it', async () => {
      await openCanvas(a, n1.url, canvasId);
      await openCanvas(b, n3.url, canvasId);
      for (const n of [n1, n3]) {
        const place = await placeOf(n, canvasId);
        assert(place.owner === 'node-2', `${n.name} says the owner is ${JSON.stringify(place.owner)}; want node-2`);
      }
    });

    await step('A adds a card and types in it; B sees both live', async () => {
      const id = await addNote(a);
      await seesLive('B', "A's card", async () => (await nodeIds(b)).includes(id));
      await typeInto(a, id, 'Ada before the kill');
      await seesLive('B', "A's text", async () => (await cardText(b, id)) === 'Ada before the kill');
      texts[id] = 'Ada before the kill';
    });

    await step('B adds a card and types in it; A sees both live', async () => {
      const id = await addNote(b);
      await seesLive('A', "B's card", async () => (await nodeIds(a)).includes(id));
      await typeInto(b, id, 'Bo before the kill');
      await seesLive('A', "B's text", async () => (await cardText(a, id)) === 'Bo before the kill');
      texts[id] = 'Bo before the kill';
    });

    await step("each sees the other's cursor, named", async () => {
      await a.mouse.move(640, 420);
      await a.mouse.move(660, 430);
      await b.mouse.move(420, 360);
      await b.mouse.move(430, 370);
      await seesLive('B', "A's cursor", async () => (await b.locator('[data-testid="peer-cursor"]').count()) === 1);
      await seesLive('A', "B's cursor", async () => (await a.locator('[data-testid="peer-cursor"]').count()) === 1);
      const atB = await b.locator('[data-testid="peer-cursor"] .cursor-name').textContent();
      const atA = await a.locator('[data-testid="peer-cursor"] .cursor-name').textContent();
      assert(atB === 'Ada Author' && atA === 'Bo Builder', `cursor names: ${JSON.stringify(atB)} at B, ${JSON.stringify(atA)} at A`);
      await a.screenshot({ path: join(artifacts, 'cluster-before-kill-a.png') });
      await b.screenshot({ path: join(artifacts, 'cluster-before-kill-b.png') });
    });

    await step('every change so far is acknowledged, and node-1 and node-3 serve it', async () => {
      await waitFor('no change waiting at A or B', async () => (await pending(a)) === 0 && (await pending(b)) === 0, 10_000);
      for (const n of [n1, n3]) {
        const got = await restCanvas(n, canvasId, tokenA);
        assert(got.cards === sortedJSON(texts), `${n.name} serves ${got.cards}; want ${sortedJSON(texts)}`);
      }
    });

    let newOwner = '';
    await step('kill -9 of node-2, the owner; A and B each add a card at once; after a pause both have all cards', async () => {
      const killedAt = Date.now();
      await n2.kill();
      log('      killed node-2 (SIGKILL)');
      // Watch from node-1 when another node takes the canvas over.
      let ownedAt = 0;
      const watching = (async () => {
        while (!ownedAt && Date.now() - killedAt < failoverMs + 10_000) {
          try {
            const place = await placeOf(n1, canvasId);
            if (place.owner && place.owner !== 'node-2') {
              newOwner = place.owner;
              ownedAt = Date.now();
            }
          } catch {
            /* the lease bucket may not answer while its leader moves */
          }
          await sleep(100);
        }
      })();
      const idA = await addNote(a);
      const idB = await addNote(b);
      const want = [...Object.keys(texts), idA, idB];
      // What a browser lacks: the cards it does not show, the changes it has waiting, its connection.
      const where = async (p) => {
        const have = await nodeIds(p);
        return { missing: want.filter((id) => !have.includes(id)), pending: await pending(p), status: await status(p) };
      };
      const state = async () => ({ A: await where(a), B: await where(b) });
      const done = (st) => Object.values(st).every((w) => w.missing.length === 0 && w.pending === 0);
      await waitFor('A and B to have every card, none waiting', async () => done(await state()), failoverMs, 50).catch(async (err) => {
        throw new Error(`${err.message}; at the end: ${JSON.stringify(await state())}`);
      });
      pauseMs = Date.now() - killedAt;
      await watching;
      log(`      pause after the kill: ${pauseMs} ms until both cards made after it were committed and seen by A and B`);
      log(`      new owner: ${newOwner || 'none seen'}${ownedAt ? `, ${ownedAt - killedAt} ms after the kill` : ''}`);
      assert(newOwner === 'node-1' || newOwner === 'node-3', `owner after the kill: ${JSON.stringify(newOwner)}; want node-1 or node-3`);
      texts[idA] = '';
      texts[idB] = '';
      for (const [who, p] of [['A', a], ['B', b]]) {
        assert((await status(p)) === 'connected', `${who} is ${await status(p)} after the kill`);
        for (const [id, text] of Object.entries(texts)) {
          if (text) assert((await cardText(p, id)) === text, `${who} lost the text of ${id}`);
        }
      }
    });

    await step('after the failover, edits are live again both ways', async () => {
      const idA = await addNote(a);
      await seesLive('B', "A's card", async () => (await nodeIds(b)).includes(idA));
      await typeInto(a, idA, 'Ada after the kill');
      await seesLive('B', "A's text", async () => (await cardText(b, idA)) === 'Ada after the kill');
      texts[idA] = 'Ada after the kill';
      const idB = await addNote(b);
      await seesLive('A', "B's card", async () => (await nodeIds(a)).includes(idB));
      await typeInto(b, idB, 'Bo after the kill');
      await seesLive('A', "B's text", async () => (await cardText(a, idB)) === 'Bo after the kill');
      texts[idB] = 'Bo after the kill';
    });

    await step("after the failover, each sees the other's cursor move", async () => {
      const atB = await cursorAt(b);
      const atA = await cursorAt(a);
      await a.mouse.move(500, 300);
      await a.mouse.move(520, 310);
      await b.mouse.move(700, 450);
      await b.mouse.move(710, 460);
      await seesLive('B', "A's cursor move", async () => (await cursorAt(b)) !== atB);
      await seesLive('A', "B's cursor move", async () => (await cursorAt(a)) !== atA);
      await a.screenshot({ path: join(artifacts, 'cluster-after-kill-a.png') });
      await b.screenshot({ path: join(artifacts, 'cluster-after-kill-b.png') });
    });

    await step('node-1 and node-3 serve the same canvas, with every acknowledged card', async () => {
      await waitFor('no change waiting at A or B', async () => (await pending(a)) === 0 && (await pending(b)) === 0, 10_000);
      const want = sortedJSON(texts);
      const [got1, got3] = [await restCanvas(n1, canvasId, tokenA), await restCanvas(n3, canvasId, tokenA)];
      for (const [n, got] of [[n1, got1], [n3, got3]]) {
        assert(got.cards === want, `${n.name} serves ${got.cards}; want ${want}`);
      }
      assert(got1.seq === got3.seq, `seq ${got1.seq} on node-1, ${got3.seq} on node-3`);
      log(`      ${Object.keys(texts).length} cards at seq ${got1.seq} on node-1 and node-3`);
    });
  } catch (err) {
    if (!results.some((r) => !r.ok)) {
      results.push({ name: 'setting up', ok: false, err });
      log(`FAIL  setting up: ${err.stack ?? err}`);
    }
    for (const [who, p] of [['a', a], ['b', b]]) await p?.screenshot({ path: join(artifacts, `cluster-failure-${who}.png`) }).catch(() => {});
  } finally {
    await browser?.close().catch(() => {});
    await Promise.all(nodes.map((n) => n.close().catch((err) => log(`closing ${n.name}: ${err.message}`))));
    if (dbMade) {
      try {
        psql(`drop database if exists ${db} with (force)`);
      } catch (err) {
        log(`dropping database ${db}: ${err.message}`);
      }
    }
  }
  const passed = results.filter((r) => r.ok).length;
  const fails = results.filter((r) => !r.ok).length;
  console.log(`cluster e2e: ${passed} passed, ${fails} failed${pauseMs >= 0 ? `; pause after the kill ${pauseMs} ms` : ''}`);
  process.exit(fails > 0 ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  console.log('cluster e2e: 0 passed, 1 failed');
  process.exit(1);
});
