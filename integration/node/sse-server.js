// A server-sent events server on the `better-sse` package, started by the Go
// tests in ../stream as a child process. It listens on 127.0.0.1 only, on the
// port given by --port (0: any free port), and prints one line
// `READY {"port":N}` on stdout once it accepts connections.
//
// Its behaviour is set by one JSON argument (--config '{...}'), see
// `defaults` below. Routes:
//
//   GET  /events  the event stream (a better-sse Session), or a status
//                 answer as the config says
//   GET  /stats   what happened so far, as JSON (see `stats`)
//   POST /push    push the request body as the data of one event on every
//                 open session (?id=X sets its id, default none)
//   POST /drop    destroy the socket of every open stream: a dropped
//                 connection, not a clean end of the response

"use strict";

const http = require("node:http");
const common = require("./common");
const { createSession } = require("better-sse");

const defaults = {
  // better-sse's keepAlive: a comment line every this many ms (null: none).
  keepAliveMs: null,
  // better-sse's retry: a retry field sent first on each stream (null: none).
  retryMs: null,
  // Statuses answered to the first requests, in order, with an empty body
  // (a 503 carries no Retry-After); later requests get the stream.
  statuses: [],
  // Status answered to every request instead of a stream (e.g. 204, 404).
  always: 0,
  // A resumable feed of events with ids 1..total and data "event <id>". A
  // stream starts after its request's Last-Event-ID (0 if none), sends the
  // next `per` events and ends the response; a request whose
  // Last-Event-ID is already total is answered 204 (stop).
  feed: null, // {total: 20, per: 6}
  // On each stream, write one event (id "slow") a data line at a time:
  // data lines "part0".."part<parts-1>", one every intervalMs, then the
  // blank line that dispatches it. An event whose bytes trickle in.
  slowEvent: null, // {parts: 8, intervalMs: 150}
};

const config = common.config(defaults);
const start = Date.now();

const stats = {
  requests: [], // {n, ms, status, accept, cacheControl, lastEventId} for each GET /events
  sessions: 0, // streams opened
  open: 0, // streams open now
  pushed: 0, // events sent by /push (counted per session)
};

const open = new Set(); // {session, res}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (req.method === "GET" && url.pathname === "/events") return events(req, res);
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    if (req.method === "GET" && url.pathname === "/stats") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(stats));
    } else if (req.method === "POST" && url.pathname === "/push") {
      const id = url.searchParams.get("id") || "";
      let n = 0;
      for (const o of open) {
        if (!o.session.isConnected) continue;
        // push() with no id would make up a UUID: write the fields ourselves.
        o.session.batch((b) => {
          b.event("message");
          if (id) b.id(id);
          b.data(body).dispatch();
        });
        n++;
      }
      stats.pushed += n;
      res.end(String(n));
    } else if (req.method === "POST" && url.pathname === "/drop") {
      const n = open.size;
      for (const o of open) o.res.socket.destroy();
      res.end(String(n));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
});

async function events(req, res) {
  const n = stats.requests.length + 1;
  const lastEventId = req.headers["last-event-id"];
  const rec = {
    n,
    ms: Date.now() - start,
    status: 200,
    accept: req.headers["accept"] || "",
    cacheControl: req.headers["cache-control"] || "",
    lastEventId: lastEventId === undefined ? null : lastEventId,
  };
  stats.requests.push(rec);

  let status = config.always || 0;
  if (!status && n <= config.statuses.length) status = config.statuses[n - 1];
  const from = Number(lastEventId || 0);
  if (!status && config.feed && from >= config.feed.total) status = 204;
  if (status) {
    rec.status = status;
    res.writeHead(status);
    res.end();
    return;
  }

  const session = await createSession(req, res, {
    keepAlive: config.keepAliveMs,
    retry: config.retryMs,
    serializer: String, // data as given, not JSON
  });
  stats.sessions++;
  stats.open++;
  const entry = { session, res };
  open.add(entry);
  session.on("disconnected", () => {
    stats.open--;
    open.delete(entry);
  });

  if (config.slowEvent) {
    const { parts, intervalMs } = config.slowEvent;
    let i = 0;
    // Raw writes on the session's response, after its head: better-sse
    // itself writes whole events only.
    res.write("id: slow\n");
    const next = () => {
      if (!session.isConnected) return;
      res.write("data: part" + i + "\n");
      if (++i < parts) setTimeout(next, intervalMs);
      else res.write("\n");
    };
    next();
  }

  if (config.feed) {
    const { total, per } = config.feed;
    const end = Math.min(from + per, total);
    for (let id = from + 1; id <= end; id++) session.push("event " + id, "message", String(id));
    res.end();
  }
}

common.listen(server);
