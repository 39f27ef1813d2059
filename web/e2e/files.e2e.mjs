// Images and files in the studio, in a real browser against the real binary.
//
// A drops a PNG on the canvas: it is uploaded and an image card with the
// picture's aspect ratio appears where it was dropped; B (an editor) sees
// the card at once, with the picture loaded. A adds a text file through the
// File button's input: B sees the file card and downloads it under its
// name. Ctrl+V pastes files on the clipboard (copied cards otherwise). A
// slow upload shows its progress bar. A file over MAX_FILE_SIZE (64 KiB here) shows why it was refused.
// C, a viewer, sees the picture but cannot upload. After a reload A and B
// still show both cards. Screenshots go to test-artifacts/e2e/.
//
// Run: npm run build && node e2e/files.e2e.mjs (scripts/test.sh does both).

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { artifacts, buildSker, launchBrowser, log, Sker, sleep, waitFor, scenario, register, status, openCanvas } from './lib.mjs';

const liveMs = 1000; // B must see A's card within this
const maxFileSize = 65536;

const { results, step, assert, seesLive } = scenario(liveMs);

/** The cards on a page: id, kind, and the size React Flow gives them. */
const cards = (page) =>
  page.$$eval('.react-flow__node', (els) =>
    els.map((e) => {
      const frame = e.querySelector('.card-frame');
      const img = e.querySelector('img[data-testid="card-image"]');
      return {
        id: e.getAttribute('data-id'),
        kind: frame?.getAttribute('data-kind') ?? '',
        w: parseFloat(e.style.width),
        h: parseFloat(e.style.height),
        natural: img ? { w: img.naturalWidth, h: img.naturalHeight, complete: img.complete } : null,
        fileName: e.querySelector('[data-testid="file-name"]')?.textContent ?? '',
        fileMeta: e.querySelector('[data-testid="file-meta"]')?.textContent ?? '',
      };
    }),
  );

/** A width×height RGB PNG (coloured tiles), made here so that the test needs no fixture. */
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = Math.floor(x / 40) * 30;
      raw[row + 2 + x * 3] = Math.floor(y / 40) * 45;
      raw[row + 3 + x * 3] = 160;
    }
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** Drops a file on the canvas at (x, y) in the page, as the browser does for a file dragged from the desktop. */
async function dropFile(page, { name, type, bytes }, x, y) {
  await page.evaluate(
    ({ name, type, b64, x, y }) => {
      const bin = atob(b64);
      const buf = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) buf[i] = bin.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([buf], name, { type }));
      const target = document.elementFromPoint(x, y);
      for (const kind of ['dragenter', 'dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(kind, { bubbles: true, cancelable: true, clientX: x, clientY: y, dataTransfer: dt }));
      }
    },
    { name, type, b64: bytes.toString('base64'), x, y },
  );
}

