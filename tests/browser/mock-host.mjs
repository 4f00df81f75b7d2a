#!/usr/bin/env node
// A small stand-in for `stagelink-player`: serves the built-in viewer and speaks enough of protocol
// v1 (docs/DECISIONS.md, shared/design/protocol.md) to develop and test the viewer without the Rust
// crates: hello/welcome, snapshot, frames/sprites/sprite_events/member_props/sounds events, commands
// with acks applied at the start of the next tick, requests (movie_state, stage, stats, project),
// binary pixel tiles (raw RGBA8 and LZ4 block) with pixels_ack flow control, ping/pong, /healthz.
//
//   node mock-host.mjs [--ws 127.0.0.1:0] [--token s3cr3t | --no-auth] [--project demo] [--fps 30]
//
// It prints the same startup lines as the player (`viewer: …`, `websocket: …`, `socket: off`,
// `renderer: …`, `ready`). Test-only endpoints: POST /mock/drop (cut every WebSocket), POST
// /mock/gap (send a gap on the fifo `sounds` stream), GET /mock/stats.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';
import { WebSocketServer } from 'ws';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VIEWER_DIR = path.resolve(HERE, '../../host-ws/assets/viewer');

// ------------------------------------------------------------------ LZ4 block compressor
// Greedy, one hash table of 4-byte sequences. Output is a valid LZ4 block (no size prefix): the
// last 5 bytes are literals and no match starts within the last 12 bytes.
const LZ4_HASH = new Int32Array(1 << 12);
export function lz4Compress(src) {
  const n = src.length;
  const out = new Uint8Array(n + Math.ceil(n / 255) + 16);
  let o = 0;
  const hash = LZ4_HASH.fill(-1);
  const mflimit = n - 12;
  const matchlimit = n - 5;
  let anchor = 0;
  let i = 0;
  const writeLen = (len) => {
    while (len >= 255) { out[o++] = 255; len -= 255; }
    out[o++] = len;
  };
  while (i < mflimit) {
    const seq = src[i] | (src[i + 1] << 8) | (src[i + 2] << 16) | (src[i + 3] << 24);
    const h = Math.imul(seq, 2654435761) >>> 20;
    const ref = hash[h];
    hash[h] = i;
    if (ref >= 0 && i - ref <= 65535 && src[ref] === src[i] && src[ref + 1] === src[i + 1] && src[ref + 2] === src[i + 2] && src[ref + 3] === src[i + 3]) {
      let len = 4;
      while (i + len < matchlimit && src[ref + len] === src[i + len]) len++;
      const lit = i - anchor;
      const ml = len - 4;
      out[o++] = (Math.min(lit, 15) << 4) | Math.min(ml, 15);
      if (lit >= 15) writeLen(lit - 15);
      out.set(src.subarray(anchor, i), o);
      o += lit;
      const off = i - ref;
      out[o++] = off & 255;
      out[o++] = off >> 8;
      if (ml >= 15) writeLen(ml - 15);
      i += len;
      anchor = i;
    } else {
      i++;
    }
  }
  const lit = n - anchor;
  out[o++] = Math.min(lit, 15) << 4;
  if (lit >= 15) writeLen(lit - 15);
  out.set(src.subarray(anchor, n), o);
  o += lit;
  return out.subarray(0, o);
}

// One binary pixel tile message (28-byte little-endian header + payload).
export function encodeTile({ encoding, flags, frame, x, y, w, h, stageW, stageH, payload }) {
  const b = Buffer.alloc(28 + payload.length);
  b.writeUInt8(1, 0);
  b.writeUInt8(encoding, 1);
  b.writeUInt16LE(flags, 2);
  b.writeUInt32LE(frame, 4);
  b.writeUInt16LE(x, 8);
  b.writeUInt16LE(y, 10);
  b.writeUInt16LE(w, 12);
  b.writeUInt16LE(h, 14);
  b.writeUInt16LE(stageW, 16);
  b.writeUInt16LE(stageH, 18);
  b.writeUInt32LE(w * h * 4, 20);
  b.writeUInt32LE(payload.length, 24);
  Buffer.from(payload.buffer, payload.byteOffset, payload.length).copy(b, 28);
  return b;
}

// A minimal PNG encoder (RGBA8, no filtering) for the bitmap media of the `project` document.
const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
export function encodePng(w, h, rgba) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((w * 4 + 1) * h);
  for (let y = 0; y < h; y++) Buffer.from(rgba.buffer, rgba.byteOffset + y * w * 4, w * 4).copy(raw, y * (w * 4 + 1) + 1);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// ------------------------------------------------------------------ demo movie
const W = 640;
const H = 480;
const FRAME_COUNT = 240;
const TILE = 64;
const PROFILE = process.env.MOCK_PROFILE === '1';
const STREAMS = [
  ['frames', 'latest'], ['pixels', 'latest'], ['sprites', 'coalesce'], ['sprite_events', 'fifo'],
  ['member_props', 'coalesce'], ['movie_props', 'coalesce'], ['stage_props', 'coalesce'], ['keyframes', 'fifo'],
  ['film_loops', 'fifo'], ['sounds', 'fifo'], ['tempos', 'fifo'], ['palettes', 'latest'], ['frame_scripts', 'fifo'],
  ['transitions', 'fifo'], ['text_styles', 'fifo'],
];
const STREAM_NAMES = new Set(STREAMS.map(([n]) => n));
const rgb = (r, g, b, a = 255) => ({ r, g, b, a });

