package sluice_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/sluicego/sluice/fetch"
	"github.com/sluicego/sluice/retry"
	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/workqueue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type noDial struct{}

func (noDial) Dial(context.Context) (stream.Conn[string], error) {
	return nil, errors.New("not used")
}

// accepts reports, for each package that takes a retry policy, whether its
// constructor accepts p; a rejection must wrap both that package's
// ErrInvalidOptions and retry.ErrInvalidPolicy.
func accepts(t *testing.T, p retry.Policy) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	check := func(name string, err error, invalid error) {
		if err != nil {
			require.ErrorIs(t, err, invalid, name)
			require.ErrorIs(t, err, retry.ErrInvalidPolicy, name)
		}
		got[name] = err == nil
	}
	_, err := fetch.New(fetch.Options{Retry: &p})
	check("fetch", err, fetch.ErrInvalidOptions)
	q, err := workqueue.New(func(context.Context, int) error { return nil }, workqueue.Options[int]{Retry: &p})
	if q != nil {
		q.Close()
		require.NoError(t, q.Wait(t.Context()))
	}
	check("workqueue", err, workqueue.ErrInvalidOptions)
	_, err = stream.New[string](noDial{}, stream.Options[string]{Backoff: p.Schedule})
	if p.Schedule.Validate() == nil {
		require.NoError(t, err, "stream takes the Schedule alone")
	}
	check("stream", err, stream.ErrInvalidOptions)
	got["retry.Do"] = retry.Do(t.Context(), p, func(context.Context) error { return nil }) == nil
	return got
}

// One policy, one verdict: a policy that one package accepts is never
// rejected by another (issue 11, item 1).
func TestEveryPackageJudgesARetryPolicyAlike(t *testing.T) {
	for name, tc := range map[string]struct {
		p     retry.Policy
		valid bool
	}{
		"zero":               {retry.Policy{}, true},
		"no retry":           {*retry.NoRetry(), true},
		"no delay":           {retry.Policy{Schedule: retry.Schedule{Initial: retry.NoDelay}}, true},
		"unlimited attempts": {retry.Policy{MaxAttempts: -1, MaxElapsed: time.Minute}, true},
		"constant":           {retry.Policy{Schedule: retry.Schedule{Initial: time.Second, Max: time.Second, Multiplier: 1}}, true},
		"negative Initial":   {retry.Policy{Schedule: retry.Schedule{Initial: -time.Second}}, false},
		"Initial above Max":  {retry.Policy{Schedule: retry.Schedule{Initial: time.Minute, Max: time.Second}}, false},
		"negative Max":       {retry.Policy{Schedule: retry.Schedule{Max: -1}}, false},
		"negative MaxHint":   {retry.Policy{Schedule: retry.Schedule{MaxHint: -1}}, false},
		"shrinking":          {retry.Policy{Schedule: retry.Schedule{Multiplier: 0.5}}, false},
		"NaN multiplier":     {retry.Policy{Schedule: retry.Schedule{Multiplier: math.NaN()}}, false},
		"unknown jitter":     {retry.Policy{Schedule: retry.Schedule{Jitter: 7}}, false},
		"negative elapsed":   {retry.Policy{MaxElapsed: -time.Second}, false},
	} {
		got := accepts(t, tc.p)
		for pkg, ok := range got {
			if pkg == "stream" && tc.p.Schedule.Validate() == nil {
				continue // stream takes no stopping rules
			}
			assert.Equal(t, tc.valid, ok, "%s: %s", name, pkg)
		}
	}
}