async function share(page, email, role) {
  await page.click('text=Share');
  await page.fill('[data-testid="share-email"]', email);
  await page.selectOption('[data-testid="share-role"]', role);
  await page.click('[data-testid="share-add"]');
  await page.waitForSelector(`[data-testid="member"] >> text=${email}`);
  await page.keyboard.press('Escape');
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  const bin = buildSker();
  const sker = await Sker.start(bin, { MAX_FILE_SIZE: String(maxFileSize) }, { logName: 'sker-files.log' });
  const base = sker.url;
  log(`sker on ${base}, data in ${sker.dataDir}`);
  const browser = await launchBrowser();
  const pages = {};
  for (const who of ['A', 'B', 'C']) {
    const ctx = await browser.newContext({ locale: 'en-US', acceptDownloads: true });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => log(`${who} page error: ${e.message}`));
    p.on('console', (m) => m.type() === 'error' && log(`${who} console: ${m.text()}`));
    pages[who] = p;
  }
  const { A: a, B: b, C: c } = pages;
  const picture = { name: 'gradient.png', type: 'image/png', bytes: png(320, 200) };
  const notes = { name: 'release notes.txt', type: 'text/plain', bytes: Buffer.from('Ship it on Friday.\n'.repeat(20)) };
  let canvasId = '';
  let imageId = '';
  let fileId = '';
  try {
    await step('A, B and C register; A shares a canvas with B (editor) and C (viewer)', async () => {
      await register(b, base, 'Bo Builder', 'bo@example.com');
      await register(c, base, 'Cy Viewer', 'cy@example.com');
      await register(a, base, 'Ada Author', 'ada@example.com');
      await a.fill('[data-testid="new-title"]', 'Moodboard');
      await a.click('[data-testid="create"]');
      await a.waitForURL(/\/c\//);
      canvasId = a.url().split('/c/')[1];
      await waitFor('A connected', async () => (await status(a)) === 'connected', 10000);
      await share(a, 'bo@example.com', 'editor');
      await share(a, 'cy@example.com', 'viewer');
      await openCanvas(b, base, canvasId);
      await openCanvas(c, base, canvasId);
    });

    await step('A drops a PNG on the canvas: an image card with its aspect ratio appears where it fell', async () => {
      assert(picture.bytes.length < maxFileSize, `the test picture is ${picture.bytes.length} bytes; want under ${maxFileSize}`);
      const pane = await a.locator('.react-flow__pane').boundingBox();
      const at = { x: pane.x + pane.width / 2 - 100, y: pane.y + pane.height / 2 - 60 };
      const uploaded = a.waitForResponse((r) => r.url().includes(`/canvases/${canvasId}/files`) && r.request().method() === 'POST');
      await dropFile(a, picture, at.x, at.y);
      const res = await uploaded;
      assert(res.status() === 201, `the upload answered ${res.status()}`);
      const info = await res.json();
      assert(info.width === 320 && info.height === 200 && info.type === 'image/png', `the upload answered ${JSON.stringify(info)}`);
      const card = await waitFor('the image card at A', async () => (await cards(a)).find((x) => x.kind === 'image'), 5000);
      imageId = card.value.id;
      assert(card.value.w === 240 && card.value.h === 150, `the image card is ${card.value.w}×${card.value.h}; want 240×150 (320×200 scaled)`);
      // Centred on the drop point (the view is not zoomed: flow and screen pixels match).
      const box = await a.locator(`.react-flow__node[data-id="${imageId}"]`).boundingBox();
      const dx = Math.abs(box.x + box.width / 2 - at.x);
      const dy = Math.abs(box.y + box.height / 2 - at.y);
      assert(dx <= 2 && dy <= 2, `the card's centre is ${dx}, ${dy} px from the drop point`);
      await waitFor('the picture at A', async () => (await cards(a)).find((x) => x.id === imageId)?.natural?.w === 320, 5000);
      const snap = await sker.api('GET', `/canvases/${canvasId}`, undefined, await a.evaluate(() => JSON.parse(localStorage.getItem('sker.session')).accessToken));
      const node = snap.nodes.find((n) => n.id === imageId);
      const want = { file: info.id, name: 'gradient.png', size: picture.bytes.length, type: 'image/png', width: 320, height: 200 };
      const sorted = (o) => JSON.stringify(Object.fromEntries(Object.entries(o ?? {}).sort(([x], [y]) => (x < y ? -1 : 1))));
      assert(sorted(node?.data) === sorted(want), `the server holds ${JSON.stringify(node?.data)}; want ${JSON.stringify(want)}`);
    });

    await step('B sees the image card at once, with the picture loaded', async () => {
      await seesLive('B', 'the image card', async () => (await cards(b)).some((x) => x.id === imageId && x.kind === 'image'));
      const { ms } = await waitFor('the picture at B', async () => {
        const n = (await cards(b)).find((x) => x.id === imageId)?.natural;
        return n && n.complete && n.w === 320 && n.h === 200;
      });
      log(`      B's picture loaded ${ms} ms after the card`);
      await b.screenshot({ path: join(artifacts, 'files-image.png') });
    });

    await step('A adds a text file with the File button; B sees the file card and downloads it under its name', async () => {
      await a.setInputFiles('[data-testid="file-input"]', { name: notes.name, mimeType: notes.type, buffer: notes.bytes });
      const card = await waitFor('the file card at A', async () => (await cards(a)).find((x) => x.kind === 'file'), 5000);
      fileId = card.value.id;
      const seen = await seesLive('B', 'the file card', async () => (await cards(b)).find((x) => x.id === fileId && x.fileName));
      assert(seen.fileName === notes.name, `B's card is named ${JSON.stringify(seen.fileName)}`);
      assert(seen.fileMeta === `${notes.bytes.length} B · text/plain; charset=utf-8`, `B's card says ${JSON.stringify(seen.fileMeta)}`);
      const download = b.waitForEvent('download');
      await b.click(`[data-testid="card-${fileId}"] [data-testid="file-download"]`);
      const d = await download;
      assert(d.suggestedFilename() === notes.name, `saved as ${JSON.stringify(d.suggestedFilename())}`);
      const path = join(artifacts, 'files-download.txt');
      await d.saveAs(path);
      assert(readFileSync(path).equals(notes.bytes), 'the downloaded bytes differ from the upload');
    });

    await step('a slow upload shows its progress bar until the card appears', async () => {
      const cdp = await a.context().newCDPSession(a);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 24 * 1024 });
      try {
        const before = (await cards(a)).length;
        const data = Buffer.alloc(60_000, 'a');
        await a.setInputFiles('[data-testid="file-input"]', { name: 'slow.txt', mimeType: 'text/plain', buffer: data });
        const bar = await waitFor('the progress bar', async () => {
          const v = await a.$eval('[data-testid="upload-progress"] progress', (el) => ({ value: el.value, max: el.max })).catch(() => null);
          return v && v.value > 0 && v.value < v.max && v;
        }, 5000);
        log(`      progress ${bar.value.value} of ${bar.value.max}`);
        assert((await a.locator('[data-testid="upload-progress"]').textContent()).includes('slow.txt'), 'the progress bar does not name the file');
        await waitFor('the card of the slow upload', async () => (await cards(a)).length === before + 1, 10000);
        assert((await a.locator('[data-testid="upload-progress"]').count()) === 0, 'the progress bar stays after the upload');
      } finally {
        await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
        await cdp.detach();
      }
    });

    await step('Ctrl+V pastes copied cards, and pastes files instead when the clipboard holds some', async () => {
      const before = await cards(a);
      await a.click(`.react-flow__node[data-id="${imageId}"] .card-kind`, { force: true });
      await a.keyboard.press('Control+C');
      await a.keyboard.press('Control+V');
      const copied = await waitFor('the pasted copy of the image card', async () => {
        const l = await cards(a);
        return l.length === before.length + 1 && l.find((x) => !before.some((y) => y.id === x.id));
      }, 5000);
      assert(copied.value.kind === 'image', `the pasted card is ${copied.value.kind}`);
      await waitFor('the copy shows the picture', async () => (await cards(a)).find((x) => x.id === copied.value.id)?.natural?.w === 320, 5000);
      // The same keys with a picture on the clipboard: the picture is uploaded, the copied cards are not pasted.
      const count = before.length + 1;
      const uploaded = a.waitForResponse((r) => r.url().includes(`/canvases/${canvasId}/files`) && r.request().method() === 'POST');
      await a.evaluate(({ b64 }) => {
        const bin = atob(b64);
        const buf = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) buf[i] = bin.charCodeAt(i);
        const dt = new DataTransfer();
        dt.items.add(new File([buf], 'pasted.png', { type: 'image/png' }));
        window.dispatchEvent(new KeyboardEvent('keydown', { key: 'v', ctrlKey: true, bubbles: true, cancelable: true }));
        document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      }, { b64: png(64, 32).toString('base64') });
      assert((await uploaded).status() === 201, 'the pasted picture was not uploaded');
      const pasted = await waitFor('the pasted picture', async () => {
        const l = await cards(a);
        return l.length === count + 1 && l.find((x) => x.kind === 'image' && x.natural?.w === 64);
      }, 5000);
      assert(pasted.value.w === 240 && pasted.value.h === 120, `the pasted picture's card is ${pasted.value.w}×${pasted.value.h}; want 240×120`);
      await sleep(300);
      assert((await cards(a)).length === count + 1, 'the copied cards were pasted as well');
      // Clean up, so that the next steps count from here.
      await a.keyboard.press('Escape');
      await a.keyboard.press('Control+Z');
      await a.keyboard.press('Control+Z');
      await waitFor('the pasted cards undone', async () => (await cards(a)).length === before.length, 5000);
    });

    await step('a file over MAX_FILE_SIZE is refused and the studio says why', async () => {
      const before = (await cards(a)).length;
      const big = Buffer.alloc(maxFileSize * 3, 7);
      await a.setInputFiles('[data-testid="file-input"]', { name: 'huge.bin', mimeType: 'application/octet-stream', buffer: big });
      const toast = await waitFor('the upload error', async () => a.locator('[data-testid="upload-error"]').first().textContent({ timeout: 200 }), 10000);
      log(`      A is told: ${toast.value}`);
      assert(/huge\.bin/.test(toast.value) && /too large/.test(toast.value) && toast.value.includes(String(maxFileSize)), `the error says ${JSON.stringify(toast.value)}`);
      await a.screenshot({ path: join(artifacts, 'files-too-large.png') });
      await sleep(300);
      assert((await cards(a)).length === before, 'a card was added for the refused file');
    });

    await step('C, a viewer, sees the picture but cannot upload', async () => {
      await waitFor('the picture at C', async () => (await cards(c)).find((x) => x.id === imageId)?.natural?.w === 320, 5000);
      for (const id of ['add-image', 'add-file']) assert(await c.locator(`[data-testid="${id}"]`).isDisabled(), `${id} is enabled for a viewer`);
      let posted = false;
      c.on('request', (r) => {
        if (r.method() === 'POST' && r.url().includes('/files')) posted = true;
      });
      const pane = await c.locator('.react-flow__pane').boundingBox();
      await dropFile(c, picture, pane.x + 40, pane.y + 40);
      await sleep(500);
      assert(!posted, "a viewer's drop started an upload");
      assert((await cards(c)).length === 3, 'a viewer added a card');
    });

    await step('after a reload, A and B still show the picture and the file', async () => {
      await a.reload();
      await b.reload();
      for (const [who, p] of [['A', a], ['B', b]]) {
        await waitFor(`${who} connected after reload`, async () => (await status(p)) === 'connected', 10000);
        await waitFor(`${who}: the picture and the file after reload`, async () => {
          const l = await cards(p);
          const img = l.find((x) => x.id === imageId);
          const file = l.find((x) => x.id === fileId);
          return img?.natural?.w === 320 && img.w === 240 && img.h === 150 && file?.fileName === notes.name;
        }, 8000);
      }
    });

    await step('the studio in 简体中文 names the buttons', async () => {
      await a.selectOption('[data-testid="language"]', 'zh-CN');
      assert((await a.locator('[data-testid="add-image"]').textContent()) === '图片', 'the Image button is not translated');
      assert((await a.locator('[data-testid="add-file"]').textContent()) === '文件', 'the File button is not translated');
      assert((await a.locator(`[data-testid="card-${fileId}"] [data-testid="file-download"]`).textContent()) === '下载', 'Download is not translated');
      await a.selectOption('[data-testid="language"]', 'en');
    });
  } catch {
    for (const [who, p] of Object.entries(pages)) await p.screenshot({ path: join(artifacts, `files-failure-${who}.png`) }).catch(() => {});
  } finally {
    await browser.close().catch(() => {});
    await sker.close();
  }
  const passed = results.filter((r) => r.ok).length;
  const fails = results.filter((r) => !r.ok).length;
  console.log(`files e2e: ${passed} passed, ${fails} failed`);
  process.exit(results.some((r) => !r.ok) ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  console.log('files e2e: 0 passed, 1 failed');
  process.exit(1);
});