// Member properties follow docs/protocol.md §4.1. Bitmaps carry generated RGBA pixels, sent as PNG
// `media` in the `project` document (the Panel has none: viewers draw it in the sprite's colour).
function bitmapPixels(w, h, fn) {
  const px = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set(fn(x, y), (y * w + x) * 4);
  return px;
}
const TILE_PX = bitmapPixels(28, 28, (x, y) => ((Math.floor(x / 7) + Math.floor(y / 7)) % 2 === 0 ? [255, 196, 0, 255] : [255, 255, 255, 255]));
const STAR_PX = bitmapPixels(44, 44, (x, y) => {
  const dx = x + 0.5 - 22;
  const dy = y + 0.5 - 22;
  const r = Math.hypot(dx, dy);
  const a = Math.atan2(dy, dx);
  const edge = 12 + 9 * Math.cos(5 * a);
  if (r > edge) return [0, 0, 0, 0];
  const t = r / edge;
  return [255, Math.round(224 - 60 * t), Math.round(120 - 100 * t), 255];
});
const members = [
  { cast_lib: 1, member_num: 1, name: 'Floor', kind: 'shape', props: { shape_type: 'rect', fore_color: rgb(38, 46, 68), back_color: rgb(255, 255, 255), filled: true, line_size: 1, width: 640, height: 80 } },
  { cast_lib: 1, member_num: 2, name: 'Ball', kind: 'shape', props: { shape_type: 'oval', fore_color: rgb(255, 255, 255), back_color: rgb(255, 255, 255), filled: true, line_size: 1, width: 24, height: 24 } },
  { cast_lib: 1, member_num: 3, name: 'Beam', kind: 'shape', props: { shape_type: 'line', fore_color: rgb(255, 255, 255, 140), back_color: rgb(255, 255, 255), filled: false, line_size: 2, width: 150, height: 1 } },
  { cast_lib: 1, member_num: 4, name: 'Tile', kind: 'bitmap', props: { width: 28, height: 28, reg_point: [14, 14] }, pixels: TILE_PX },
  { cast_lib: 1, member_num: 5, name: 'Title', kind: 'text', props: { text: 'Stagelink demo', font: 'sans-serif', font_size: 26, color: rgb(236, 242, 250), alignment: 'left', width: 420, height: 36, font_style: 'bold' } },
  { cast_lib: 1, member_num: 6, name: 'Counter', kind: 'text', props: { text: 'frame 1', font: 'monospace', font_size: 16, color: rgb(170, 190, 225), alignment: 'right', width: 150, height: 22 } },
  { cast_lib: 1, member_num: 7, name: 'Panel', kind: 'bitmap', props: { width: 600, height: 52, reg_point: [0, 0] } },
  { cast_lib: 1, member_num: 8, name: 'Star', kind: 'bitmap', props: { width: 44, height: 44, reg_point: [22, 22] }, pixels: STAR_PX },
  { cast_lib: 1, member_num: 9, name: 'Box', kind: 'shape', props: { shape_type: 'rect', fore_color: rgb(62, 207, 142), back_color: rgb(255, 255, 255), filled: true, line_size: 1, width: 60, height: 40 } },
  { cast_lib: 1, member_num: 10, name: 'Chime', kind: 'sound', props: { duration_ms: 1200, loop: false } },
  { cast_lib: 1, member_num: 11, name: 'Bar', kind: 'shape', props: { shape_type: 'rect', fore_color: rgb(255, 255, 255), back_color: rgb(255, 255, 255), filled: true, line_size: 1, width: 100, height: 14 } },
];
for (const m of members) if (m.pixels) m.png = encodePng(m.props.width, m.props.height, m.pixels).toString('base64');
const memberByNum = new Map(members.map((m) => [m.member_num, m]));

