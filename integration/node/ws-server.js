// A WebSocket server on the `ws` package, started by the Go tests in
// ../stream as a child process. It listens on 127.0.0.1 only, on the port
// given by --port (0: any free port), and prints one line
// `READY {"port":N}` on stdout once it accepts connections.
//
// Its behaviour is set by one JSON argument (--config '{...}'), see
// `defaults` below, and it is observed and steered over plain HTTP on the
// same port:
//
//   GET  /stats  what happened so far, as JSON (see `stats`)
//   POST /push   send the request body as a text message on every open connection
//
// WebSocket connections are accepted on /ws.

"use strict";

const http = require("node:http");
const common = require("./common");
const { WebSocketServer } = require("ws");

const defaults = {
  // Answer pings with pongs (ws' own autoPong option).
  autoPong: true,
  // Send "hello <n>" when connection n (counted from 1) opens.
  greet: false,
  // Close each connection right after the handshake: with a close frame of
  // this status code, or abruptly with terminate() (no close frame) when
  // the code is 0.
  acceptThenClose: null, // {code: 1000} or {code: 0}
  // When a ping arrives on connection n (from 1), wait delaysMs[(n-1) % len]
  // ms and close with `code`. Combine with autoPong false so that the ping
  // is still waiting for its pong when the close frame arrives.
  closeOnPing: null, // {code: 1001, delaysMs: [0, 1, 2]}
  // A replayable feed of `total` messages "0".."total-1". A client sends
  // "subscribe <from>"; the server then sends messages from..from+per-1
  // (fewer at the end) and terminates the connection after the per-th
  // one, or closes it with 1000 after the last message of the feed.
  feed: null, // {total: 100, per: 7}
  // On each connection, send one text message "part0;part1;..." in
  // `fragments` WebSocket frames (continuation frames), one every
  // intervalMs: a message whose bytes trickle in.
  slowMessage: null, // {fragments: 8, intervalMs: 150}
};

const config = common.config(defaults);

const stats = {
  connections: 0, // WebSocket connections opened
  open: 0, // connections open now
  closes: [], // {conn, code, reason} for every closed connection, in order
  pings: 0, // pings received
  messages: [], // {conn, data} for every message received, in order
  subscribes: {}, // conn -> number of subscribe messages on it
  pushed: 0, // messages sent by /push
};

const sockets = new Set();
const server = http.createServer(control);
const wss = new WebSocketServer({ noServer: true, autoPong: config.autoPong });

server.on("upgrade", (req, socket, head) => {
  if (new URL(req.url, "http://127.0.0.1").pathname !== "/ws") {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
});

wss.on("connection", (ws) => {
  const n = ++stats.connections;
  stats.open++;
  sockets.add(ws);
  ws.on("error", () => {});
  ws.on("close", (code, reason) => {
    stats.open--;
    sockets.delete(ws);
    stats.closes.push({ conn: n, code, reason: reason.toString() });
  });
  ws.on("ping", () => {
    stats.pings++;
    const c = config.closeOnPing;
    if (c && ws.readyState === ws.OPEN) {
      const delays = c.delaysMs && c.delaysMs.length ? c.delaysMs : [0];
      const d = delays[(n - 1) % delays.length];
      const close = () => {
        if (ws.readyState === ws.OPEN) ws.close(c.code, "closing at ping");
      };
      if (d > 0) setTimeout(close, d);
      else close();
    }
  });
  ws.on("message", (data) => {
    const text = data.toString();
    stats.messages.push({ conn: n, data: text });
    const m = /^subscribe (\d+)$/.exec(text);
    if (m && config.feed) {
      stats.subscribes[n] = (stats.subscribes[n] || 0) + 1;
      sendFeed(ws, Number(m[1]));
    }
  });

  if (config.acceptThenClose) {
    if (config.acceptThenClose.code) ws.close(config.acceptThenClose.code, "accept then close");
    else ws.terminate();
    return;
  }
  if (config.greet) ws.send("hello " + n);
  if (config.slowMessage) sendSlowly(ws, config.slowMessage);
});

function sendSlowly(ws, { fragments, intervalMs }) {
  let i = 0;
  const next = () => {
    if (ws.readyState !== ws.OPEN) return;
    const fin = i === fragments - 1;
    ws.send("part" + i + ";", { fin });
    if (!fin) {
      i++;
      setTimeout(next, intervalMs);
    }
  };
  next();
}

function sendFeed(ws, from) {
  const { total, per } = config.feed;
  const end = Math.min(from + per, total);
  for (let i = from; i < end; i++) {
    const last = i === end - 1;
    ws.send(String(i), last ? () => finish() : undefined);
  }
  if (from >= end) finish();
  function finish() {
    if (ws.readyState !== ws.OPEN) return;
    if (end >= total) ws.close(1000, "feed complete");
    else ws.terminate(); // a drop: no close frame
  }
}

function control(req, res) {
  const path = new URL(req.url, "http://127.0.0.1").pathname;
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    if (req.method === "GET" && path === "/stats") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(stats));
    } else if (req.method === "POST" && path === "/push") {
      for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(body);
      stats.pushed++;
      res.end(String(sockets.size));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
}

common.listen(server);
