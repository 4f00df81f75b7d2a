#!/usr/bin/env node
// End-to-end test of the built-in browser viewer: start the player (or the mock host with --mock),
// open the `viewer:` URL it prints in Debian's chromium through playwright-core, and check the
// viewer against the live host. One line per check; exit status 1 if any check failed, 2 if the
// run could not start (missing player binary or chromium).
//
//   node run.mjs            # the real player: $STAGELINK_PLAYER or <repo>/target/debug/stagelink-player
//   node run.mjs --mock     # the mock host in this folder
//
// Env: STAGELINK_PLAYER (player path), CHROMIUM (browser path, default /usr/bin/chromium),
// STAGELINK_SCREENSHOT=1 (write the screenshot to <repo>/docs/viewer.png instead of a temp dir),
// STAGELINK_HEADED=1 (show the browser), STAGELINK_TEST_TIMEOUT_S (whole run, default 300).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { lz4Compress } from './mock-host.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const MOCK = process.argv.includes('--mock');
const PLAYER = process.env.STAGELINK_PLAYER || path.join(REPO, 'target', 'debug', process.platform === 'win32' ? 'stagelink-player.exe' : 'stagelink-player');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN = 's3cr3t';
const HOST_ARGS = ['--ws', '127.0.0.1:0', '--no-pipe', '--token', TOKEN, '--renderer', 'cpu', '--project', 'demo'];
const RUN_TIMEOUT_MS = Number(process.env.STAGELINK_TEST_TIMEOUT_S || 300) * 1000;
// Sprites-vs-pixels agreement over content pixels: the mock scores ~95, a viewer that ignores
// reg_point ~85. Tunable while the real renderer and the viewer converge.
const AGREE_MIN = Number(process.env.STAGELINK_AGREE_MIN || 88);

const results = { passed: 0, failed: 0, skipped: 0 };
let host = null;
let hostLog = [];
let context = null;
let userDataDir = null;

function line(status, name, detail) {
  const tag = { ok: 'ok  ', fail: 'FAIL', skip: 'skip' }[status];
  console.log(`${tag} ${name}${detail ? ` — ${detail}` : ''}`);
}

// Run one check: fn returns a detail string (or nothing). A thrown error fails the check.
async function check(name, fn, { essential = false } = {}) {
  try {
    const detail = await fn();
    results.passed++;
    line('ok', name, detail);
    return true;
  } catch (e) {
    results.failed++;
    line('fail', name, e && e.message ? e.message : String(e));
    if (essential) throw new Abort(`${name} failed; the remaining checks need it`);
    return false;
  }
}
function skip(name, why) { results.skipped++; line('skip', name, why); }
class Abort extends Error {}

async function waitFor(what, fn, { timeout = 10000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

// ------------------------------------------------------------------ host process
async function startHost() {
  const [cmd, args] = MOCK ? [process.execPath, [path.join(HERE, 'mock-host.mjs'), ...HOST_ARGS]] : [PLAYER, HOST_ARGS];
  if (!MOCK && !fs.existsSync(PLAYER)) {
    line('fail', 'player binary exists', `not found: ${PLAYER} — build it with \`cargo build -p stagelink-player\`, point STAGELINK_PLAYER at it, or run \`node run.mjs --mock\` against the mock host`);
    console.log('browser: 0 passed, 1 failed, 0 skipped');
    process.exit(2);
  }
  host = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_BACKTRACE: '1' } });
  const keep = (l) => { hostLog.push(l); if (hostLog.length > 60) hostLog.shift(); };
  readline.createInterface({ input: host.stderr }).on('line', (l) => keep(`[stderr] ${l}`));
  const lines = readline.createInterface({ input: host.stdout });
  return new Promise((resolve, reject) => {
    let viewer = null;
    const timer = setTimeout(() => reject(new Error(`no ${viewer ? '`ready`' : '`viewer: http://…`'} line within 60 s`)), 60000);
    host.once('exit', (code, sig) => { clearTimeout(timer); reject(new Error(`host exited early (${code ?? sig})`)); });
    host.once('error', (e) => { clearTimeout(timer); reject(e); });
    lines.on('line', (l) => {
      keep(`[stdout] ${l}`);
      const m = /^viewer: (http:\/\/\S+)/.exec(l.trim());
      if (m) viewer = m[1];
      if (l.trim() === 'ready' && viewer) { clearTimeout(timer); resolve(viewer); }
    });
  });
}
function stopHost() {
  if (!host || host.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { try { host.kill('SIGKILL'); } catch { /* gone */ } resolve(); }, 3000);
    host.once('exit', () => { clearTimeout(t); resolve(); });
    host.kill('SIGTERM');
  });
}