function hsl(h, s, l) {
  const f = (n) => {
    const k = (n + h * 12) % 12;
    const a = s * Math.min(l, 1 - l);
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return rgb(f(0), f(8), f(4));
}

// Conventions shared with the viewer (tests/browser/README.md): `loc` is the member's registration
// point, the centre for members without `reg_point`; the sprite's `color` multiplies what the
// member draws (white leaves it unchanged). Spans below give top-left positions for members
// without a reg_point; spriteState moves them to the centre.
// Sprite spans: {num, begin, end, at(frame) -> fields}
const spans = [];
function span(num, begin, end, at) { spans.push({ num, begin, end, at }); }
const base = (memberNum, o) => {
  const m = memberByNum.get(memberNum);
  return {
    member: { cast_lib: 1, member_num: memberNum }, loc_h: 0, loc_v: 0, loc_z: 0,
    width: m.props.width, height: m.props.height, rotation: 0, skew: 0, blend: 100, ink: 0, visible: true,
    color: rgb(255, 255, 255), ...o,
  };
};
span(1, 1, FRAME_COUNT, () => base(1, { loc_h: 0, loc_v: 400 }));
span(2, 1, FRAME_COUNT, () => base(7, { loc_h: 20, loc_v: 14, blend: 70, loc_z: 1, color: rgb(58, 78, 128) }));
span(3, 1, FRAME_COUNT, () => base(5, { loc_h: 40, loc_v: 24, ink: 36, loc_z: 2 }));
span(4, 1, FRAME_COUNT, () => base(6, { loc_h: 466, loc_v: 440, ink: 36, loc_z: 2 }));
for (let i = 0; i < 40; i++) {
  span(5 + i, 1, FRAME_COUNT, (f) => {
    const size = 14 + (i % 4) * 6;
    const r = 60 + (i % 5) * 28;
    const a = (2 * Math.PI * i) / 40 + ((f - 1) * 2 * Math.PI * (1 + (i % 3))) / FRAME_COUNT;
    return base(2, {
      loc_h: Math.round(320 + r * Math.cos(a) - size / 2), loc_v: Math.round(210 + r * 0.62 * Math.sin(a) - size / 2),
      width: size, height: size, loc_z: 10 + (i % 3), blend: 55 + (i % 5) * 10, color: hsl(i / 40, 0.75, 0.6),
    });
  });
}
for (let j = 0; j < 16; j++) {
  span(45 + j, 1, FRAME_COUNT, (f) => base(4, {
    loc_h: 40 + (j % 8) * 74 + 14, loc_v: 334 + Math.floor(j / 8) * 34 + 14 - Math.round(4 * Math.sin((f + j * 9) / 12)),
    // (reg_point is the tile's centre, so loc is its centre)
    rotation: j % 2 ? ((f * 3) % 360) : 0, ink: j % 2 ? 36 : 0, loc_z: 5,
  }));
}
for (let k = 0; k < 4; k++) {
  span(61 + k, 1, FRAME_COUNT, (f) => base(3, { loc_h: 320, loc_v: 210, rotation: (f * 1.5 + k * 90) % 360, loc_z: 8 }));
}
span(65, 1, 120, (f) => base(8, { loc_h: 62 + Math.round((f - 1) * 4.5), loc_v: 118, loc_z: 20 }));
span(65, 121, FRAME_COUNT, (f) => base(9, { loc_h: 580 - Math.round((f - 121) * 4.5), loc_v: 100, rotation: (f * 4) % 360, skew: 12, loc_z: 20 }));
span(66, 1, FRAME_COUNT, (f) => base(11, {
  loc_h: Math.round(270 + 200 * Math.sin((f / FRAME_COUNT) * 4 * Math.PI)), loc_v: 380, color: rgb(255, 99, 132), loc_z: 6,
}));

const SPRITE_PROPS = {
  end_frame: 'int', member: 'member', loc_h: 'num', loc_v: 'num', loc_z: 'int', width: 'num', height: 'num',
  rotation: 'num', skew: 'num', blend: 'num', ink: 'int', visible: 'bool', color: 'color',
};

// ------------------------------------------------------------------ engine state
const engine = {
  frame: 1, playing: true, tempo: 30, startedAt: Date.now(), tempoTimer: null,
  overrides: new Map(),     // "num:begin" -> {prop: value}
  published: new Map(),     // "num:begin" -> last published full state
  queue: [],                // [{session, id, command}]
  seqs: Object.fromEntries(STREAMS.map(([n]) => [n, 0])),
  stageProps: { width: W, height: H, bg_color: rgb(22, 27, 40) },
  movieProps: { name: 'demo', frame_count: FRAME_COUNT },
  counterText: '',
  lastFrameMsg: '',
  pixels: null,             // current rendered RGBA buffer
  pixelsFrame: 0,
  renderedKey: '',
};
const counters = { pongs: 0, pixels_acks: 0, hellos: 0, connections: 0, requests: {}, commands: {}, gaps_sent: 0 };
const sessions = new Set();

const keyOf = (num, begin) => `${num}:${begin}`;
function spriteState(sp, frame) {
  const s = { sprite_num: sp.num, begin_frame: sp.begin, end_frame: sp.end, ...sp.at(frame) };
  if (!memberByNum.get(s.member.member_num).props.reg_point) {
    s.loc_h = Math.round(s.loc_h + s.width / 2);
    s.loc_v = Math.round(s.loc_v + s.height / 2);
  }
  const o = engine.overrides.get(keyOf(sp.num, sp.begin));
  if (o) Object.assign(s, o);
  return s;
}
function activeStates(frame = engine.frame) {
  const out = [];
  for (const sp of spans) if (frame >= sp.begin && frame <= sp.end) out.push(spriteState(sp, frame));
  return out;
}
function memberState(m) {
  const props = { ...m.props };
  if (m.member_num === 6) props.text = engine.counterText || `frame ${engine.frame}`;
  return { cast_lib: m.cast_lib, member_num: m.member_num, name: m.name, kind: m.kind, props };
}
function projectDoc() { // docs/protocol.md §8 `project`
  return {
    name: CONFIG.project, stage: { ...engine.stageProps }, frame_count: FRAME_COUNT, tempo: engine.tempo, movie_props: { ...engine.movieProps },
    casts: [{ cast_lib: 1, name: 'internal', members: members.map((m) => ({ ...memberState(m), ...(m.png ? { media: { format: 'png', base64: m.png } } : {}) })) }],
    score: { sprites: spans.map((sp) => ({ ...spriteState(sp, sp.begin), keyframes: [] })), tempos: [{ frame: 1, tempo: 30 }], sounds: [], transitions: [], frame_scripts: [], palettes: [] },
  };
}
function movieState() {
  return { frame: engine.frame, frame_count: FRAME_COUNT, tempo: engine.tempo, playing: engine.playing };
}
function stageData() {
  const { pixels: _pixels, ...seqs } = engine.seqs; // pixels has no seq (docs/protocol.md §6.2)
  return {
    seqs,
    movie: movieState(),
    stage_props: { ...engine.stageProps },
    movie_props: { ...engine.movieProps },
    sprites: activeStates(),
    members: members.map(memberState),
  };
}

// ------------------------------------------------------------------ sessions and fan-out
function sendJson(s, obj) {
  if (s.ws.readyState === 1) s.ws.send(JSON.stringify(obj));
}
function subscribed(s, stream) { return s.identified && (s.all || s.subs.has(stream)); }
function publish(stream, items) {
  if (!items.length) return;
  const seq = ++engine.seqs[stream];
  const text = JSON.stringify({ type: 'event', stream, seq, frame: engine.frame, items });
  for (const s of sessions) if (subscribed(s, stream) && s.ws.readyState === 1) s.ws.send(text);
}
function fatal(s, code, n, message) {
  sendJson(s, { type: 'error', code, message, fatal: true });
  s.ws.close(4000 + n, code);
}

function onHello(s, msg) {
  counters.hellos++;
  if (msg.protocol !== 1) return fatal(s, 'protocol_version', 8, `protocol ${msg.protocol} is not supported (1 is)`);
  if (CONFIG.token && msg.token !== CONFIG.token) return fatal(s, 'auth_failed', 7, 'missing or wrong token');
  if (msg.project != null && msg.project !== CONFIG.project) return fatal(s, 'unknown_project', 9, `no project ${msg.project}`);
  s.identified = true;
  s.role = msg.role === 'observer' ? 'observer' : 'controller';
  s.clientId = msg.client && msg.client.id;
  for (const other of sessions) {
    if (other !== s && other.identified && s.clientId && other.clientId === s.clientId) fatal(other, 'session_replaced', 15, 'the same client id connected again');
  }
  sendJson(s, {
    type: 'welcome', protocol: 1, session: `s-${Math.random().toString(16).slice(2, 10)}`,
    server: { name: 'stagelink-mock-host', version: '0.1.0' }, project: CONFIG.project, role: s.role,
    streams: STREAMS.map(([name, policy]) => ({ name, policy })),
    capabilities: ['commands', 'snapshots', 'pixels', 'custom'],
    heartbeat_ms: CONFIG.heartbeatMs, idle_timeout_ms: CONFIG.idleMs,
  });
  subscribe(s, msg.subscribe || [], !!msg.snapshot);
}
function subscribe(s, streams, snapshot) {
  for (const name of streams) {
    if (name === '*') s.all = true;
    else if (STREAM_NAMES.has(name)) s.subs.add(name);
    else sendJson(s, { type: 'error', code: 'unknown_stream', message: `no stream ${name}`, fatal: false });
  }
  if (snapshot) sendJson(s, { type: 'snapshot', ...stageData() });
  if (subscribed(s, 'pixels')) { s.lastSent = null; s.unacked = []; }
}

function onMessage(s, data, isBinary) {
  s.lastRecv = Date.now();
  if (isBinary) return sendJson(s, { type: 'error', code: 'invalid_field', message: 'clients send no binary messages', fatal: false });
  let msg;
  try { msg = JSON.parse(data.toString('utf8')); } catch (e) {
    if (!s.identified) return fatal(s, 'not_identified', 5, 'the first message must be hello');
    return sendJson(s, { type: 'error', code: 'bad_json', message: e.message, fatal: false });
  }
  if (!s.identified) {
    if (msg.type !== 'hello') return fatal(s, 'not_identified', 5, 'the first message must be hello');
    return onHello(s, msg);
  }
  switch (msg.type) {
    case 'hello': return sendJson(s, { type: 'error', code: 'already_identified', message: 'hello was already sent', fatal: false });
    case 'subscribe': return subscribe(s, msg.streams || [], !!msg.snapshot);
    case 'unsubscribe':
      for (const n of msg.streams || []) { s.subs.delete(n); if (n === '*') s.all = false; }
      return undefined;
    case 'ping': return sendJson(s, { type: 'pong', t: msg.t });
    case 'pong': counters.pongs++; return undefined;
    case 'pixels_ack':
      counters.pixels_acks++;
      { // frames are acked in order: drop everything sent up to the acked one (movie frames wrap)
        const at = s.unacked.indexOf(msg.frame);
        if (at >= 0) s.unacked.splice(0, at + 1);
      }
      return undefined;
    case 'bye': s.ws.close(1000, 'bye'); return undefined;
    case 'request': return onRequest(s, msg);
    case 'command': return onCommand(s, msg);
    default: return sendJson(s, { type: 'error', code: 'unknown_type', message: `unknown type ${JSON.stringify(msg.type)}`, fatal: false });
  }
}

function onRequest(s, msg) {
  counters.requests[msg.what] = (counters.requests[msg.what] || 0) + 1;
  const ok = (data) => sendJson(s, { type: 'response', id: msg.id, ok: true, data });
  switch (msg.what) {
    case 'movie_state': return ok(movieState());
    case 'stage': return ok(stageData());
    case 'project': return ok(projectDoc());
    case 'stats': return ok({ messages_in: 0, messages_out: 0, bytes_in: 0, bytes_out: 0, drops: 0, gaps: counters.gaps_sent, per_stream: {}, commands: { ...counters.commands } });
    default:
      return sendJson(s, { type: 'response', id: msg.id, ok: false, error: { code: 'unknown_request', message: `no request ${JSON.stringify(msg.what)}` } });
  }
}

function onCommand(s, msg) {
  const id = msg.id;
  const c = msg.command;
  const reject = (code, message) => sendJson(s, { type: 'ack', id, status: 'rejected', error: { code, message } });
  if (!c || typeof c !== 'object' || typeof c.kind !== 'string') return reject('missing_field', 'command.kind is required');
  if (s.role === 'observer') return reject('forbidden', 'observers cannot send commands');
  if (engine.queue.length >= 64) return sendJson(s, { type: 'ack', id, status: 'busy', error: { code: 'busy', message: 'command queue full' } });
  const err = validate(c);
  if (err) return reject(err[0], err[1]);
  engine.queue.push({ s, id, c });
  return undefined;
}

function spanFor(num, begin) { return spans.find((sp) => sp.num === num && sp.begin === begin); }
function validValue(type, v) {
  switch (type) {
    case 'num': return typeof v === 'number' && Number.isFinite(v);
    case 'int': return Number.isInteger(v);
    case 'bool': return typeof v === 'boolean';
    case 'color': return v === null || (v && typeof v === 'object' && ['r', 'g', 'b'].every((k) => Number.isInteger(v[k]) && v[k] >= 0 && v[k] <= 255));
    case 'member': return v && typeof v === 'object' && memberByNum.has(v.member_num) && v.cast_lib === 1;
    default: return false;
  }
}
function validate(c) {
  switch (c.kind) {
    case 'pause': case 'resume': case 'rewind': return null;
    case 'go_to_frame':
      if (!Number.isInteger(c.frame)) return ['invalid_field', 'frame must be an integer'];
      if (c.frame < 1 || c.frame > FRAME_COUNT) return ['out_of_range', `frame ${c.frame} is outside 1..${FRAME_COUNT}`];
      return null;
    case 'step': {
      if (!Number.isInteger(c.delta)) return ['invalid_field', 'delta must be an integer'];
      const to = engine.frame + c.delta; // checked against the current frame; good enough for a mock
      return to >= 1 && to <= FRAME_COUNT ? null : ['out_of_range', `frame ${to} is outside 1..${FRAME_COUNT}`];
    }
    case 'set_tempo':
      if (!Number.isInteger(c.tempo)) return ['invalid_field', 'tempo must be an integer'];
      return c.tempo >= 1 && c.tempo <= 1000 ? null : ['out_of_range', `tempo ${c.tempo} is outside 1..1000`];
    case 'set_sprite_prop': {
      if (!spanFor(c.sprite_num, c.begin_frame)) return ['unknown_sprite', `no sprite in channel ${c.sprite_num} starting at frame ${c.begin_frame}`];
      const type = SPRITE_PROPS[c.prop];
      if (!type) return ['unknown_property', `sprites have no property ${JSON.stringify(c.prop)}`];
      if (!validValue(type, c.value)) return ['invalid_value', `${JSON.stringify(c.value)} is not a valid ${c.prop}`];
      if (c.prop === 'blend' && (c.value < 0 || c.value > 100)) return ['out_of_range', 'blend is 0..100'];
      if ((c.prop === 'width' || c.prop === 'height') && c.value < 0) return ['out_of_range', `${c.prop} must be >= 0`];
      return null;
    }
    case 'set_stage_prop': case 'set_movie_prop':
      return typeof c.prop === 'string' ? null : ['missing_field', 'prop is required'];
    case 'custom': return c.name === 'echo' ? null : ['unknown_command', `no custom handler ${JSON.stringify(c.name)}`];
    case 'batch': {
      if (!Array.isArray(c.commands)) return ['invalid_field', 'commands must be a list'];
      for (const [i, inner] of c.commands.entries()) {
        if (inner && (inner.kind === 'batch' || inner.kind === 'custom')) return ['invalid_field', `command ${i} of batch: ${inner.kind} is not allowed in a batch`];
        const e = validate(inner || {});
        if (e) return [e[0], `command ${i} of batch: ${e[1]}`];
      }
      return null;
    }
    default: return ['unknown_command', `unknown command kind ${JSON.stringify(c.kind)}`];
  }
}
function apply(c) {
  switch (c.kind) {
    case 'pause': engine.playing = false; return null;
    case 'resume': engine.playing = true; return null;
    case 'rewind': engine.frame = 1; return null;
    case 'go_to_frame': engine.frame = c.frame; return null;
    case 'step': engine.playing = false; engine.frame = Math.min(FRAME_COUNT, Math.max(1, engine.frame + c.delta)); return null;
    case 'set_tempo': engine.tempo = c.tempo; scheduleTicks(); return null;
    case 'set_sprite_prop': {
      const k = keyOf(c.sprite_num, c.begin_frame);
      engine.overrides.set(k, { ...(engine.overrides.get(k) || {}), [c.prop]: c.value });
      return null;
    }
    case 'set_stage_prop': engine.stageProps[c.prop] = c.value; publish('stage_props', [{ prop: c.prop, value: c.value }]); return null;
    case 'set_movie_prop': engine.movieProps[c.prop] = c.value; publish('movie_props', [{ prop: c.prop, value: c.value }]); return null;
    case 'custom': return c.payload ?? null;
    case 'batch': return c.commands.map((inner) => apply(inner));
    default: return null;
  }
}

// ------------------------------------------------------------------ tick
// One tick: apply the queued commands, advance the playhead unless a command moved it, then ack
// every command with the frame of this tick and publish.
function tick() {
  const queued = engine.queue.splice(0);
  const acks = [];
  for (const q of queued) {
    const err = validate(q.c); // the state may have changed since it was queued
    if (err) { acks.push([q, { type: 'ack', id: q.id, status: 'rejected', error: { code: err[0], message: err[1] } }]); continue; }
    const result = apply(q.c);
    counters.commands[q.c.kind] = (counters.commands[q.c.kind] || 0) + 1;
    const ack = { type: 'ack', id: q.id, status: 'applied' };
    if (result !== null && result !== undefined) ack.result = result;
    acks.push([q, ack]);
  }
  const moved = queued.some((q) => ['go_to_frame', 'step', 'rewind'].includes(q.c.kind) || (q.c.kind === 'batch' && q.c.commands.some((c) => ['go_to_frame', 'step', 'rewind'].includes(c.kind))));
  if (engine.playing && !moved) engine.frame = (engine.frame % FRAME_COUNT) + 1;
  for (const [q, ack] of acks) {
    if (ack.status === 'applied') ack.frame = engine.frame;
    sendJson(q.s, ack);
  }
  publishTick();
}

function publishTick() {
  const f = engine.frame;
  const frameItem = { frame: f, frame_count: FRAME_COUNT, tempo: engine.tempo, playing: engine.playing, time_ms: Date.now() - engine.startedAt, width: W, height: H };
  const frameKey = `${f}|${engine.tempo}|${engine.playing}`;
  if (frameKey !== engine.lastFrameMsg) {
    engine.lastFrameMsg = frameKey;
    publish('frames', [frameItem]);
  }
  // sprites: added/removed spans and the changed fields of the rest
  const now = new Map(activeStates(f).map((s) => [keyOf(s.sprite_num, s.begin_frame), s]));
  const events = [];
  const deltas = [];
  for (const [k, prev] of engine.published) {
    if (!now.has(k)) events.push({ manager: 'score', event: 'removed', sprite_num: prev.sprite_num, begin_frame: prev.begin_frame });
  }
  for (const [k, s] of now) {
    const prev = engine.published.get(k);
    if (!prev) {
      events.push({ manager: 'score', event: 'added', sprite_num: s.sprite_num, begin_frame: s.begin_frame, sprite: s });
      deltas.push(s);
      continue;
    }
    const d = { sprite_num: s.sprite_num, begin_frame: s.begin_frame };
    let changed = false;
    for (const [p, v] of Object.entries(s)) {
      if (JSON.stringify(prev[p]) !== JSON.stringify(v)) { d[p] = v; changed = true; }
    }
    if (changed) deltas.push(d);
  }
  engine.published = now;
  publish('sprite_events', events);
  publish('sprites', deltas);
  const text = `frame ${f}`;
  if (text !== engine.counterText) {
    engine.counterText = text;
    publish('member_props', [{ cast_lib: 1, member_num: 6, prop: 'text', value: text }]);
  }
  if (engine.playing && f % 30 === 1) publish('sounds', [{ frame: f, channel: 1, cast_lib: 1, member_num: 10, playing: true }]);
  const t0 = PROFILE ? performance.now() : 0;
  publishPixels();
  if (PROFILE) process.stderr.write(`tick ${engine.frame}: pixels ${(performance.now() - t0).toFixed(1)} ms\n`);
}

function scheduleTicks() {
  clearInterval(engine.tempoTimer);
  engine.tempoTimer = setInterval(tick, Math.max(4, Math.round(1000 / engine.tempo)));
}

// ------------------------------------------------------------------ software renderer + tiles
function render() {
  const buf = Buffer.alloc(W * H * 4);
  const bg = engine.stageProps.bg_color || rgb(255, 255, 255);
  for (let i = 0; i < W * H; i++) { buf[i * 4] = bg.r; buf[i * 4 + 1] = bg.g; buf[i * 4 + 2] = bg.b; buf[i * 4 + 3] = 255; }
  const list = activeStates().sort((a, b) => a.loc_z - b.loc_z || a.sprite_num - b.sprite_num);
  for (const s of list) renderSprite(buf, s);
  return buf;
}
function renderSprite(buf, s) {
  const m = s.member && memberByNum.get(s.member.member_num);
  if (!m || s.visible === false || s.blend <= 0) return;
  const w = s.width;
  const h = s.height;
  const rot = (s.rotation * Math.PI) / 180;
  const sk = Math.tan((s.skew * Math.PI) / 180);
  const cos = Math.cos(rot);
  const sin = Math.sin(rot);
  const lw = m.props.line_size || 2;
  const reg = m.props.reg_point || [(m.props.width || w) / 2, (m.props.height || h) / 2];
  const rx = (reg[0] * w) / (m.props.width || w || 1);
  const ry = (reg[1] * h) / (m.props.height || h || 1);
  const corners = [[0, 0], [w, 0], [w, h], [0, h]].map(([x, y]) => {
    const px = x - rx + sk * (y - ry);
    const py = y - ry;
    return [s.loc_h + px * cos - py * sin, s.loc_v + px * sin + py * cos];
  });
  const isLine = m.props.shape_type === 'line';
  const pad = isLine ? lw : 0;
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[0])) - pad));
  const x1 = Math.min(W - 1, Math.ceil(Math.max(...corners.map((c) => c[0])) + pad));
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((c) => c[1])) - pad));
  const y1 = Math.min(H - 1, Math.ceil(Math.max(...corners.map((c) => c[1])) + pad));
  const tint = (c) => (c ? { r: Math.round((c.r * s.color.r) / 255), g: Math.round((c.g * s.color.g) / 255), b: Math.round((c.b * s.color.b) / 255), a: ((c.a ?? 255) * (s.color.a ?? 255)) / 255 } : null);
  const shapeCol = tint(m.props.fore_color);
  const bgTransparent = s.ink === 36;
  const alphaBase = s.blend / 100;
  for (let py = y0; py <= y1; py++) {
    for (let px = x0; px <= x1; px++) {
      const dx = px + 0.5 - s.loc_h;
      const dy = py + 0.5 - s.loc_v;
      const vy = -dx * sin + dy * cos;
      const ux = dx * cos + dy * sin - sk * vy + rx;
      const uy = vy + ry;
      let col = null;
      if (m.kind === 'shape') {
        if (isLine) {
          const len2 = w * w + h * h;
          const t = len2 ? Math.max(0, Math.min(1, (ux * w + uy * h) / len2)) : 0;
          const ex = ux - t * w;
          const ey = uy - t * h;
          if (ex * ex + ey * ey <= (lw / 2) ** 2) col = shapeCol;
        } else if (m.props.shape_type === 'oval') {
          const nx = (ux - w / 2) / (w / 2);
          const ny = (uy - h / 2) / (h / 2);
          if (nx * nx + ny * ny <= 1) col = shapeCol;
        } else if (ux >= 0 && uy >= 0 && ux < w && uy < h) col = shapeCol;
      } else if (ux >= 0 && uy >= 0 && ux < w && uy < h) {
        if (m.kind === 'bitmap') {
          if (m.pixels) {
            const mw = m.props.width;
            const i = (Math.min(m.props.height - 1, Math.floor((uy * m.props.height) / h)) * mw + Math.min(mw - 1, Math.floor((ux * mw) / w))) * 4;
            const p = m.pixels;
            const white = p[i] === 255 && p[i + 1] === 255 && p[i + 2] === 255;
            if (!((bgTransparent || s.ink === 8) && white)) col = tint({ r: p[i], g: p[i + 1], b: p[i + 2], a: p[i + 3] });
          } else col = s.color;
        } else if (m.kind === 'text') {
          // No fonts here: each line of text is drawn as a bar, enough to see it on the stage.
          const fs = m.props.font_size || 12;
          const txt = m.member_num === 6 ? engine.counterText : m.props.text;
          const tw = Math.min(w, txt.length * fs * 0.55);
          const tx = m.props.alignment === 'right' ? w - tw : 0;
          if (uy >= fs * 0.2 && uy < fs * 0.85 && ux >= tx && ux < tx + tw && Math.floor(ux / (fs * 0.55)) % 5 !== 4) col = tint(m.props.color);
          else if (!bgTransparent) col = rgb(255, 255, 255);
        }
      }
      if (!col) continue;
      const a = alphaBase * ((col.a ?? 255) / 255);
      const i = (py * W + px) * 4;
      buf[i] = Math.round(buf[i] * (1 - a) + col.r * a);
      buf[i + 1] = Math.round(buf[i + 1] * (1 - a) + col.g * a);
      buf[i + 2] = Math.round(buf[i + 2] * (1 - a) + col.b * a);
    }
  }
}

