// What the servers in this directory share: their command line
// (--port N, 0 for any free port; --config '{...}' over their defaults),
// listening on 127.0.0.1 only with the `READY {"port":N}` line the Go tests
// wait for, and a clean exit on SIGTERM/SIGINT.

"use strict";

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

// config returns defaults overridden by --config.
function config(defaults) {
  return Object.assign({}, defaults, JSON.parse(arg("--config", "{}")));
}

// listen starts server on 127.0.0.1:--port and prints the READY line.
function listen(server) {
  server.listen(Number(arg("--port", "0")), "127.0.0.1", () => {
    process.stdout.write("READY " + JSON.stringify({ port: server.address().port }) + "\n");
  });
  for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
}

module.exports = { config, listen };
