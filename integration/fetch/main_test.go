// Package fetchit tests package fetch against real servers: nginx, and
// nginx behind toxiproxy's fault injection. See the README, "Integration
// tests".
package fetchit

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