function tileEqual(a, b, x, y, w, h) {
  for (let row = 0; row < h; row++) {
    const o = ((y + row) * W + x) * 4;
    if (a.compare(b, o, o + w * 4, o, o + w * 4) !== 0) return false;
  }
  return true;
}
function tileBytes(buf, x, y, w, h) {
  const out = new Uint8Array(w * h * 4);
  for (let row = 0; row < h; row++) {
    const o = ((y + row) * W + x) * 4;
    out.set(buf.subarray(o, o + w * 4), row * w * 4);
  }
  return out;
}

function publishPixels() {
  const clients = [...sessions].filter((s) => subscribed(s, 'pixels') && s.ws.readyState === 1);
  if (!clients.length) { engine.renderedKey = ''; return; }
  const key = JSON.stringify([engine.frame, [...engine.overrides], engine.stageProps.bg_color]);
  if (key !== engine.renderedKey || !engine.pixels) {
    engine.renderedKey = key;
    engine.pixels = render();
    engine.pixelsFrame = engine.frame;
  }
  const cur = engine.pixels;
  for (const s of clients) {
    if (s.unacked.length >= 2) continue; // flow control: at most 2 unacknowledged pixel frames
    const keyframe = !s.lastSent;
    const tiles = [];
    for (let y = 0; y < H; y += TILE) {
      for (let x = 0; x < W; x += TILE) {
        const w = Math.min(TILE, W - x);
        const h = Math.min(TILE, H - y);
        if (keyframe || !tileEqual(cur, s.lastSent, x, y, w, h)) tiles.push([x, y, w, h]);
      }
    }
    if (!tiles.length) continue;
    tiles.forEach(([x, y, w, h], i) => {
      const raw = tileBytes(cur, x, y, w, h);
      let encoding = 0;
      let payload = raw;
      if (((x / TILE) + (y / TILE)) % 2 === 0) {
        const z = lz4Compress(raw);
        if (z.length < raw.length) { encoding = 1; payload = z; }
      }
      const flags = (keyframe ? 1 : 0) | (i === tiles.length - 1 ? 2 : 0);
      s.ws.send(encodeTile({ encoding, flags, frame: engine.pixelsFrame, x, y, w, h, stageW: W, stageH: H, payload }));
    });
    s.lastSent = Buffer.from(cur);
    s.unacked.push(engine.pixelsFrame);
  }
}

