// Package jsqueueit tests workqueue/jsqueue against the real nats-server
// binary (the version pinned as a tool in integration/go.mod), started as a
// separate process on 127.0.0.1 with JetStream file storage in a temporary
// directory: every job handled with none lost, a SIGKILLed and restarted
// broker, NakWithDelay retries, Shutdown's release of held jobs, dedup and a
// full stream.
//
// The tests build nats-server with go build the first time, or use the
// binary named by SLUICE_NATS_SERVER (.ci/run builds it); with
// SLUICE_INTEGRATION=required a missing binary fails instead of skipping.
package jsqueueit

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
