// Package streamit tests package stream and its transports against real
// third-party servers: a WebSocket server on Node's ws and a server-sent
// events server on npm's better-sse (integration/node, pinned by its
// package-lock.json), started as child processes on 127.0.0.1.
//
// Without node, or without `npm ci` run in integration/node, the tests skip
// and say what to install; with SLUICE_INTEGRATION=required (.ci/run) they
// fail instead.
package streamit

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
