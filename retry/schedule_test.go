package retry_test

import (
	"math"
	"testing"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A huge Retry-After with MaxHint set to "no cap" must not overflow the
// jittered hint into a negative value and be silently replaced by the short
// backoff delay.
func TestHugeHintWithHugeMaxHintDoesNotOverflowToShortDelay(t *testing.T) {
	p := retry.Policy{Schedule: retry.Schedule{MaxHint: math.MaxInt64}}
	for range 50 {
		d, err := p.Next(t.Context(), retry.After(errTransient, math.MaxInt64), 1, 0, 0)
		require.NoError(t, err)
		assert.Equal(t, time.Duration(math.MaxInt64), d)
	}
}