// ------------------------------------------------------------------ HTTP + WebSocket
const CONFIG = { addr: '127.0.0.1:61699', token: 's3cr3t', project: 'demo', heartbeatMs: 2000, idleMs: 30000, allowOrigins: [] };

function parseArgs(argv) {
  let tokenSet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--ws') CONFIG.addr = next();
    else if (a === '--token') { CONFIG.token = next(); tokenSet = true; }
    else if (a === '--no-auth') CONFIG.token = '';
    else if (a === '--project') CONFIG.project = next();
    else if (a === '--fps') engine.tempo = Number(next());
    else if (a === '--heartbeat-ms') CONFIG.heartbeatMs = Number(next());
    else if (a === '--allow-origin') CONFIG.allowOrigins.push(next());
    else if (['--renderer', '--movie', '--pipe', '--log', '--observer-token'].includes(a)) next();
    // other player flags (--no-pipe …) are accepted and ignored
  }
  if (!tokenSet && process.env.STAGELINK_TOKEN) CONFIG.token = process.env.STAGELINK_TOKEN;
}

const ASSETS = { '/': ['index.html', 'text/html; charset=utf-8'], '/index.html': ['index.html', 'text/html; charset=utf-8'], '/viewer.js': ['viewer.js', 'text/javascript; charset=utf-8'], '/viewer.css': ['viewer.css', 'text/css; charset=utf-8'] };

