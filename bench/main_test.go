package bench

import (
	"testing"

	"go.uber.org/goleak"
)

// ants keeps its purge and ticktock goroutines for a while after
// ReleaseTimeout returns (the leak users reported as ants #212 and #263);
// that is a peer's behaviour, not ours, so it is ignored here.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}
