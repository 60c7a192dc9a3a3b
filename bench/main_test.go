package bench

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// ants keeps its purge and ticktock goroutines for a while after
// ReleaseTimeout returns (the leak users reported as ants #212 and #263);
// that is a peer's behaviour, not ours, so it is ignored here.
//
// With streamServerEnv set, the binary is the Streams benchmarks' child
// server instead (see streamserver_test.go).
func TestMain(m *testing.M) {
	if os.Getenv(streamServerEnv) != "" {
		streamServerMain()
		return
	}
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}
