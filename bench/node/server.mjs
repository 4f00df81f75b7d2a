// The Node.js baseline for stagelink-bench: a broadcast server on the `ws` package.
//
//   node server.mjs fanout CAPTURE.json FPS   broadcast the captured demo-movie ticks at FPS
//   node server.mjs idle                      accept connections, answer hello, send nothing
//
// CAPTURE.json is written by the bench: `{"welcome": "...", "sentinel": "...", "ticks": [[msg, ...], ...]}`,
// the exact bytes a Stagelink session received for each tick of the demo movie. Each tick sends
// those messages, pre-serialized (one Buffer per message, shared by every client), to every
// client that said hello; the one message carrying the bench timestamp gets the current
// CLOCK_MONOTONIC time (process.hrtime, the clock the bench reads) in place of the sentinel.
//
// Prints `ws: 127.0.0.1:PORT` then `ready`; exits when stdin closes (the bench went away).
import { readFileSync } from "node:fs";
import { WebSocketServer } from "ws";

const [mode, capturePath, fpsArg] = process.argv.slice(2);
let welcome = '{"type":"welcome","protocol":1,"session":"node","project":"demo","role":"observer","streams":[],"capabilities":[],"heartbeat_ms":5000,"idle_timeout_ms":30000}';
let ticks = [];
let sentinel = null;
if (mode === "fanout") {
  const capture = JSON.parse(readFileSync(capturePath, "utf8"));
  welcome = capture.welcome;
  sentinel = capture.sentinel;
  ticks = capture.ticks.map((messages) =>
    messages.map((text) =>
      text.includes(sentinel) ? { text, buf: null } : { text, buf: Buffer.from(text) },
    ),
  );
} else if (mode !== "idle") {
  console.error(`unknown mode ${mode}; use fanout or idle`);
  process.exit(2);
}
const welcomeBuf = Buffer.from(welcome);

const clients = new Set();
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, path: "/ws", perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws._socket.setNoDelay(true);
  ws.on("message", () => {
    if (!clients.has(ws)) {
      ws.send(welcomeBuf, { binary: false });
      clients.add(ws);
    }
  });
  ws.on("close", () => clients.delete(ws));
  ws.on("error", () => clients.delete(ws));
});

wss.on("listening", () => {
  const { port } = wss.address();
  process.stdout.write(`ws: 127.0.0.1:${port}\nready\n`);
  if (mode === "fanout") startTicking(Number(fpsArg) || 60);
});

function startTicking(fps) {
  const period = 1000 / fps;
  let next = performance.now();
  let i = 0;
  const tick = () => {
    const messages = ticks[i % ticks.length];
    i += 1;
    const now = process.hrtime.bigint().toString();
    for (const m of messages) {
      const buf = m.buf ?? Buffer.from(m.text.replace(sentinel, now));
      for (const ws of clients) ws.send(buf, { binary: false });
    }
    next += period;
    const wait = next - performance.now();
    if (wait < -4 * period) next = performance.now();
    setTimeout(tick, Math.max(0, wait));
  };
  tick();
}

process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
