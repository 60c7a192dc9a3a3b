package retry_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicego/sluice/retry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidateAcceptsTheZeroValueAndDocumentedSpellings(t *testing.T) {
	for _, p := range []retry.Policy{
		{},
		*retry.NoRetry(),
		{MaxAttempts: -1},
		{Schedule: retry.Schedule{Initial: retry.NoDelay}},
		{Schedule: retry.Schedule{Initial: time.Second, Max: time.Minute, Multiplier: 1, Jitter: retry.JitterNone, MaxHint: time.Hour}},
		{Schedule: retry.Schedule{Multiplier: 1e300}, MaxElapsed: time.Hour},
	} {
		assert.NoError(t, p.Validate(), "%+v", p)
	}
}

func TestValidateRejectsEachFieldOutOfRange(t *testing.T) {
	for name, p := range map[string]retry.Policy{
		"Initial":         {Schedule: retry.Schedule{Initial: -2}},
		"Max":             {Schedule: retry.Schedule{Max: -1}},
		"MaxHint":         {Schedule: retry.Schedule{MaxHint: -time.Second}},
		"Multiplier 0.5":  {Schedule: retry.Schedule{Multiplier: 0.5}},
		"Multiplier <0":   {Schedule: retry.Schedule{Multiplier: -2}},
		"Multiplier NaN":  {Schedule: retry.Schedule{Multiplier: math.NaN()}},
		"Multiplier +Inf": {Schedule: retry.Schedule{Multiplier: math.Inf(1)}},
		"Jitter":          {Schedule: retry.Schedule{Jitter: 99}},
		"Jitter<0":        {Schedule: retry.Schedule{Jitter: -1}},
		"MaxElapsed":      {MaxElapsed: -1},
	} {
		err := p.Validate()
		require.ErrorIs(t, err, retry.ErrInvalidPolicy, name)
		field, _, _ := cut(name)
		assert.Contains(t, err.Error(), field, "the error names the field")

		// Do refuses it without calling fn.
		calls := 0
		err = retry.Do(t.Context(), p, func(context.Context) error { calls++; return nil })
		assert.ErrorIs(t, err, retry.ErrInvalidPolicy, name)
		assert.Zero(t, calls, name)
	}
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == ' ' || s[i] == '<' {
			return s[:i], s[i:], true
		}
	}
	return s, "", false
}

func TestNoDelayRetriesAtOnceButHonoursAfter(t *testing.T) {
	s := retry.Schedule{Initial: retry.NoDelay, Jitter: retry.JitterEqual}
	for a := 1; a < 70; a++ {
		require.Zero(t, s.Delay(a))
		require.Zero(t, s.Base(a))
	}
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		err := retry.Do(t.Context(), retry.Policy{Schedule: s, MaxAttempts: 4}, func(context.Context) error {
			calls++
			return errors.New("busy")
		})
		assert.ErrorIs(t, err, retry.ErrExhausted)
		assert.Equal(t, 4, calls)
		assert.Zero(t, time.Since(start), "no wait between attempts")

		calls = 0
		s.Jitter = retry.JitterNone
		err = retry.Do(t.Context(), retry.Policy{Schedule: s, MaxAttempts: 2}, func(context.Context) error {
			calls++
			if calls == 1 {
				return retry.After(errors.New("429"), 3*time.Second)
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, 3*time.Second, time.Since(start), "a server's Retry-After still counts")
	})
}

func TestBackoffNextForAppliesTheHintCappedAtMaxHint(t *testing.T) {
	b := retry.Backoff{Schedule: retry.Schedule{Initial: time.Second, Jitter: retry.JitterNone, MaxHint: 30 * time.Second}}
	assert.Equal(t, time.Second, b.NextFor(errors.New("plain")))
	assert.Equal(t, 5*time.Second, b.NextFor(retry.After(errors.New("503"), 5*time.Second)))
	assert.Equal(t, 30*time.Second, b.NextFor(retry.After(errors.New("503"), time.Hour)), "capped at MaxHint")
	assert.Equal(t, 8*time.Second, b.NextFor(retry.After(errors.New("503"), time.Millisecond)), "never below the schedule's delay")
	assert.Equal(t, 4, b.Attempt())

	var zero retry.Backoff
	d := zero.NextFor(retry.After(errors.New("503"), time.Hour))
	assert.GreaterOrEqual(t, d, retry.DefaultMaxHint, "zero MaxHint means DefaultMaxHint")
	assert.LessOrEqual(t, d, retry.DefaultMaxHint*11/10, "plus at most 10% jitter")
}