function handleHttp(req, res) {
  const url = new URL(req.url, 'http://x');
  const json = (code, obj) => { res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' }); res.end(JSON.stringify(obj)); };
  if (req.method === 'GET' && ASSETS[url.pathname]) {
    const [file, type] = ASSETS[url.pathname];
    fs.readFile(path.join(VIEWER_DIR, file), (err, body) => {
      if (err) { res.writeHead(500); res.end(String(err)); return; }
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    });
    return;
  }
  if (req.method === 'GET' && url.pathname === '/healthz') {
    json(200, { status: 'ok', project: CONFIG.project, frame: engine.frame, playing: engine.playing, clients: [...sessions].filter((s) => s.identified).length, uptime_s: Math.round((Date.now() - engine.startedAt) / 1000) });
    return;
  }
  if (url.pathname === '/mock/stats') { json(200, { ...counters, sessions: sessions.size, frame: engine.frame, playing: engine.playing, tempo: engine.tempo }); return; }
  if (req.method === 'POST' && url.pathname === '/mock/drop') {
    const n = sessions.size;
    for (const s of sessions) s.ws.terminate();
    json(200, { dropped: n });
    return;
  }
  if (req.method === 'POST' && url.pathname === '/mock/gap') {
    const from = engine.seqs.sounds + 1;
    engine.seqs.sounds += 5;
    for (const s of sessions) if (subscribed(s, 'sounds')) sendJson(s, { type: 'gap', stream: 'sounds', from_seq: from, to_seq: engine.seqs.sounds });
    counters.gaps_sent++;
    json(200, { from_seq: from, to_seq: engine.seqs.sounds });
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found\n');
}

function main() {
  parseArgs(process.argv.slice(2));
  const server = http.createServer(handleHttp);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url, 'http://x');
    const origin = req.headers.origin;
    const okOrigin = !origin || origin === `http://${req.headers.host}` || CONFIG.allowOrigins.includes(origin);
    if (url.pathname !== '/ws' || !okOrigin) {
      socket.end(`HTTP/1.1 ${okOrigin ? 404 : 403} ${okOrigin ? 'Not Found' : 'Forbidden'}\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      counters.connections++;
      const s = { ws, identified: false, all: false, subs: new Set(), role: 'observer', lastSent: null, unacked: [], lastRecv: Date.now() };
      sessions.add(s);
      ws.on('message', (data, isBinary) => onMessage(s, data, isBinary));
      ws.on('close', () => sessions.delete(s));
      ws.on('error', () => sessions.delete(s));
    });
  });
  setInterval(() => {
    const t = Date.now();
    for (const s of sessions) {
      if (!s.identified) continue;
      if (t - s.lastRecv > CONFIG.idleMs) { fatal(s, 'idle_timeout', 14, 'no message within idle_timeout_ms'); continue; }
      sendJson(s, { type: 'ping', t });
    }
  }, CONFIG.heartbeatMs);
  const [host, port] = CONFIG.addr.split(/:(?=\d+$)/);
  server.listen(Number(port), host, () => {
    const a = server.address();
    const base = `${a.address}:${a.port}`;
    const q = CONFIG.token ? `?token=${encodeURIComponent(CONFIG.token)}` : '';
    process.stdout.write(`viewer: http://${base}/${q}\nwebsocket: ws://${base}/ws\nsocket: off\nrenderer: mock-cpu\nready\n`);
  });
  engine.published = new Map();
  publishTick();
  scheduleTicks();
  const shutdown = () => {
    for (const s of sessions) {
      sendJson(s, { type: 'bye', reason: 'server shutting down' });
      sendJson(s, { type: 'error', code: 'shutdown', message: 'the server is going away', fatal: true });
      s.ws.close(4028, 'shutdown');
    }
    setTimeout(() => process.exit(0), 50);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) main();