// ------------------------------------------------------------------ page helpers
async function canvasStats(page) {
  return page.evaluate(() => {
    const c = document.getElementById('stage');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const counts = new Map();
    let hash = 2166136261;
    for (let i = 0; i < d.length; i += 4) {
      const v = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
      counts.set(v, (counts.get(v) || 0) + 1);
      hash = Math.imul(hash ^ v, 16777619) >>> 0;
    }
    let bg = 0;
    let bgN = -1;
    for (const [v, n] of counts) if (n > bgN) { bg = v; bgN = n; }
    const total = d.length / 4;
    return { w: c.width, h: c.height, hash, colors: counts.size, nonBg: (total - bgN) / total, bg: `#${bg.toString(16).padStart(6, '0')}` };
  });
}
const vstate = (page) => page.evaluate(() => window.StagelinkViewer.state);
async function healthz(base) {
  const r = await fetch(new URL('/healthz', base), { cache: 'no-store' });
  if (!r.ok) throw new Error(`/healthz answered ${r.status}`);
  return r.json();
}
const logHas = (page, kind, re) => page.evaluate(([k, src]) => [...document.querySelectorAll(`#log li[data-kind="${k}"] .msg`)].some((e) => new RegExp(src).test(e.textContent)), [kind, re.source]);

// ------------------------------------------------------------------ the checks
async function main() {
  if (!fs.existsSync(CHROMIUM)) {
    line('fail', 'chromium exists', `not found at ${CHROMIUM}: \`apt-get install -y chromium\` (Debian) or set CHROMIUM`);
    console.log('browser: 0 passed, 1 failed, 0 skipped');
    process.exit(2);
  }
  console.log(`# viewer e2e against ${MOCK ? 'the mock host' : PLAYER}`);
  let viewerUrl;
  await check('host starts and prints its viewer URL', async () => {
    viewerUrl = await startHost();
    return viewerUrl;
  }, { essential: true });
  const base = new URL(viewerUrl);

  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagelink-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: process.env.STAGELINK_HEADED !== '1',
    viewport: { width: 1440, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'].filter((a) => a !== '--headless' || process.env.STAGELINK_HEADED !== '1'),
  });
  const page = context.pages()[0] || (await context.newPage());
  const pageErrors = [];
  const consoleErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });

  await check('viewer page loads and shows "connected"', async () => {
    await page.goto(viewerUrl, { waitUntil: 'load' });
    await waitFor('#status to be connected', async () => (await page.getAttribute('#status', 'data-state')) === 'connected');
    const text = (await page.textContent('#status')).trim();
    if (!/connected/i.test(text)) throw new Error(`#status reads ${JSON.stringify(text)}`);
    return `#status "${text}", project ${await page.textContent('#project')}`;
  }, { essential: true });

  await check('LZ4 block decoder round-trips (viewer decoder, reference encoder)', async () => {
    const cases = [];
    const rnd = (n, seed) => { let x = seed; return Array.from({ length: n }, () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x >>> 24; }); };
    cases.push(new Uint8Array(64 * 64 * 4).fill(7));
    cases.push(Uint8Array.from({ length: 64 * 64 * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i >> 6) & 255)));
    cases.push(Uint8Array.from(rnd(5000, 1)));
    cases.push(Uint8Array.from([...rnd(300, 2), ...new Array(1000).fill(3), ...rnd(40, 3)]));
    cases.push(new Uint8Array(13));
    for (const raw of cases) {
      const z = Array.from(lz4Compress(raw));
      const ok = await page.evaluate(([zz, expect]) => {
        const out = window.StagelinkViewer.lz4Decompress(Uint8Array.from(zz), expect.length);
        return out.length === expect.length && out.every((v, i) => v === expect[i]);
      }, [z, Array.from(raw)]);
      if (!ok) throw new Error(`mismatch on a ${raw.length}-byte case`);
    }
    const bad = await page.evaluate(() => { try { window.StagelinkViewer.lz4Decompress(Uint8Array.from([0x1f, 1, 0xff, 0xff]), 100); return false; } catch { return true; } });
    if (!bad) throw new Error('a corrupt block was accepted');
    return `${cases.length} cases, corrupt input rejected`;
  });

  let first;
  await check('sprites mode: the canvas draws the stage', async () => {
    first = await waitFor('a drawn canvas', async () => {
      const s = await canvasStats(page);
      return s.nonBg > 0.01 && s.colors >= 3 ? s : null;
    });
    return `${first.w}x${first.h}, ${(first.nonBg * 100).toFixed(1)}% non-background, ${first.colors} colours`;
  });

  await check('the canvas changes over time', async () => {
    const h0 = first ? first.hash : (await canvasStats(page)).hash;
    const s = await waitFor('the canvas hash to change', async () => {
      const c = await canvasStats(page);
      return c.hash !== h0 ? c : null;
    });
    return `hash ${h0.toString(16)} → ${s.hash.toString(16)}`;
  });

  await check('live panel: frame advances, fps and messages/s measured', async () => {
    const f0 = Number(await page.textContent('#frame'));
    await waitFor('#frame to advance', async () => Number(await page.textContent('#frame')) !== f0);
    const fps = await waitFor('#fps > 0', async () => { const v = parseFloat(await page.textContent('#fps')); return v > 0 ? v : null; });
    const msgs = await waitFor('#msgs > 0', async () => { const v = Number(await page.textContent('#msgs')); return v > 0 ? v : null; });
    return `frame ${f0} → ${await page.textContent('#frame')}, fps ${fps}, ${msgs} msgs/s, ${await page.textContent('#bytes')}/s`;
  });

  await check('#pause pauses the host (/healthz playing:false) and shows ack latency', async () => {
    await page.click('#pause');
    const h = await waitFor('/healthz playing:false', async () => { const j = await healthz(base); return j.playing === false ? j : null; });
    await waitFor('viewer shows paused', async () => (await vstate(page)).movie.playing === false);
    const lat = await waitFor('#latency', async () => { const t = await page.textContent('#latency'); return /ms/.test(t) ? t : null; });
    return `host paused at frame ${h.frame}, ack latency ${lat}`;
  });

  await check('#step-fwd and #step-back move the paused host by one frame', async () => {
    const fc = (await vstate(page)).movie.frame_count;
    const f0 = (await healthz(base)).frame;
    const [btn, want] = f0 < fc ? ['#step-fwd', f0 + 1] : ['#step-back', f0 - 1];
    await page.click(btn);
    await waitFor(`/healthz frame ${want}`, async () => (await healthz(base)).frame === want);
    const back = btn === '#step-fwd' ? '#step-back' : '#step-fwd';
    await page.click(back);
    await waitFor(`/healthz frame ${f0}`, async () => (await healthz(base)).frame === f0);
    await waitFor('#frame to follow', async () => Number(await page.textContent('#frame')) === f0);
    return `${f0} → ${want} → ${f0}`;
  });

  await check('#frame-slider goes to a frame; #rewind goes to frame 1', async () => {
    const st = await vstate(page);
    const target = Math.max(2, Math.floor(st.movie.frame_count / 2)) === st.movie.frame ? Math.floor(st.movie.frame_count / 3) : Math.max(2, Math.floor(st.movie.frame_count / 2));
    await page.evaluate((t) => {
      const s = document.getElementById('frame-slider');
      s.value = String(t);
      s.dispatchEvent(new Event('input', { bubbles: true }));
      s.dispatchEvent(new Event('change', { bubbles: true }));
    }, target);
    await waitFor(`/healthz frame ${target}`, async () => (await healthz(base)).frame === target);
    await waitFor('slider to follow', async () => Number(await page.inputValue('#frame-slider')) === target);
    await page.click('#rewind');
    await waitFor('/healthz frame 1', async () => (await healthz(base)).frame === 1);
    await page.evaluate((t) => { const s = document.getElementById('frame-slider'); s.value = String(t); s.dispatchEvent(new Event('change', { bubbles: true })); }, target);
    await waitFor(`/healthz frame ${target}`, async () => (await healthz(base)).frame === target);
    return `went to ${target}, rewound to 1, back to ${target}`;
  });

  await check('#tempo sets the tempo (acked, frames stream reports it)', async () => {
    const before = (await vstate(page)).movie.tempo;
    const want = before === 12 ? 15 : 12;
    await page.fill('#tempo', String(want));
    await page.press('#tempo', 'Enter');
    await waitFor('an applied set_tempo ack in the log', () => logHas(page, 'ack', new RegExp(`set_tempo ${want} applied`)));
    await waitFor(`the frames stream to report tempo ${want}`, async () => (await vstate(page)).movie.tempo === want);
    await page.fill('#tempo', String(before));
    await page.press('#tempo', 'Enter');
    await waitFor(`tempo back to ${before}`, async () => (await vstate(page)).movie.tempo === before);
    return `${before} → ${want} → ${before} fps`;
  });

  let target = null;
  await check('clicking a sprite on the canvas selects it in the inspector', async () => {
    const targets = await waitFor('a clickable sprite', async () => {
      const t = await page.evaluate(() => window.StagelinkViewer.targets());
      return t.length ? t : null;
    });
    target = targets.find((t) => t.kind === 'shape' || t.kind === 'bitmap') || targets[0];
    await page.mouse.click(target.x, target.y);
    await waitFor(`#inspector data-key=${target.key}`, async () => (await page.getAttribute('#inspector', 'data-key')) === target.key);
    const shown = Number(await page.textContent('#insp-loc_h'));
    const model = await page.evaluate((k) => window.StagelinkViewer.sprite(k), target.key);
    if (shown !== model.loc_h) throw new Error(`#insp-loc_h shows ${shown}, the sprite has ${model.loc_h}`);
    return `sprite ${target.sprite_num} (${target.kind}) at page (${Math.round(target.x)},${Math.round(target.y)}), loc_h ${shown}`;
  });

  await check('editing loc_h in the inspector reaches the host and comes back confirmed', async () => {
    if (!target) throw new Error('no sprite selected');
    const sel = await page.getAttribute('#inspector', 'data-key');
    const before = Number(await page.textContent('#insp-loc_h'));
    const stageW = (await vstate(page)).stage.width;
    const want = before + 17 < stageW - 10 ? before + 17 : before - 17;
    // Trace every state the row goes through, to check the pending mark and that the confirmed
    // cell never shows the new value before the host's sprites stream reports it.
    await page.evaluate(() => {
      window.__editTrace = [];
      const snap = () => {
        const row = document.getElementById('row-loc_h');
        const cur = document.getElementById('insp-loc_h');
        if (row && cur) window.__editTrace.push({ cls: row.className, cur: cur.textContent });
      };
      new MutationObserver(snap).observe(document.getElementById('inspector'), { subtree: true, childList: true, attributes: true, characterData: true });
    });
    await page.fill('#edit-loc_h', String(want));
    await page.press('#edit-loc_h', 'Enter');
    await waitFor(`#insp-loc_h to read ${want} (confirmed by the sprites stream)`, async () => Number(await page.textContent('#insp-loc_h')) === want);
    await waitFor('the row to leave the pending state', async () => !/pending/.test(await page.getAttribute('#row-loc_h', 'class')));
    const trace = await page.evaluate(() => window.__editTrace);
    const pendingStates = trace.filter((t) => /pending/.test(t.cls));
    if (!pendingStates.length) throw new Error('the row was never marked pending');
    if (pendingStates.some((t) => Number(t.cur) === want)) throw new Error('the inspector showed the new value while the edit was still pending');
    const stage = await page.evaluate(() => window.StagelinkViewer.request('stage'));
    const onHost = stage.sprites.find((s) => `${s.sprite_num}:${s.begin_frame}` === sel);
    if (!onHost) throw new Error(`the host's stage response has no sprite ${sel}`);
    if (onHost.loc_h !== want) throw new Error(`the host reports loc_h ${onHost.loc_h}, expected ${want}`);
    return `sprite ${sel} loc_h ${before} → ${want}: pending, then confirmed by the sprites stream; the host's stage response agrees`;
  });

  await check('a rejected edit shows the host\'s error message', async () => {
    await page.evaluate(() => window.StagelinkViewer.editSelected('no_such_prop', 1));
    await waitFor('#inspector-error to show the rejection', async () => {
      const el = await page.$('#inspector-error:not([hidden])');
      return el && /rejected/.test(await el.textContent());
    });
    const text = (await page.textContent('#inspector-error')).trim();
    if (!/no_such_prop/.test(text) || !/[a-z_]+:/.test(text)) throw new Error(`unexpected message ${JSON.stringify(text)}`);
    await waitFor('an error entry in the log', () => logHas(page, 'error', /no_such_prop/));
    return text;
  });

  await check('#play resumes the host (/healthz playing:true)', async () => {
    await page.click('#play');
    const h = await waitFor('/healthz playing:true', async () => { const j = await healthz(base); return j.playing === true ? j : null; });
    return `playing from frame ${h.frame}`;
  });

  await check('pixels mode shows the host\'s rendered pixels', async () => {
    await page.click('#mode-pixels');
    const mode = await page.getAttribute('#stage', 'data-mode');
    if (mode !== 'pixels') throw new Error(`#stage data-mode is ${mode}`);
    const p0 = (await vstate(page)).pixels.frames;
    await waitFor('2 more pixel frames (each acked with pixels_ack)', async () => (await vstate(page)).pixels.frames >= p0 + 2, { timeout: 15000 });
    const s = await waitFor('a drawn canvas in pixels mode', async () => {
      const c = await canvasStats(page);
      return c.nonBg > 0.01 && c.colors >= 3 ? c : null;
    });
    const px = (await vstate(page)).pixels;
    if (px.errors) throw new Error(`${px.errors} tiles failed to decode`);
    return `${s.w}x${s.h}, ${(s.nonBg * 100).toFixed(1)}% non-background; ${px.frames} frames, ${px.tiles} tiles (${px.lz4} lz4, ${px.raw} raw)`;
  });

  await check('sprites and pixels modes agree on a paused frame', async () => {
    await page.evaluate(() => window.StagelinkViewer.select(null));
    await page.click('#pause');
    await waitFor('/healthz playing:false', async () => (await healthz(base)).playing === false);
    // Compare on a frame with no transition in progress (the viewer's sprite view does not draw
    // transitions; the renderer does): the demo's frame 60.
    await page.evaluate(() => { const s = document.getElementById('frame-slider'); s.value = '60'; s.dispatchEvent(new Event('change', { bubbles: true })); });
    await waitFor('/healthz frame 60', async () => (await healthz(base)).frame === 60);
    await waitFor('the pixel frame of the paused frame', async () => {
      const st = await vstate(page);
      return st.pixels.frame === st.movie.frame && st.movie.playing === false;
    });
    // The images stay in the page (shipping 1.2 M numbers over CDP takes seconds).
    const grab = (slot) => page.evaluate((k) => {
      const c = document.getElementById('stage');
      window[k] = { w: c.width, h: c.height, data: c.getContext('2d').getImageData(0, 0, c.width, c.height).data };
    }, slot);
    await page.waitForFunction(() => document.getElementById('stage').dataset.mode === 'pixels');
    await grab('__grabPixels');
    await page.click('#mode-sprites');
    if ((await page.getAttribute('#stage', 'data-mode')) !== 'sprites') throw new Error('#mode-sprites did not switch back');
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await grab('__grabSprites');
    await page.click('#play');
    await waitFor('/healthz playing:true', async () => (await healthz(base)).playing === true);
    // Compare where either image shows content (not the stage background, the most common colour).
    const cmp = await page.evaluate(() => {
      const px = window.__grabPixels;
      const sp = window.__grabSprites;
      if (px.w !== sp.w || px.h !== sp.h) return { mismatch: `pixels ${px.w}x${px.h}, sprites ${sp.w}x${sp.h}` };
      const a = px.data;
      const b = sp.data;
      const counts = new Map();
      for (let i = 0; i < a.length; i += 4) {
        const v = (a[i] << 16) | (a[i + 1] << 8) | a[i + 2];
        counts.set(v, (counts.get(v) || 0) + 1);
      }
      const bg = [...counts].sort((x, y) => y[1] - x[1])[0][0];
      const isBg = (d, i) => ((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]) === bg;
      let content = 0;
      let same = 0;
      for (let i = 0; i < a.length; i += 4) {
        if (isBg(a, i) && isBg(b, i)) continue;
        content++;
        if (Math.abs(a[i] - b[i]) + Math.abs(a[i + 1] - b[i + 1]) + Math.abs(a[i + 2] - b[i + 2]) <= 60) same++;
      }
      delete window.__grabPixels;
      delete window.__grabSprites;
      return { content, same };
    });
    if (cmp.mismatch) return `not compared: ${cmp.mismatch}`;
    const { content } = cmp;
    const pct = content ? (100 * cmp.same) / content : 100;
    // Text and antialiasing differ between renderers; a larger mismatch means the two disagree on
    // drawing conventions (registration point, colours, ink, z-order).
    if (pct < AGREE_MIN) throw new Error(`only ${pct.toFixed(1)}% of the content pixels agree (threshold ${AGREE_MIN}%, STAGELINK_AGREE_MIN)`);
    return `${pct.toFixed(1)}% of ${content} content pixels agree; back in sprites mode, playing`;
  });

  if (MOCK) {
    const mock = (p, method = 'GET') => fetch(new URL(p, base), { method }).then((r) => r.json());
    await check('mock: heartbeat answered (pong) and pixel frames acked', async () => {
      const st = await waitFor('a pong at the mock', async () => { const j = await mock('/mock/stats'); return j.pongs > 0 && j.pixels_acks > 0 ? j : null; }, { timeout: 8000 });
      return `${st.pongs} pongs, ${st.pixels_acks} pixels_acks`;
    });
    await check('mock: a gap makes the viewer request a fresh stage snapshot', async () => {
      const before = (await mock('/mock/stats')).requests.stage || 0;
      const g = await mock('/mock/gap', 'POST');
      await waitFor('the gap in the log', () => logHas(page, 'gap', /sounds/));
      await waitFor('a stage request at the mock', async () => ((await mock('/mock/stats')).requests.stage || 0) > before);
      await waitFor('the viewer to apply it', () => logHas(page, 'info', /state rebuilt/));
      return `gap ${g.from_seq}–${g.to_seq} → stage requested and applied`;
    });
    await check('mock: the viewer reconnects by itself after the connection drops', async () => {
      const c0 = (await vstate(page)).connects;
      await mock('/mock/drop', 'POST');
      await waitFor('a new session (re-hello with snapshot)', async () => (await vstate(page)).connects > c0, { timeout: 15000 });
      await waitFor('#status connected', async () => (await page.getAttribute('#status', 'data-state')) === 'connected');
      const f0 = (await vstate(page)).movie.frame;
      await waitFor('frames flowing again', async () => (await vstate(page)).movie.frame !== f0);
      return `connects ${c0} → ${(await vstate(page)).connects}`;
    });
  } else {
    skip('mock-only checks (gap, reconnect, heartbeat counters)', 'they need the mock host\'s control endpoints');
  }

  await check('a wrong token is refused and the viewer stops retrying', async () => {
    const bad = new URL(viewerUrl);
    bad.searchParams.set('token', 'wrong-token');
    const p2 = await context.newPage();
    p2.on('pageerror', (e) => pageErrors.push(`(wrong-token page) ${e.message}`));
    try {
      await p2.goto(bad.href, { waitUntil: 'load' });
      await waitFor('#status disconnected', async () => (await p2.getAttribute('#status', 'data-state')) === 'disconnected');
      const text = (await p2.textContent('#status')).trim();
      if (!/auth_failed/.test(text)) throw new Error(`#status reads ${JSON.stringify(text)}`);
      for (let i = 0; i < 8; i++) { // still disconnected a moment later: no reconnect loop
        await p2.waitForTimeout(100);
        if ((await p2.getAttribute('#status', 'data-state')) !== 'disconnected') throw new Error('the viewer tried again after auth_failed');
      }
      return `#status "${text}"`;
    } finally {
      await p2.close();
    }
  });

  await check('screenshot', async () => {
    const file = process.env.STAGELINK_SCREENSHOT === '1'
      ? path.join(REPO, 'docs', 'viewer.png')
      : path.join(os.tmpdir(), `stagelink-viewer-${MOCK ? 'mock' : 'player'}-${process.pid}.png`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Show a selected sprite that is on the stage now (the edited one may have left it).
    const now = await page.evaluate(() => window.StagelinkViewer.targets());
    const pick = now.find((t) => t.kind === 'shape' && t.sprite_num > 4) || now[0];
    if (pick) await page.mouse.click(pick.x, pick.y);
    await page.waitForTimeout(300);
    await page.screenshot({ path: file });
    return file;
  });

  await check('no uncaught errors in the page', async () => {
    if (pageErrors.length) throw new Error(pageErrors.slice(0, 3).join(' | '));
    return consoleErrors.length ? `${consoleErrors.length} console error(s), e.g. ${consoleErrors[0].slice(0, 120)}` : '';
  });
}

const watchdog = setTimeout(() => {
  line('fail', 'whole run', `did not finish within ${RUN_TIMEOUT_MS / 1000} s`);
  results.failed++;
  finish();
}, RUN_TIMEOUT_MS);

let finishing = false;
async function finish() {
  if (finishing) return;
  finishing = true;
  clearTimeout(watchdog);
  if (context) await context.close().catch(() => {});
  await stopHost();
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  if (results.failed && hostLog.length) {
    console.log('# last host output:');
    for (const l of hostLog.slice(-20)) console.log(`#   ${l}`);
  }
  console.log(`browser: ${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
  process.exit(results.failed ? 1 : 0);
}

main().catch((e) => {
  if (!(e instanceof Abort)) { results.failed++; line('fail', 'run', e && e.stack ? e.stack.split('\n').slice(0, 3).join(' ') : String(e)); } else console.log(`# ${e.message}`);
}).finally(finish);
