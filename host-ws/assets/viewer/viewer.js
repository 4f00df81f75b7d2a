// Stagelink built-in viewer. Plain browser JavaScript, no build step: the host embeds this file.
//
// It speaks Stagelink protocol v1 over the page's own origin (`/ws`): hello as a controller that
// subscribes to every stream with a snapshot, keeps the stage model (movie state, sprites,
// members, stage and movie props) up to date from the streams, draws it on a canvas (or shows the
// host's rendered pixel tiles), sends transport and inspector commands and shows their acks.
//
// Page parameters: `?token=` (required unless the host runs --no-auth), optional `project=`,
// `role=observer`, `ws=` (another WebSocket URL, e.g. a relay) and `mode=pixels`.
(() => {
  'use strict';

  const VERSION = '0.1.0';
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  const TOKEN = params.get('token') || '';
  const ROLE = params.get('role') === 'observer' ? 'observer' : 'controller';
  const WS_URL = params.get('ws') || `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
  const CLIENT_ID = `viewer-${Math.random().toString(36).slice(2, 10)}`;
  const NO_RETRY = new Set(['auth_failed', 'session_replaced', 'protocol_version', 'unknown_project', 'project_taken']);
  // Fatal errors close the WebSocket with 4000 + n (docs/DECISIONS.md); these must not be retried.
  const NO_RETRY_CLOSE = { 4005: 'not_identified', 4007: 'auth_failed', 4008: 'protocol_version', 4009: 'unknown_project', 4015: 'session_replaced', 4030: 'project_taken' };
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 30000; // docs/protocol.md §13: 0.5 s doubling to 30 s
  const INK_BG_TRANSPARENT = 36;

  // ------------------------------------------------------------------ state
  const conn = {
    ws: null,
    state: 'idle',          // idle | connecting | connected | reconnecting | disconnected
    attempt: 0,
    retryTimer: 0,
    retryAt: 0,
    connects: 0,            // successful welcomes, for tests and the log
    welcome: null,
    project: params.get('project') || '',
    stopReason: '',         // set when we must not reconnect
    heartbeatTimer: 0,
    lastRecv: 0,
    identified: false,
  };
  const model = {
    movie: { frame: 0, frame_count: 0, tempo: 0, playing: false, time_ms: 0 },
    stageW: 640,
    stageH: 480,
    stageProps: {},
    movieProps: {},
    sprites: new Map(),   // "num:begin" -> full sprite state
    members: new Map(),   // "castLib:memberNum" -> {cast_lib, member_num, name, kind, props}
    seqs: {},             // stream -> last seq applied
    haveState: false,
  };
  const ui = {
    mode: params.get('mode') === 'pixels' ? 'pixels' : 'sprites',
    selected: null,       // sprite key
    dirty: true,
    rafPending: false,
    listDirty: true,
    scoreDirty: true,
    dragging: false,
    inspectorKey: null,
    rows: new Map(),      // prop -> {tr, cur, input, st, type}
  };
  const pix = { w: 0, h: 0, img: null, frame: 0, frames: 0, tiles: 0, raw: 0, lz4: 0, errors: 0, lastAckSent: 0 };
  const stats = { msgs: 0, bytes: 0, samples: [], frameTimes: [], lastLatency: null, rtt: null };
  let nextId = 1;
  const commands = new Map(); // id -> {command, t0, onAck}
  const requests = new Map(); // id -> {what, t0, resolve, reject}
  const pending = new Map();  // "key|prop" -> {value, id, t0, acked, timer}
  let resyncInFlight = false;
  let resyncBuffer = [];      // events received while a `stage` request is in flight (§8)
  const media = new Map();    // memberKey -> {img, ready, keyed} from the `project` document
  const pings = new Map();    // ping t -> performance.now() at send

  // ------------------------------------------------------------------ helpers
  const spriteKey = (s) => `${s.sprite_num}:${s.begin_frame}`;
  const memberKey = (m) => (m ? `${m.cast_lib}:${m.member_num}` : '');
  const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const now = () => performance.now();

  function fmtNum(v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return String(v);
    return Number.isInteger(v) ? String(v) : String(+v.toFixed(2));
  }
  function fmtBytes(n) {
    if (n < 1024) return `${Math.round(n)} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(2)} MB`;
  }
  function fmtMs(ms) {
    if (ms == null) return '—';
    return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
  }
  const hex2 = (n) => Math.max(0, Math.min(255, Math.round(n))).toString(16).padStart(2, '0');

  // Colours on the wire are {r,g,b,a} objects (0..255). Also accepted: "#rgb", "#rrggbb[aa]",
  // [r,g,b(,a)] and 0xRRGGBB numbers.
  function toRGBA(c) {
    if (c == null) return null;
    if (isObj(c) && 'r' in c) {
      let a = c.a == null ? 255 : c.a;
      if (a <= 1 && !Number.isInteger(a)) a *= 255;
      return { r: c.r | 0, g: c.g | 0, b: c.b | 0, a };
    }
    if (Array.isArray(c) && c.length >= 3) return { r: c[0], g: c[1], b: c[2], a: c.length > 3 ? c[3] : 255 };
    if (typeof c === 'number') return { r: (c >> 16) & 255, g: (c >> 8) & 255, b: c & 255, a: 255 };
    if (typeof c === 'string') return parseColorText(c);
    return null;
  }
  function parseColorText(s) {
    s = String(s).trim();
    let m = /^#?([0-9a-f]{3})$/i.exec(s);
    if (m) {
      const h = m[1];
      return { r: parseInt(h[0] + h[0], 16), g: parseInt(h[1] + h[1], 16), b: parseInt(h[2] + h[2], 16), a: 255 };
    }
    m = /^#?([0-9a-f]{6})([0-9a-f]{2})?$/i.exec(s);
    if (m) {
      const v = parseInt(m[1], 16);
      return { r: (v >> 16) & 255, g: (v >> 8) & 255, b: v & 255, a: m[2] ? parseInt(m[2], 16) : 255 };
    }
    m = /^(?:rgba?\()?\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)?$/i.exec(s);
    if (m) return { r: +m[1], g: +m[2], b: +m[3], a: m[4] != null ? +m[4] : 255 };
    if (s.startsWith('{')) {
      try { return toRGBA(JSON.parse(s)); } catch { return null; }
    }
    return null;
  }
  function css(c, fallback = '#808080') {
    const v = toRGBA(c);
    if (!v) return fallback;
    return `rgba(${v.r},${v.g},${v.b},${(v.a / 255).toFixed(3)})`;
  }
  // The sprite's `color` modulates what it draws (white, the default, leaves it unchanged).
  function tinted(c, tint) {
    const v = toRGBA(c);
    const t = toRGBA(tint);
    if (!v || !t) return v;
    return { r: Math.round((v.r * t.r) / 255), g: Math.round((v.g * t.g) / 255), b: Math.round((v.b * t.b) / 255), a: (v.a * t.a) / 255 };
  }
  const isWhiteTint = (t) => { const v = toRGBA(t); return !v || (v.r === 255 && v.g === 255 && v.b === 255 && v.a >= 255); };
  function colorHex(c) {
    const v = toRGBA(c);
    if (!v) return '';
    return `#${hex2(v.r)}${hex2(v.g)}${hex2(v.b)}${v.a < 255 ? hex2(v.a) : ''}`;
  }
  function valuesEqual(a, b) {
    if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) < 1e-6;
    if (isObj(a) || isObj(b) || Array.isArray(a) || Array.isArray(b)) {
      const ca = toRGBA(a);
      const cb = toRGBA(b);
      if (ca && cb) return ca.r === cb.r && ca.g === cb.g && ca.b === cb.b && Math.abs(ca.a - cb.a) < 1;
      return JSON.stringify(a) === JSON.stringify(b);
    }
    return a === b;
  }

  // ------------------------------------------------------------------ LZ4 block decoder
  // The LZ4 block format (no frame header, no size prefix); `rawLen` is the exact output size.
  function lz4Decompress(src, rawLen) {
    const dst = new Uint8Array(rawLen);
    const n = src.length;
    let s = 0;
    let d = 0;
    while (s < n) {
      const token = src[s++];
      let lit = token >>> 4;
      if (lit === 15) {
        let b;
        do {
          if (s >= n) throw new Error('lz4: truncated literal length');
          b = src[s++];
          lit += b;
        } while (b === 255);
      }
      if (s + lit > n) throw new Error('lz4: literals run past the input');
      if (d + lit > rawLen) throw new Error('lz4: literals run past the output');
      dst.set(src.subarray(s, s + lit), d);
      s += lit;
      d += lit;
      if (s >= n) break; // the last sequence has literals only
      if (s + 2 > n) throw new Error('lz4: truncated offset');
      const off = src[s] | (src[s + 1] << 8);
      s += 2;
      if (off === 0 || off > d) throw new Error(`lz4: bad offset ${off} at ${d}`);
      let ml = token & 15;
      if (ml === 15) {
        let b;
        do {
          if (s >= n) throw new Error('lz4: truncated match length');
          b = src[s++];
          ml += b;
        } while (b === 255);
      }
      ml += 4;
      if (d + ml > rawLen) throw new Error('lz4: match runs past the output');
      let m = d - off;
      if (off >= ml) {
        dst.copyWithin(d, m, m + ml);
        d += ml;
      } else {
        for (let i = 0; i < ml; i++) dst[d++] = dst[m++];
      }
    }
    if (d !== rawLen) throw new Error(`lz4: decoded ${d} bytes, expected ${rawLen}`);
    return dst;
  }

  // Binary pixel tile (docs/DECISIONS.md): 28-byte little-endian header, then the payload.
  function decodeTile(buf) {
    const u8 = new Uint8Array(buf);
    if (u8.length < 28) throw new Error(`tile: ${u8.length} bytes is shorter than the header`);
    const dv = new DataView(buf);
    const t = {
      opcode: dv.getUint8(0),
      encoding: dv.getUint8(1),
      flags: dv.getUint16(2, true),
      frame: dv.getUint32(4, true),
      x: dv.getUint16(8, true),
      y: dv.getUint16(10, true),
      w: dv.getUint16(12, true),
      h: dv.getUint16(14, true),
      stageW: dv.getUint16(16, true),
      stageH: dv.getUint16(18, true),
      rawLen: dv.getUint32(20, true),
      payloadLen: dv.getUint32(24, true),
    };
    if (t.opcode !== 1) throw new Error(`binary: unknown opcode 0x${t.opcode.toString(16)}`);
    if (28 + t.payloadLen > u8.length) throw new Error('tile: payload runs past the message');
    if (t.rawLen !== t.w * t.h * 4) throw new Error(`tile: raw length ${t.rawLen} != ${t.w}x${t.h}x4`);
    if (t.x + t.w > t.stageW || t.y + t.h > t.stageH) throw new Error('tile: rectangle outside the stage');
    const payload = u8.subarray(28, 28 + t.payloadLen);
    if (t.encoding === 0) {
      if (t.payloadLen !== t.rawLen) throw new Error('tile: raw payload length mismatch');
      t.rgba = payload;
    } else if (t.encoding === 1) {
      t.rgba = lz4Decompress(payload, t.rawLen);
    } else {
      throw new Error(`tile: unknown encoding ${t.encoding}`);
    }
    return t;
  }

  // ------------------------------------------------------------------ log
  const logEl = $('log');
  function log(kind, text) {
    const li = document.createElement('li');
    li.dataset.kind = kind;
    const d = new Date();
    const t = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:${String(d.getSeconds()).padStart(2, '0')}`;
    li.innerHTML = '<span class="t"></span><span class="tag"></span><span class="msg"></span>';
    li.children[0].textContent = t;
    li.children[1].textContent = kind;
    li.children[2].textContent = text;
    const atBottom = logEl.scrollHeight - logEl.scrollTop - logEl.clientHeight < 24;
    logEl.appendChild(li);
    while (logEl.children.length > 300) logEl.removeChild(logEl.firstChild);
    if (atBottom) logEl.scrollTop = logEl.scrollHeight;
  }
  $('log-clear').addEventListener('click', () => { logEl.textContent = ''; });

  // ------------------------------------------------------------------ connection
  function setStatus(state, text) {
    conn.state = state;
    const el = $('status');
    el.dataset.state = state;
    el.dataset.connects = String(conn.connects);
    $('status-text').textContent = text;
  }

  function send(obj) {
    const ws = conn.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  async function discoverProject() {
    if (conn.project) return;
    try {
      const r = await fetch('/healthz', { cache: 'no-store' });
      if (r.ok) {
        const h = await r.json();
        if (h && typeof h.project === 'string') conn.project = h.project;
      }
    } catch { /* served elsewhere, or no /healthz: hello without a project */ }
  }

  function connect() {
    clearTimeout(conn.retryTimer);
    conn.retryTimer = 0;
    if (conn.ws) {
      try { conn.ws.close(); } catch { /* ignore */ }
      conn.ws = null;
    }
    conn.identified = false;
    setStatus(conn.attempt ? 'reconnecting' : 'connecting', conn.attempt ? `Reconnecting (try ${conn.attempt + 1})…` : 'Connecting…');
    let ws;
    try {
      ws = new WebSocket(WS_URL);
    } catch (e) {
      log('error', `cannot open ${WS_URL}: ${e.message}`);
      scheduleReconnect();
      return;
    }
    ws.binaryType = 'arraybuffer';
    conn.ws = ws;
    ws.onopen = () => {
      if (conn.ws !== ws) return;
      conn.lastRecv = now();
      const hello = {
        type: 'hello',
        protocol: 1,
        client: { id: CLIENT_ID, name: 'stagelink-viewer', version: VERSION },
        role: ROLE,
        token: TOKEN,
        subscribe: ['*'],
        snapshot: true,
      };
      if (conn.project) hello.project = conn.project;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (ev) => {
      if (conn.ws !== ws) return;
      onMessage(ev.data);
    };
    ws.onclose = (ev) => {
      if (conn.ws !== ws) return;
      conn.ws = null;
      onDisconnected(ev.code, ev.reason);
    };
    ws.onerror = () => { /* onclose follows and carries the story */ };
  }

  function onDisconnected(code, reason) {
    const was = conn.identified;
    conn.identified = false;
    clearInterval(conn.heartbeatTimer);
    for (const [id, c] of commands) {
      log('warn', `command #${id} ${c.command.kind} lost with the connection (no ack)`);
      finishEdit(c, null);
    }
    commands.clear();
    for (const [, r] of requests) r.reject(new Error('connection closed'));
    requests.clear();
    resyncInFlight = false;
    resyncBuffer = [];
    pings.clear();
    if (was || code !== 1006) log('warn', `connection closed${code ? ` (${code}${reason ? ` ${reason}` : ''})` : ''}`);
    if (!conn.stopReason && NO_RETRY_CLOSE[code]) conn.stopReason = stopText(NO_RETRY_CLOSE[code]);
    if (conn.stopReason) {
      setStatus('disconnected', `Disconnected: ${conn.stopReason}`);
      return;
    }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** conn.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    conn.attempt++;
    conn.retryAt = now() + delay;
    setStatus('reconnecting', `Reconnecting in ${(delay / 1000).toFixed(1)} s`);
    clearTimeout(conn.retryTimer);
    conn.retryTimer = setTimeout(connect, delay);
  }

  $('status').addEventListener('click', () => {
    if (conn.state === 'connected') return;
    conn.stopReason = '';
    conn.attempt = Math.max(conn.attempt, 1);
    connect();
  });

  function startHeartbeat() {
    clearInterval(conn.heartbeatTimer);
    const w = conn.welcome || {};
    const hb = Math.max(500, w.heartbeat_ms || 5000);
    const idle = Math.max(hb * 2, w.idle_timeout_ms || 30000);
    conn.heartbeatTimer = setInterval(() => {
      if (!conn.ws) return;
      if (now() - conn.lastRecv > idle) {
        log('warn', `nothing heard for ${Math.round(idle / 1000)} s; reconnecting`);
        const ws = conn.ws;
        conn.ws = null;
        try { ws.close(); } catch { /* ignore */ }
        onDisconnected(0, '');
        return;
      }
      let t = Date.now();
      while (pings.has(t)) t++;
      if (pings.size > 20) pings.clear();
      if (send({ type: 'ping', t })) pings.set(t, now());
    }, hb);
  }

  // ------------------------------------------------------------------ messages
  function onMessage(data) {
    conn.lastRecv = now();
    stats.msgs++;
    if (typeof data === 'string') {
      stats.bytes += data.length;
      let msg;
      try {
        msg = JSON.parse(data);
      } catch (e) {
        log('error', `bad JSON from the host: ${e.message}`);
        return;
      }
      onJson(msg);
    } else {
      stats.bytes += data.byteLength;
      onBinary(data);
    }
  }

  function onJson(msg) {
    switch (msg.type) {
      case 'welcome': return onWelcome(msg);
      case 'snapshot': return applyStage(msg, 'snapshot');
      case 'event': return onEvent(msg);
      case 'ack': return onAck(msg);
      case 'response': return onResponse(msg);
      case 'gap':
        log('gap', `${msg.stream}: seq ${msg.from_seq}–${msg.to_seq} dropped by the host; resyncing`);
        return resync(`gap on ${msg.stream}`);
      case 'notice':
        log('notice', `${msg.code}${msg.message ? `: ${msg.message}` : ''}`);
        if (msg.code === 'host_joined') resync('host joined');
        return;
      case 'error': return onError(msg);
      case 'ping': send({ type: 'pong', t: msg.t }); return;
      case 'pong': {
        const sent = pings.get(msg.t);
        if (sent !== undefined) { pings.delete(msg.t); stats.rtt = now() - sent; }
        return;
      }
      case 'bye': {
        log('notice', `host said bye${msg.reason ? `: ${msg.reason}` : ''}`);
        const ws = conn.ws;
        if (ws) setTimeout(() => { if (conn.ws === ws) ws.close(1000, 'bye'); }, 200);
        return;
      }
      default:
        log('warn', `unhandled message type ${JSON.stringify(msg.type)}`);
    }
  }

  function onWelcome(msg) {
    conn.welcome = msg;
    conn.identified = true;
    conn.attempt = 0;
    conn.connects++;
    if (msg.project) conn.project = msg.project;
    model.seqs = {};
    $('project').textContent = conn.project || '—';
    const srv = msg.server || {};
    $('server').textContent = `${srv.name || 'host'} ${srv.version || ''} · ${msg.role || ROLE}`.trim();
    setStatus('connected', 'Connected');
    log('info', `connected to ${srv.name || 'host'} (session ${msg.session || '?'}, ${msg.role || ROLE})`);
    const caps = Array.isArray(msg.capabilities) ? msg.capabilities : [];
    const pixBtn = $('mode-pixels');
    pixBtn.disabled = caps.length > 0 && !caps.includes('pixels');
    pixBtn.title = pixBtn.disabled ? 'this host does not send rendered pixels' : 'show the host\'s rendered pixels';
    setControlsEnabled((msg.role || ROLE) !== 'observer');
    startHeartbeat();
    loadProjectMedia();
    document.title = `${conn.project || 'Stagelink'} · Stagelink viewer`;
  }

  function onError(msg) {
    log('error', `${msg.code}: ${msg.message || ''}${msg.fatal ? ' (fatal)' : ''}`);
    if (msg.id != null) {
      const r = requests.get(msg.id);
      if (r) { requests.delete(msg.id); r.reject(new Error(`${msg.code}: ${msg.message}`)); }
      const c = commands.get(msg.id);
      if (c) onAck({ id: msg.id, status: 'rejected', error: { code: msg.code, message: msg.message } });
    }
    if (NO_RETRY.has(msg.code)) conn.stopReason = stopText(msg.code);
  }
  function stopText(code) {
    if (code === 'auth_failed') return 'auth_failed (check ?token= in the URL)';
    if (code === 'session_replaced') return 'session_replaced (this viewer connected again elsewhere)';
    return code;
  }

  // --- streams
  function onEvent(ev) {
    if (resyncInFlight) { resyncBuffer.push(ev); return; }
    const stream = ev.stream;
    const last = model.seqs[stream];
    if (typeof ev.seq === 'number') {
      if (last !== undefined) {
        if (ev.seq <= last) return; // already part of the snapshot we hold
        const first = typeof ev.first_seq === 'number' ? ev.first_seq : ev.seq;
        if (first > last + 1) {
          log('gap', `${stream}: seq jumped from ${last} to ${first}; resyncing`);
          model.seqs[stream] = ev.seq;
          resync(`seq hole on ${stream}`);
        }
      }
      model.seqs[stream] = ev.seq;
    }
    const items = Array.isArray(ev.items) ? ev.items : [];
    switch (stream) {
      case 'frames':
        if (items.length) applyStageFrame(items[items.length - 1]);
        break;
      case 'sprites':
        for (const d of items) applySpriteDelta(d);
        break;
      case 'sprite_events':
        for (const e of items) applySpriteEvent(e);
        break;
      case 'member_props':
        for (const it of items) {
          const k = memberKey(it);
          let m = model.members.get(k);
          if (!m) { m = { cast_lib: it.cast_lib, member_num: it.member_num, name: '', kind: '', props: {} }; model.members.set(k, m); }
          if (it.prop === 'name' || it.prop === 'kind') m[it.prop] = it.value;
          m.props[it.prop] = it.value;
        }
        markDirty(true);
        break;
      case 'stage_props':
        for (const it of items) model.stageProps[it.prop] = it.value;
        updateStageSize();
        markDirty();
        break;
      case 'movie_props':
        for (const it of items) model.movieProps[it.prop] = it.value;
        markDirty();
        break;
      case 'tempos':
        break; // the frames stream carries the effective tempo
      default:
        break; // streams the viewer only counts
    }
  }

  function applyStageFrame(f) {
    const m = model.movie;
    const frameChanged = f.frame !== m.frame;
    for (const k of ['frame', 'frame_count', 'tempo', 'playing', 'time_ms']) if (f[k] !== undefined) m[k] = f[k];
    if (f.width && f.height) { model.stageW = f.width; model.stageH = f.height; resizeCanvas(); }
    if (frameChanged) {
      stats.frameTimes.push(now());
      ui.listDirty = true;
      ui.scoreDirty = true;
    }
    model.haveState = true;
    updateTransport();
    markDirty();
  }

  function newSprite(num, begin) {
    return {
      sprite_num: num, begin_frame: begin, end_frame: null, member: null,
      loc_h: 0, loc_v: 0, loc_z: 0, width: 0, height: 0, rotation: 0, skew: 0,
      blend: 100, ink: 0, visible: true, color: null,
    };
  }

  function applySpriteDelta(d) {
    if (d == null || d.sprite_num == null) return;
    const key = spriteKey(d);
    let s = model.sprites.get(key);
    if (!s) { s = newSprite(d.sprite_num, d.begin_frame); model.sprites.set(key, s); ui.scoreDirty = true; }
    const changed = [];
    for (const [k, v] of Object.entries(d)) {
      if (k === 'sprite_num' || k === 'begin_frame') continue;
      if (!valuesEqual(s[k], v)) changed.push(k);
      s[k] = v;
      const p = pending.get(`${key}|${k}`);
      if (p && valuesEqual(v, p.value)) confirmEdit(key, k, p);
    }
    if (changed.includes('end_frame')) ui.scoreDirty = true;
    if (key === ui.selected) updateInspector(changed);
    ui.listDirty = true;
    markDirty();
  }

  function applySpriteEvent(e) {
    const key = e.sprite_num != null ? `${e.sprite_num}:${e.begin_frame}` : '';
    if (e.event === 'added') {
      if (isObj(e.sprite)) {
        const s = Object.assign(newSprite(e.sprite_num, e.begin_frame), e.sprite);
        model.sprites.set(key, s);
      } else if (!model.sprites.has(key)) {
        model.sprites.set(key, newSprite(e.sprite_num, e.begin_frame));
      }
    } else if (e.event === 'removed') {
      model.sprites.delete(key);
    } else if (e.event === 'cleared') {
      // We do not track which manager owns which sprite: ask the host for the truth.
      resync(`sprites cleared (${e.manager || 'score'})`);
    }
    if (key === ui.selected) renderInspector();
    ui.listDirty = true;
    ui.scoreDirty = true;
    markDirty();
  }

  // A `snapshot` message or a `stage` response: replace the whole model.
  function applyStage(st, source) {
    if (!isObj(st)) return;
    if (isObj(st.movie)) {
      Object.assign(model.movie, st.movie);
      if (st.movie.width && st.movie.height) { model.stageW = st.movie.width; model.stageH = st.movie.height; }
    }
    model.stageProps = isObj(st.stage_props) ? { ...st.stage_props } : {};
    model.movieProps = isObj(st.movie_props) ? { ...st.movie_props } : {};
    model.members = new Map();
    for (const m of st.members || []) {
      model.members.set(memberKey(m), { name: '', kind: '', ...m, props: isObj(m.props) ? { ...m.props } : {} });
    }
    model.sprites = new Map();
    for (const s of st.sprites || []) model.sprites.set(spriteKey(s), Object.assign(newSprite(s.sprite_num, s.begin_frame), s));
    if (isObj(st.seqs)) Object.assign(model.seqs, st.seqs);
    model.haveState = true;
    updateStageSize();
    for (const [k, p] of pending) {
      const [key, prop] = k.split('|');
      const s = model.sprites.get(key);
      if (s && valuesEqual(s[prop], p.value)) confirmEdit(key, prop, p);
    }
    ui.listDirty = true;
    ui.scoreDirty = true;
    renderInspector();
    updateTransport();
    markDirty();
    if (source !== 'snapshot') log('info', `state rebuilt from the host (${source})`);
  }

  function updateStageSize() {
    const sp = model.stageProps;
    let w = 0;
    let h = 0;
    if (Array.isArray(sp.rect) && sp.rect.length === 4) { w = sp.rect[2] - sp.rect[0]; h = sp.rect[3] - sp.rect[1]; }
    if (typeof sp.width === 'number' && typeof sp.height === 'number') { w = sp.width; h = sp.height; }
    if (w > 0 && h > 0) { model.stageW = w; model.stageH = h; }
    resizeCanvas();
  }

  // Rebuild from a `stage` response. Responses travel on the control lane and can overtake queued
  // events, so events are buffered meanwhile and replayed after it; those with seq <= data.seqs
  // are already in it and get skipped (docs/protocol.md §8).
  function resync(why) {
    if (resyncInFlight || !conn.identified) return;
    resyncInFlight = true;
    resyncBuffer = [];
    const replay = () => {
      resyncInFlight = false;
      const buffered = resyncBuffer;
      resyncBuffer = [];
      for (const ev of buffered) onEvent(ev);
    };
    request('stage').then((data) => {
      applyStage(data, why);
      replay();
    }, (err) => {
      log('error', `resync failed: ${err.message}`);
      replay();
    });
  }

  // Bitmap media (PNG) comes only with the `project` document; without it bitmaps are drawn as
  // rectangles in the sprite's colour.
  function loadProjectMedia() {
    request('project').then((doc) => {
      let n = 0;
      for (const cast of (doc && doc.casts) || []) {
        for (const m of cast.members || []) {
          const k = memberKey(m);
          if (!model.members.has(k)) model.members.set(k, { name: '', kind: '', ...m, props: isObj(m.props) ? { ...m.props } : {} });
          const md = m.media;
          if (!isObj(md) || typeof md.base64 !== 'string' || !/^(png|jpe?g|gif|webp)$/i.test(md.format || '')) continue;
          const entry = { img: new Image(), ready: false, keyed: null };
          entry.img.onload = () => { entry.ready = true; markDirty(); };
          entry.img.onerror = () => log('warn', `member ${k}: its ${md.format} media does not decode`);
          entry.img.src = `data:image/${md.format.toLowerCase() === 'jpg' ? 'jpeg' : md.format.toLowerCase()};base64,${md.base64}`;
          media.set(k, entry);
          n++;
        }
      }
      if (n) log('info', `loaded ${n} bitmap${n === 1 ? '' : 's'} from the project document`);
    }, (err) => log('warn', `project document unavailable (${err.message}); bitmaps drawn as rectangles`));
  }
  // The member's image with white made transparent, for ink 36 (background transparent) and 8 (matte).
  function keyedImage(entry) {
    if (entry.keyed) return entry.keyed;
    const c = document.createElement('canvas');
    c.width = entry.img.naturalWidth;
    c.height = entry.img.naturalHeight;
    const x = c.getContext('2d');
    x.drawImage(entry.img, 0, 0);
    const d = x.getImageData(0, 0, c.width, c.height);
    for (let i = 0; i < d.data.length; i += 4) {
      if (d.data[i] === 255 && d.data[i + 1] === 255 && d.data[i + 2] === 255) d.data[i + 3] = 0;
    }
    x.putImageData(d, 0, 0);
    entry.keyed = c;
    return c;
  }
  // The image to draw: white keyed out for ink 36/8, multiplied by the sprite's colour unless white.
  function bitmapImage(entry, keyed, tint) {
    const src = keyed ? keyedImage(entry) : entry.img;
    if (isWhiteTint(tint)) return src;
    const t = toRGBA(tint);
    const k = `${keyed ? 1 : 0}|${t.r},${t.g},${t.b},${t.a}`;
    entry.tints = entry.tints || new Map();
    let c = entry.tints.get(k);
    if (c) return c;
    if (entry.tints.size > 64) entry.tints.clear();
    c = document.createElement('canvas');
    c.width = entry.img.naturalWidth;
    c.height = entry.img.naturalHeight;
    const x = c.getContext('2d');
    x.drawImage(src, 0, 0);
    x.globalCompositeOperation = 'multiply';
    x.fillStyle = `rgb(${t.r},${t.g},${t.b})`;
    x.fillRect(0, 0, c.width, c.height);
    x.globalCompositeOperation = 'destination-in'; // back to the image's own alpha
    x.globalAlpha = t.a / 255;
    x.drawImage(src, 0, 0);
    entry.tints.set(k, c);
    return c;
  }

  // --- requests
  function request(what, extra) {
    return new Promise((resolve, reject) => {
      const id = nextId++;
      if (!send({ type: 'request', id, what, ...(extra || {}) })) { reject(new Error('not connected')); return; }
      requests.set(id, { what, t0: now(), resolve, reject });
    });
  }
  function onResponse(msg) {
    const r = requests.get(msg.id);
    if (!r) return;
    requests.delete(msg.id);
    if (msg.ok === false) {
      const e = msg.error || {};
      log('error', `request ${r.what} failed: ${e.code || 'error'}: ${e.message || ''}`);
      r.reject(new Error(`${e.code}: ${e.message}`));
    } else {
      r.resolve(msg.data);
    }
  }

  // --- commands
  function describe(cmd) {
    switch (cmd.kind) {
      case 'go_to_frame': return `go_to_frame ${cmd.frame}`;
      case 'step': return `step ${cmd.delta > 0 ? '+' : ''}${cmd.delta}`;
      case 'set_tempo': return `set_tempo ${cmd.tempo}`;
      case 'set_sprite_prop': return `set_sprite_prop ${cmd.sprite_num}:${cmd.begin_frame}.${cmd.prop} = ${JSON.stringify(cmd.value)}`;
      default: return cmd.kind;
    }
  }
  function sendCommand(command, extra) {
    const id = nextId++;
    if (!send({ type: 'command', id, command })) {
      log('error', `${describe(command)}: not connected`);
      setAckLine(`${describe(command)} · not connected`, 'bad');
      return null;
    }
    commands.set(id, { id, command, t0: now(), ...(extra || {}) });
    return id;
  }
  function onAck(msg) {
    const c = commands.get(msg.id);
    if (!c) return;
    commands.delete(msg.id);
    const ms = now() - c.t0;
    stats.lastLatency = ms;
    const what = describe(c.command);
    if (msg.status === 'applied') {
      const at = msg.frame != null ? ` @f${msg.frame}` : '';
      const res = msg.result !== undefined && msg.result !== null ? ` → ${JSON.stringify(msg.result).slice(0, 80)}` : '';
      log('ack', `#${msg.id} ${what} applied${at} in ${fmtMs(ms)}${res}`);
      setAckLine(`${what} · applied${at} · ${fmtMs(ms)}`, 'ok');
    } else {
      const e = msg.error || {};
      log('error', `#${msg.id} ${what} ${msg.status}: ${e.code || '?'}: ${e.message || ''} (${fmtMs(ms)})`);
      setAckLine(`${what} · ${msg.status}: ${e.code || ''} ${e.message || ''}`, 'bad');
    }
    finishEdit(c, msg);
    updateLive();
  }
  function setAckLine(text, cls) {
    const el = $('ack-line');
    el.textContent = text;
    el.className = `ack-line ${cls || ''}`;
  }

  // ------------------------------------------------------------------ transport UI
  const controlIds = ['play', 'pause', 'step-back', 'step-fwd', 'rewind', 'frame-slider', 'tempo'];
  let controlsEnabled = true;
  function setControlsEnabled(on) {
    controlsEnabled = on;
    for (const id of controlIds) $(id).disabled = !on;
    if (!on) log('info', 'observer session: controls are read-only');
    renderInspector();
  }
  $('play').addEventListener('click', () => sendCommand({ kind: 'resume' }));
  $('pause').addEventListener('click', () => sendCommand({ kind: 'pause' }));
  $('step-back').addEventListener('click', () => sendCommand({ kind: 'step', delta: -1 }));
  $('step-fwd').addEventListener('click', () => sendCommand({ kind: 'step', delta: 1 }));
  $('rewind').addEventListener('click', () => sendCommand({ kind: 'rewind' }));

  const slider = $('frame-slider');
  slider.addEventListener('input', () => {
    ui.dragging = true;
    $('frame-pos').textContent = `→ ${slider.value} / ${model.movie.frame_count || '—'}`;
  });
  slider.addEventListener('change', () => {
    ui.dragging = false;
    const f = parseInt(slider.value, 10);
    if (f >= 1) sendCommand({ kind: 'go_to_frame', frame: f });
  });
  slider.addEventListener('pointerup', () => { setTimeout(() => { ui.dragging = false; }, 0); });

  const tempoEl = $('tempo');
  function commitTempo() {
    const t = Number(tempoEl.value);
    if (!Number.isInteger(t) || t < 1 || t > 1000) { log('error', `tempo: ${JSON.stringify(tempoEl.value)} is not a whole number of frames per second (1–1000)`); return; }
    if (t === model.movie.tempo) return;
    sendCommand({ kind: 'set_tempo', tempo: t });
  }
  tempoEl.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); commitTempo(); }
    if (e.key === 'Escape') { tempoEl.value = model.movie.tempo || ''; tempoEl.blur(); }
  });
  tempoEl.addEventListener('change', commitTempo);

  const scoreEl = $('score');
  scoreEl.addEventListener('click', (e) => {
    if (!controlsEnabled || !model.movie.frame_count) return;
    const r = scoreEl.getBoundingClientRect();
    const f = Math.min(model.movie.frame_count, Math.max(1, Math.round(((e.clientX - r.left) / r.width) * (model.movie.frame_count - 1)) + 1));
    sendCommand({ kind: 'go_to_frame', frame: f });
  });

  document.addEventListener('keydown', (e) => {
    const tag = (e.target && e.target.tagName) || '';
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || !controlsEnabled) return;
    if (tag === 'BUTTON' && (e.key === ' ' || e.key === 'Enter')) return; // the button's own click
    if (e.key === ' ') { e.preventDefault(); sendCommand({ kind: model.movie.playing ? 'pause' : 'resume' }); }
    else if (e.key === 'ArrowRight') { e.preventDefault(); sendCommand({ kind: 'step', delta: 1 }); }
    else if (e.key === 'ArrowLeft') { e.preventDefault(); sendCommand({ kind: 'step', delta: -1 }); }
    else if (e.key === 'Home') { e.preventDefault(); sendCommand({ kind: 'rewind' }); }
    else if (e.key === 'Escape') { select(null); }
  });

  function updateTransport() {
    const m = model.movie;
    $('play').setAttribute('aria-pressed', String(!!m.playing));
    $('pause').setAttribute('aria-pressed', String(!m.playing && m.frame_count > 0));
    slider.max = String(Math.max(1, m.frame_count || 1));
    if (!ui.dragging) {
      slider.value = String(m.frame || 1);
      $('frame-pos').textContent = `${m.frame || '—'} / ${m.frame_count || '—'}`;
    }
    if (document.activeElement !== tempoEl && m.tempo) tempoEl.value = fmtNum(m.tempo);
    tempoEl.dataset.current = String(m.tempo ?? '');
    $('frame').textContent = m.frame ? String(m.frame) : '—';
    $('frame-count').textContent = `of ${m.frame_count || '—'}`;
    $('frame-count').title = m.playing ? 'playing' : 'paused';
    $('tempo-now').textContent = `tempo ${m.tempo ? fmtNum(m.tempo) : '—'}`;
    $('stage').dataset.frame = String(m.frame || 0);
    $('stage').dataset.playing = String(!!m.playing);
  }

  // ------------------------------------------------------------------ mode
  function setMode(mode) {
    ui.mode = mode;
    $('mode-sprites').setAttribute('aria-pressed', String(mode === 'sprites'));
    $('mode-pixels').setAttribute('aria-pressed', String(mode === 'pixels'));
    $('stage').dataset.mode = mode;
    $('stage-badge').textContent = mode === 'pixels' ? 'pixels · rendered by host' : 'sprites · drawn locally';
    resizeCanvas();
    markDirty();
  }
  $('mode-sprites').addEventListener('click', () => setMode('sprites'));
  $('mode-pixels').addEventListener('click', () => setMode('pixels'));

  // ------------------------------------------------------------------ pixels
  let lastResubscribe = 0;
  function onBinary(buf) {
    const u8 = new Uint8Array(buf);
    if (u8.length && u8[0] !== 1) { // unknown opcodes are ignored (docs/protocol.md §11)
      if (!pix.unknownOpcode) { pix.unknownOpcode = true; log('warn', `ignoring binary messages with opcode 0x${u8[0].toString(16)}`); }
      return;
    }
    let t;
    try {
      t = decodeTile(buf);
    } catch (e) {
      pix.errors++;
      if (pix.errors <= 5) log('error', e.message);
      // Still ack a frame's last tile (or the host's window stalls), then ask for a keyframe by
      // subscribing to pixels again.
      if (u8.length >= 28) {
        const dv = new DataView(buf);
        if (dv.getUint16(2, true) & 2) send({ type: 'pixels_ack', frame: dv.getUint32(4, true) });
      }
      if (now() - lastResubscribe > 1000) {
        lastResubscribe = now();
        send({ type: 'subscribe', streams: ['pixels'], snapshot: false });
      }
      return;
    }
    if (t.stageW !== pix.w || t.stageH !== pix.h || !pix.img) {
      pix.w = t.stageW;
      pix.h = t.stageH;
      pix.img = new ImageData(pix.w, pix.h);
      if (ui.mode === 'pixels') resizeCanvas();
    }
    const dst = pix.img.data;
    const rowBytes = t.w * 4;
    for (let row = 0; row < t.h; row++) {
      dst.set(t.rgba.subarray(row * rowBytes, (row + 1) * rowBytes), ((t.y + row) * pix.w + t.x) * 4);
    }
    pix.tiles++;
    if (t.encoding === 1) pix.lz4++; else pix.raw++;
    if (t.flags & 2) {
      pix.frame = t.frame;
      pix.frames++;
      $('stage').dataset.pixelFrames = String(pix.frames);
      send({ type: 'pixels_ack', frame: t.frame });
      pix.lastAckSent = t.frame;
      if (ui.mode === 'pixels') markDirty();
    }
  }

  // ------------------------------------------------------------------ drawing
  const canvas = $('stage');
  const ctx = canvas.getContext('2d', { willReadFrequently: false });
  const wrap = $('stage-wrap');

  function resizeCanvas() {
    const w = ui.mode === 'pixels' && pix.img ? pix.w : model.stageW;
    const h = ui.mode === 'pixels' && pix.img ? pix.h : model.stageH;
    if (canvas.width !== w) canvas.width = w;
    if (canvas.height !== h) canvas.height = h;
    fitCanvas();
    markDirty();
  }
  function fitCanvas() {
    const cs = getComputedStyle(wrap);
    const aw = wrap.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const ah = wrap.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
    if (aw <= 0 || ah <= 0) return;
    const sc = Math.min(aw / model.stageW, ah / model.stageH);
    canvas.style.width = `${Math.floor(model.stageW * sc)}px`;
    canvas.style.height = `${Math.floor(model.stageH * sc)}px`;
  }
  new ResizeObserver(fitCanvas).observe(wrap);
  window.addEventListener('resize', () => { fitCanvas(); ui.scoreDirty = true; markDirty(); });

  function markDirty(list) {
    ui.dirty = true;
    if (list) ui.listDirty = true;
    if (!ui.rafPending) {
      ui.rafPending = true;
      requestAnimationFrame(draw);
    }
  }

  function isActive(s) {
    const f = model.movie.frame;
    if (!f) return true;
    if (s.begin_frame != null && f < s.begin_frame) return false;
    if (s.end_frame != null && s.end_frame > 0 && f > s.end_frame) return false;
    return true;
  }
  function activeSprites() {
    const out = [];
    for (const [key, s] of model.sprites) if (isActive(s)) out.push([key, s]);
    out.sort((a, b) => (a[1].loc_z || 0) - (b[1].loc_z || 0) || a[1].sprite_num - b[1].sprite_num);
    return out;
  }
  function memberOf(s) {
    return s.member ? model.members.get(memberKey(s.member)) || null : null;
  }
  function memberProp(m, ...names) {
    if (!m) return undefined;
    for (const n of names) {
      if (m.props && m.props[n] !== undefined && m.props[n] !== null) return m.props[n];
      if (m[n] !== undefined && m[n] !== null && n !== 'kind' && n !== 'name') return m[n];
    }
    return undefined;
  }
  // Geometry of a sprite: size, registration point and the transform from member space to stage.
  function geom(s) {
    const m = memberOf(s);
    const mw = +memberProp(m, 'width') || 0;
    const mh = +memberProp(m, 'height') || 0;
    const w = s.width > 0 ? s.width : mw;
    const h = s.height > 0 ? s.height : mh;
    // A member without reg_point (shapes, text) is registered at its centre, as bitmaps are by
    // default. reg_point is in member pixels; a sprite drawn at another size scales it along.
    let rx = w / 2;
    let ry = h / 2;
    const reg = memberProp(m, 'reg_point', 'regpoint');
    let r = null;
    if (Array.isArray(reg)) r = [+reg[0] || 0, +reg[1] || 0];
    else if (isObj(reg)) r = [+reg.x || 0, +reg.y || 0];
    if (r) {
      rx = mw > 0 ? (r[0] * w) / mw : r[0];
      ry = mh > 0 ? (r[1] * h) / mh : r[1];
    }
    return { m, w, h, rx, ry, rot: ((+s.rotation || 0) * Math.PI) / 180, sk: Math.tan(((+s.skew || 0) * Math.PI) / 180) };
  }
  function shapeKind(m) {
    const t = String(memberProp(m, 'shape', 'shape_type', 'type') || 'rect').toLowerCase();
    if (t.startsWith('oval') || t.startsWith('ellipse') || t === 'circle') return 'oval';
    if (t.startsWith('line')) return 'line';
    if (t.startsWith('round')) return 'round_rect';
    return 'rect';
  }
  function stageBg() {
    const sp = model.stageProps;
    const c = sp.bg_color ?? sp.background_color ?? sp.color ?? sp.bgcolor ?? model.movieProps.stage_color ?? model.movieProps.bg_color;
    return toRGBA(c) || { r: 255, g: 255, b: 255, a: 255 };
  }

  function drawSprite(c, s) {
    const g = geom(s);
    const m = g.m;
    if (!m || s.visible === false) return;
    const kind = String(m.kind || '').toLowerCase();
    const blend = s.blend == null ? 100 : +s.blend;
    if (blend <= 0) return;
    c.save();
    c.globalAlpha = Math.min(1, blend / 100);
    c.translate(+s.loc_h || 0, +s.loc_v || 0);
    if (g.rot) c.rotate(g.rot);
    if (g.sk) c.transform(1, 0, g.sk, 1, 0, 0);
    c.translate(-g.rx, -g.ry);
    const w = g.w;
    const h = g.h;
    const bgTransparent = +s.ink === INK_BG_TRANSPARENT;
    if (kind === 'shape') {
      const col = css(tinted(memberProp(m, 'fore_color', 'color', 'fill_color') ?? { r: 0, g: 0, b: 0, a: 255 }, s.color));
      const sk = shapeKind(m);
      const filled = memberProp(m, 'filled') !== false;
      const lw = Math.max(1, +memberProp(m, 'line_size', 'line_width') || (sk === 'line' ? 2 : 1));
      c.fillStyle = col;
      c.strokeStyle = col;
      c.lineWidth = lw;
      c.beginPath();
      if (sk === 'oval') c.ellipse(w / 2, h / 2, Math.max(0, w / 2), Math.max(0, h / 2), 0, 0, Math.PI * 2);
      else if (sk === 'line') { c.moveTo(0, 0); c.lineTo(w, h); }
      else if (sk === 'round_rect' && c.roundRect) c.roundRect(0, 0, w, h, Math.min(w, h) * 0.2);
      else c.rect(0, 0, w, h);
      if (sk === 'line') c.stroke();
      else if (filled) c.fill();
      else { c.lineWidth = lw; c.stroke(); }
    } else if ((kind === 'bitmap' || kind === 'picture' || kind === 'image') && media.get(memberKey(s.member)) && media.get(memberKey(s.member)).ready) {
      const entry = media.get(memberKey(s.member));
      const keyed = bgTransparent || +s.ink === 8;
      c.imageSmoothingEnabled = true;
      c.drawImage(bitmapImage(entry, keyed, s.color), 0, 0, w, h);
    } else if (kind === 'bitmap' || kind === 'picture' || kind === 'image') {
      const own = memberProp(m, 'color', 'fill_color');
      const fg = (own != null ? tinted(own, s.color) : toRGBA(s.color)) || { r: 128, g: 128, b: 128, a: 255 };
      const bg = toRGBA(memberProp(m, 'bg_color', 'back_color')) || { r: 255, g: 255, b: 255, a: 255 };
      const isWhite = (v) => v.r === 255 && v.g === 255 && v.b === 255;
      const pattern = String(memberProp(m, 'pattern') || '');
      if (pattern && pattern !== 'solid' && pattern !== 'none') {
        if (!(bgTransparent && isWhite(bg))) { c.fillStyle = css(bg); c.fillRect(0, 0, w, h); }
        c.fillStyle = css(fg);
        const cell = Math.max(2, +memberProp(m, 'pattern_size') || 8);
        c.beginPath();
        for (let y = 0; y < h; y += cell) {
          for (let x = 0; x < w; x += cell) {
            const on = pattern.startsWith('stripe') ? ((x / cell) | 0) % 2 === 0 : pattern.startsWith('grid') ? (x % (cell * 2) === 0 || y % (cell * 2) === 0) : (((x / cell) | 0) + ((y / cell) | 0)) % 2 === 0;
            if (on) c.rect(x, y, Math.min(cell, w - x), Math.min(cell, h - y));
          }
        }
        c.fill();
      } else if (!(bgTransparent && isWhite(fg))) {
        c.fillStyle = css(fg);
        c.fillRect(0, 0, w, h);
      }
    } else if (kind === 'text' || kind === 'field') {
      const fs = Math.max(1, +memberProp(m, 'font_size', 'fontsize', 'size') || 12);
      const font = String(memberProp(m, 'font') || 'sans-serif');
      const style = String(memberProp(m, 'font_style', 'style') || '');
      const txt = String(memberProp(m, 'text') ?? m.name ?? '');
      if (!bgTransparent) {
        c.fillStyle = css(memberProp(m, 'bg_color', 'back_color'), '#ffffff');
        c.fillRect(0, 0, w, h);
      }
      c.fillStyle = css(tinted(memberProp(m, 'color', 'text_color', 'fore_color') ?? { r: 0, g: 0, b: 0, a: 255 }, s.color), '#000000');
      c.font = `${/bold/i.test(style) ? 'bold ' : ''}${/italic/i.test(style) ? 'italic ' : ''}${fs}px ${/[\s,]/.test(font) || /^(sans-serif|serif|monospace)$/.test(font) ? font : `"${font}", sans-serif`}`;
      c.textBaseline = 'top';
      const align = String(memberProp(m, 'alignment', 'align') || 'left').toLowerCase();
      c.textAlign = align === 'center' || align === 'right' ? align : 'left';
      const ax = c.textAlign === 'center' ? w / 2 : c.textAlign === 'right' ? w : 0;
      c.beginPath();
      c.rect(0, 0, w || 1e6, h || 1e6);
      c.clip();
      let y = 0;
      const lineH = fs * 1.2;
      for (const para of txt.split(/\r\n|\r|\n/)) {
        const words = para.split(/(\s+)/);
        let line = '';
        for (const word of words) {
          const test = line + word;
          if (w > 0 && line && c.measureText(test).width > w) {
            c.fillText(line.trimEnd(), ax, y);
            y += lineH;
            line = word.trimStart();
          } else {
            line = test;
          }
        }
        c.fillText(line, ax, y);
        y += lineH;
        if (h > 0 && y > h) break;
      }
    } else if (w > 0 && h > 0) {
      // Members the viewer cannot draw (sound, script, film loop…): a quiet outline.
      c.strokeStyle = 'rgba(128,128,128,0.6)';
      c.setLineDash([4, 3]);
      c.lineWidth = 1;
      c.strokeRect(0.5, 0.5, w - 1, h - 1);
    }
    c.restore();
  }

  // The sprite's four corners in stage coordinates.
  function corners(s) {
    const g = geom(s);
    const pts = [[0, 0], [g.w, 0], [g.w, g.h], [0, g.h]];
    const cos = Math.cos(g.rot);
    const sin = Math.sin(g.rot);
    return pts.map(([x, y]) => {
      let px = x - g.rx;
      const py = y - g.ry;
      px += g.sk * py;
      return [(+s.loc_h || 0) + px * cos - py * sin, (+s.loc_v || 0) + px * sin + py * cos];
    });
  }
  function toLocal(s, g, x, y) {
    let dx = x - (+s.loc_h || 0);
    let dy = y - (+s.loc_v || 0);
    const cos = Math.cos(-g.rot);
    const sin = Math.sin(-g.rot);
    const ux = dx * cos - dy * sin;
    const uy = dx * sin + dy * cos;
    dx = ux - g.sk * uy;
    dy = uy;
    return [dx + g.rx, dy + g.ry];
  }
  function hitTest(x, y) {
    const list = activeSprites();
    for (let i = list.length - 1; i >= 0; i--) {
      const [key, s] = list[i];
      if (s.visible === false) continue;
      const g = geom(s);
      if (!g.m) continue;
      const [lx, ly] = toLocal(s, g, x, y);
      const kind = String(g.m.kind || '').toLowerCase();
      const sk = kind === 'shape' ? shapeKind(g.m) : 'rect';
      if (sk === 'line') {
        const len2 = g.w * g.w + g.h * g.h;
        const t = len2 ? Math.max(0, Math.min(1, (lx * g.w + ly * g.h) / len2)) : 0;
        const ddx = lx - t * g.w;
        const ddy = ly - t * g.h;
        if (ddx * ddx + ddy * ddy <= 25) return key;
      } else if (sk === 'oval') {
        if (g.w > 0 && g.h > 0) {
          const nx = (lx - g.w / 2) / (g.w / 2);
          const ny = (ly - g.h / 2) / (g.h / 2);
          if (nx * nx + ny * ny <= 1) return key;
        }
      } else if (lx >= 0 && ly >= 0 && lx < g.w && ly < g.h) {
        return key;
      }
    }
    return null;
  }

  function drawSelection(c, scale) {
    if (!ui.selected) return;
    const s = model.sprites.get(ui.selected);
    if (!s || !isActive(s)) return;
    const pts = corners(s);
    c.save();
    c.scale(scale, scale);
    c.beginPath();
    pts.forEach(([x, y], i) => (i ? c.lineTo(x, y) : c.moveTo(x, y)));
    c.closePath();
    c.lineWidth = 3 / scale;
    c.strokeStyle = 'rgba(0,0,0,0.6)';
    c.stroke();
    c.lineWidth = 1.5 / scale;
    c.setLineDash([5 / scale, 4 / scale]);
    c.strokeStyle = '#4da3ff';
    c.stroke();
    c.setLineDash([]);
    c.fillStyle = '#4da3ff';
    for (const [x, y] of pts) c.fillRect(x - 2.5 / scale, y - 2.5 / scale, 5 / scale, 5 / scale);
    c.restore();
  }

  function draw() {
    ui.rafPending = false;
    if (ui.dirty) {
      ui.dirty = false;
      $('stage-empty').hidden = model.haveState;
      if (ui.mode === 'pixels') {
        if (pix.img) {
          if (canvas.width !== pix.w || canvas.height !== pix.h) resizeCanvas();
          ctx.putImageData(pix.img, 0, 0);
        } else {
          ctx.fillStyle = '#0b0e13';
          ctx.fillRect(0, 0, canvas.width, canvas.height);
          ctx.fillStyle = '#8a96a8';
          ctx.font = '14px sans-serif';
          ctx.textAlign = 'center';
          ctx.fillText('waiting for rendered pixels…', canvas.width / 2, canvas.height / 2);
          ctx.textAlign = 'left';
        }
        drawSelection(ctx, canvas.width / model.stageW);
      } else {
        if (canvas.width !== model.stageW || canvas.height !== model.stageH) resizeCanvas();
        ctx.setTransform(1, 0, 0, 1, 0, 0);
        ctx.globalAlpha = 1;
        ctx.fillStyle = css(stageBg());
        ctx.fillRect(0, 0, canvas.width, canvas.height);
        for (const [, s] of activeSprites()) drawSprite(ctx, s);
        drawSelection(ctx, 1);
      }
    }
    if (ui.scoreDirty) { ui.scoreDirty = false; drawScore(); }
  }

  // The score strip: one thin row per channel with the spans the viewer knows, and the playhead.
  function drawScore() {
    const c = scoreEl.getContext('2d');
    const cw = Math.max(1, Math.round(scoreEl.clientWidth * (window.devicePixelRatio || 1)));
    const ch = Math.max(1, Math.round(scoreEl.clientHeight * (window.devicePixelRatio || 1)));
    if (scoreEl.width !== cw) scoreEl.width = cw;
    if (scoreEl.height !== ch) scoreEl.height = ch;
    c.clearRect(0, 0, cw, ch);
    const fc = model.movie.frame_count || 0;
    if (!fc) return;
    const fx = (f) => ((f - 1) / Math.max(1, fc - 1)) * (cw - 2) + 1;
    c.fillStyle = 'rgba(255,255,255,0.06)';
    for (let f = 1; f <= fc; f += 10) c.fillRect(Math.round(fx(f)), 0, 1, ch);
    const chans = [...new Set([...model.sprites.values()].map((s) => s.sprite_num))].sort((a, b) => a - b);
    const rowH = (ch - 4) / Math.max(1, chans.length);
    const idx = new Map(chans.map((n, i) => [n, i]));
    for (const s of model.sprites.values()) {
      const b = s.begin_frame || 1;
      const e = s.end_frame && s.end_frame > 0 ? s.end_frame : fc;
      const y = 2 + idx.get(s.sprite_num) * rowH;
      const m = memberOf(s);
      const own = memberProp(m, 'fore_color', 'color', 'fill_color');
      const col = (own != null ? tinted(own, s.color) : toRGBA(s.color)) || { r: 77, g: 163, b: 255, a: 255 };
      c.fillStyle = `rgba(${col.r},${col.g},${col.b},${spriteKey(s) === ui.selected ? 1 : 0.55})`;
      c.fillRect(fx(b), y, Math.max(1, fx(e) - fx(b)), Math.max(1, rowH - (rowH > 3 ? 1 : 0)));
    }
    const px = Math.round(fx(model.movie.frame || 1));
    c.fillStyle = '#ff5f5f';
    c.fillRect(px - 1, 0, 2, ch);
  }

  // ------------------------------------------------------------------ selection + inspector
  function select(key) {
    ui.selected = key;
    $('inspector-error').hidden = true;
    renderInspector();
    ui.listDirty = true;
    ui.scoreDirty = true;
    markDirty(true);
  }
  function stagePoint(e) {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * model.stageW, ((e.clientY - r.top) / r.height) * model.stageH];
  }
  canvas.addEventListener('click', (e) => {
    const [x, y] = stagePoint(e);
    select(hitTest(x, y));
  });
  canvas.addEventListener('mousemove', (e) => {
    const [x, y] = stagePoint(e);
    canvas.style.cursor = hitTest(x, y) ? 'pointer' : 'crosshair';
  });

  const FIELDS = [
    ['sprite_num', 'ro'], ['begin_frame', 'ro'], ['end_frame', 'int'], ['member', 'member'],
    ['loc_h', 'num'], ['loc_v', 'num'], ['loc_z', 'int'], ['width', 'num'], ['height', 'num'],
    ['rotation', 'num'], ['skew', 'num'], ['blend', 'int'], ['ink', 'int'], ['visible', 'bool'], ['color', 'color'],
  ];
  function fmtValue(prop, v) {
    if (v === null || v === undefined) return '—';
    if (prop === 'member') {
      if (!isObj(v)) return String(v);
      const m = model.members.get(memberKey(v));
      return `${v.cast_lib}:${v.member_num}${m && m.name ? ` ${m.name}` : ''}`;
    }
    if (typeof v === 'number') return fmtNum(v);
    if (typeof v === 'boolean') return String(v);
    if (isObj(v) && 'r' in v) return colorHex(v);
    return typeof v === 'string' ? v : JSON.stringify(v);
  }
  function editText(prop, v) {
    if (v === null || v === undefined) return '';
    if (prop === 'member' && isObj(v)) return `${v.cast_lib}:${v.member_num}`;
    if (isObj(v) && 'r' in v) return colorHex(v);
    return typeof v === 'number' ? fmtNum(v) : typeof v === 'string' ? v : JSON.stringify(v);
  }

  function renderInspector() {
    const box = $('inspector');
    const key = ui.selected;
    const s = key ? model.sprites.get(key) : null;
    ui.rows = new Map();
    ui.inspectorKey = key;
    box.dataset.key = key || '';
    box.dataset.sprite = s ? String(s.sprite_num) : '';
    $('inspector-title').textContent = s ? `sprite ${s.sprite_num}` : '';
    if (!key || !s) {
      box.innerHTML = key
        ? '<p class="placeholder">The selected sprite is not on the stage any more.</p>'
        : '<p class="placeholder">Click a sprite on the stage, or pick one below.</p>';
      return;
    }
    const m = memberOf(s);
    box.innerHTML = '';
    const head = document.createElement('div');
    head.className = 'head';
    head.innerHTML = '<b></b> <span></span>';
    head.children[0].textContent = m ? `${m.name || `member ${m.member_num}`}` : 'no member';
    head.children[1].textContent = m ? `(${m.kind || '?'}${m.kind === 'shape' ? ` · ${shapeKind(m)}` : ''}) · frames ${s.begin_frame}–${s.end_frame ?? '?'}` : '';
    box.appendChild(head);
    const table = document.createElement('table');
    table.className = 'props';
    const fields = FIELDS.slice();
    for (const k of Object.keys(s)) if (!fields.some(([f]) => f === k)) fields.push([k, 'ro']);
    for (const [prop, type] of fields) {
      const tr = document.createElement('tr');
      tr.id = `row-${prop}`;
      tr.dataset.prop = prop;
      const ro = type === 'ro' || !controlsEnabled;
      if (ro) tr.classList.add('readonly');
      tr.innerHTML = '<td class="name"></td><td class="cur"></td><td class="edit"></td><td class="st"></td>';
      tr.children[0].textContent = prop;
      const cur = tr.children[1];
      cur.id = `insp-${prop}`;
      let input = null;
      if (!ro) {
        input = document.createElement('input');
        input.id = `edit-${prop}`;
        input.dataset.prop = prop;
        input.autocomplete = 'off';
        input.spellcheck = false;
        if (type === 'bool') {
          input.type = 'checkbox';
          input.addEventListener('change', () => commitEdit(prop, type, input));
        } else {
          input.type = type === 'color' || type === 'member' ? 'text' : 'number';
          if (input.type === 'number') input.step = 'any';
          if (type === 'color') input.placeholder = '#rrggbb';
          if (type === 'member') input.placeholder = 'cast:member';
          input.addEventListener('keydown', (e) => {
            if (e.key === 'Enter') { e.preventDefault(); commitEdit(prop, type, input); }
            if (e.key === 'Escape') { input.value = editText(prop, s[prop]); input.blur(); }
          });
          input.addEventListener('change', () => commitEdit(prop, type, input));
        }
        tr.children[2].appendChild(input);
      }
      ui.rows.set(prop, { tr, cur, input, st: tr.children[3], type });
      table.appendChild(tr);
    }
    box.appendChild(table);
    updateInspector(null);
    for (const [k, p] of pending) {
      const [pk, prop] = k.split('|');
      if (pk === key) setRowState(prop, 'pending', p.acked ? 'applied · awaiting stream' : 'pending…');
    }
  }

  function updateInspector(changed) {
    const key = ui.selected;
    if (!key) return;
    if (ui.inspectorKey !== key || !$('inspector').querySelector('table')) { renderInspector(); return; }
    const s = model.sprites.get(key);
    if (!s) { renderInspector(); return; }
    for (const k of Object.keys(s)) if (!ui.rows.has(k)) { renderInspector(); return; }
    for (const [prop, row] of ui.rows) {
      if (changed && !changed.includes(prop)) continue;
      const v = s[prop];
      const txt = fmtValue(prop, v);
      if (prop === 'color' && v) {
        row.cur.innerHTML = '<span class="swatch"></span><span></span>';
        row.cur.children[0].style.background = css(v);
        row.cur.children[1].textContent = txt;
      } else {
        row.cur.textContent = txt;
      }
      row.cur.dataset.value = JSON.stringify(v ?? null);
      row.cur.title = txt;
      if (changed) { row.tr.classList.remove('changed'); void row.tr.offsetWidth; row.tr.classList.add('changed'); }
      const isPending = pending.has(`${key}|${prop}`);
      if (row.input && document.activeElement !== row.input && !isPending) {
        if (row.type === 'bool') row.input.checked = !!v;
        else row.input.value = editText(prop, v);
      }
    }
  }

  function setRowState(prop, state, text) {
    const row = ui.rows.get(prop);
    if (!row) return;
    row.tr.classList.remove('pending', 'confirmed', 'rejected');
    if (state) row.tr.classList.add(state);
    row.st.textContent = text || '';
    row.st.title = text || '';
  }

  function parseEdit(type, input) {
    if (type === 'bool') return { value: !!input.checked };
    const raw = String(input.value).trim();
    if (type === 'num' || type === 'int') {
      const v = Number(raw);
      if (raw === '' || !Number.isFinite(v)) return { error: `${JSON.stringify(raw)} is not a number` };
      if (type === 'int' && !Number.isInteger(v)) return { error: `${raw} is not a whole number` };
      return { value: v };
    }
    if (type === 'member') {
      const m = /^(\d+)\s*[:.,]\s*(\d+)$/.exec(raw) || /^()(\d+)$/.exec(raw);
      if (!m) return { error: `${JSON.stringify(raw)} is not a member (cast_lib:member_num)` };
      return { value: { cast_lib: m[1] === '' ? 1 : +m[1], member_num: +m[2] } };
    }
    if (type === 'color') {
      const c = parseColorText(raw);
      if (!c) return { error: `${JSON.stringify(raw)} is not a colour (#rrggbb, #rrggbbaa or r,g,b)` };
      return { value: c };
    }
    return { value: raw };
  }

  function commitEdit(prop, type, input) {
    const key = ui.selected;
    const s = key && model.sprites.get(key);
    if (!s) return;
    const p = parseEdit(type, input);
    if (p.error) { setRowState(prop, 'rejected', p.error); return; }
    const existing = pending.get(`${key}|${prop}`);
    if (existing && valuesEqual(existing.value, p.value)) return;
    if (!existing && valuesEqual(s[prop], p.value)) { setRowState(prop, null, ''); return; }
    editSprite(key, prop, p.value);
  }

  // Send set_sprite_prop; the value counts as set only when the sprites stream reports it.
  function editSprite(key, prop, value) {
    const s = model.sprites.get(key);
    if (!s) return null;
    const pk = `${key}|${prop}`;
    const old = pending.get(pk);
    if (old) clearTimeout(old.timer);
    const id = sendCommand(
      { kind: 'set_sprite_prop', sprite_num: s.sprite_num, begin_frame: s.begin_frame, prop, value },
      { edit: { key, prop, value } },
    );
    if (id == null) { setRowState(prop, 'rejected', 'not connected'); return null; }
    pending.set(pk, { value, id, t0: now(), acked: false, timer: 0 });
    $('inspector-error').hidden = true;
    if (key === ui.selected) setRowState(prop, 'pending', 'pending…');
    return id;
  }

  function finishEdit(c, ack) {
    if (!c || !c.edit) return;
    const { key, prop, value } = c.edit;
    const pk = `${key}|${prop}`;
    const p = pending.get(pk);
    if (!p || p.id !== c.id) return;
    if (!ack) { pending.delete(pk); if (key === ui.selected) setRowState(prop, 'rejected', 'connection lost; not applied'); return; }
    if (ack.status !== 'applied') {
      pending.delete(pk);
      const e = ack.error || {};
      const text = `${e.code || ack.status}: ${e.message || ''}`;
      if (key === ui.selected) {
        setRowState(prop, 'rejected', text);
        updateInspector([prop]);
        const box = $('inspector-error');
        box.textContent = `${prop} = ${JSON.stringify(value)} rejected — ${text}`;
        box.hidden = false;
      }
      return;
    }
    p.acked = true;
    const s = model.sprites.get(key);
    if (s && valuesEqual(s[prop], value)) { confirmEdit(key, prop, p); return; }
    if (key === ui.selected) setRowState(prop, 'pending', 'applied · awaiting stream');
    p.timer = setTimeout(() => {
      if (pending.get(pk) !== p) return;
      pending.delete(pk);
      const cur = model.sprites.get(key);
      if (key === ui.selected) {
        setRowState(prop, 'rejected', `applied, but the host reports ${fmtValue(prop, cur ? cur[prop] : undefined)}`);
        updateInspector([prop]);
      }
      log('warn', `${prop} = ${JSON.stringify(value)} was applied but the sprites stream never reported it`);
    }, 4000);
  }
  function confirmEdit(key, prop, p) {
    const pk = `${key}|${prop}`;
    if (pending.get(pk) !== p) return;
    pending.delete(pk);
    clearTimeout(p.timer);
    const ms = now() - p.t0;
    log('ack', `${key.split(':')[0]}.${prop} = ${fmtValue(prop, p.value)} confirmed by the sprites stream in ${fmtMs(ms)}`);
    if (key === ui.selected) {
      setRowState(prop, 'confirmed', `✓ ${fmtMs(ms)}`);
      const row = ui.rows.get(prop);
      if (row && row.input && document.activeElement !== row.input) {
        if (row.type === 'bool') row.input.checked = !!p.value; else row.input.value = editText(prop, p.value);
      }
      setTimeout(() => {
        const r = ui.rows.get(prop);
        if (r && r.tr.classList.contains('confirmed') && !pending.has(pk)) setRowState(prop, null, '');
      }, 4000);
    }
  }

  // sprite list
  const listEl = $('sprite-list');
  listEl.addEventListener('click', (e) => {
    const li = e.target.closest('li');
    if (li && li.dataset.key) select(li.dataset.key);
  });
  function renderSpriteList() {
    ui.listDirty = false;
    const list = activeSprites().reverse();
    $('sprite-count').textContent = String(list.length);
    const frag = document.createDocumentFragment();
    for (const [key, s] of list) {
      const m = memberOf(s);
      const li = document.createElement('li');
      li.dataset.key = key;
      if (key === ui.selected) li.className = 'sel';
      li.innerHTML = '<span class="n"></span><span class="m"></span><span class="p"></span>';
      li.children[0].textContent = String(s.sprite_num);
      li.children[1].textContent = m ? `${m.name || `#${m.member_num}`} · ${m.kind === 'shape' ? shapeKind(m) : m.kind || '?'}` : '(empty)';
      li.children[2].textContent = `${fmtNum(+s.loc_h || 0)},${fmtNum(+s.loc_v || 0)}`;
      frag.appendChild(li);
    }
    const top = listEl.scrollTop;
    listEl.textContent = '';
    listEl.appendChild(frag);
    listEl.scrollTop = top;
  }

  // ------------------------------------------------------------------ live panel
  function updateLive() {
    const t = now();
    stats.samples.push([t, stats.msgs, stats.bytes]);
    while (stats.samples.length > 2 && t - stats.samples[0][0] > 1000) stats.samples.shift();
    const [t0, m0, b0] = stats.samples[0];
    const dt = (t - t0) / 1000;
    if (dt > 0.2) {
      $('msgs').textContent = String(Math.round((stats.msgs - m0) / dt));
      $('bytes').textContent = `${fmtBytes((stats.bytes - b0) / dt)}`;
    }
    $('msgs-total').textContent = `${stats.msgs} total`;
    $('bytes-total').textContent = `${fmtBytes(stats.bytes)} total`;
    const ft = stats.frameTimes;
    while (ft.length && t - ft[0] > 2000) ft.shift();
    let fps = 0;
    if (ft.length >= 2 && t - ft[ft.length - 1] < 1000) fps = (ft.length - 1) / ((ft[ft.length - 1] - ft[0]) / 1000);
    $('fps').textContent = fps.toFixed(1);
    $('latency').textContent = fmtMs(stats.lastLatency);
    $('rtt').textContent = `ping ${stats.rtt == null ? '—' : fmtMs(stats.rtt)}`;
    $('pixel-info').textContent = pix.frames ? `${pix.frames} px frames` : 'no pixels yet';
    $('pixel-info').title = pix.frames
      ? `last pixel frame ${pix.frame}; ${pix.tiles} tiles (${pix.lz4} LZ4, ${pix.raw} raw)${pix.errors ? `; ${pix.errors} bad` : ''}`
      : '';
    if (conn.state === 'reconnecting' && conn.retryTimer) {
      const left = Math.max(0, conn.retryAt - t) / 1000;
      $('status-text').textContent = `Reconnecting in ${left.toFixed(1)} s`;
    }
    if (ui.listDirty) renderSpriteList();
  }
  setInterval(updateLive, 250);

  // ------------------------------------------------------------------ debug / test hooks
  window.StagelinkViewer = {
    version: VERSION,
    lz4Decompress,
    decodeTile,
    get state() {
      return {
        connection: conn.state,
        connects: conn.connects,
        project: conn.project,
        movie: { ...model.movie },
        stage: { width: model.stageW, height: model.stageH },
        sprites: model.sprites.size,
        seqs: { ...model.seqs },
        mode: ui.mode,
        selected: ui.selected,
        pending: [...pending.keys()],
        pixels: { frames: pix.frames, frame: pix.frame, tiles: pix.tiles, raw: pix.raw, lz4: pix.lz4, errors: pix.errors, width: pix.w, height: pix.h },
        stats: { msgs: stats.msgs, bytes: stats.bytes, lastLatency: stats.lastLatency },
      };
    },
    sprite: (key) => (model.sprites.has(key) ? { ...model.sprites.get(key) } : null),
    hitTest,
    select,
    request,
    editSelected: (prop, value) => (ui.selected ? editSprite(ui.selected, prop, value) : null),
    // Candidate click targets: active, visible sprites whose centre hit-tests to themselves,
    // with the centre in page (CSS pixel) coordinates. Topmost first.
    targets() {
      const r = canvas.getBoundingClientRect();
      const out = [];
      for (const [key, s] of activeSprites().reverse()) {
        const g = geom(s);
        if (!g.m || s.visible === false || g.w < 8 || g.h < 8) continue;
        const pts = corners(s);
        const cx = (pts[0][0] + pts[2][0]) / 2;
        const cy = (pts[0][1] + pts[2][1]) / 2;
        if (cx < 0 || cy < 0 || cx >= model.stageW || cy >= model.stageH) continue;
        if (hitTest(cx, cy) !== key) continue;
        out.push({ key, sprite_num: s.sprite_num, kind: g.m.kind, loc_h: s.loc_h, x: r.left + (cx / model.stageW) * r.width, y: r.top + (cy / model.stageH) * r.height });
      }
      return out;
    },
  };

  // ------------------------------------------------------------------ start
  setMode(ui.mode);
  updateTransport();
  setStatus('connecting', 'Connecting…');
  if (!TOKEN) log('warn', 'no ?token= in the page URL; the host will refuse unless it runs --no-auth');
  discoverProject().then(connect);
})();
