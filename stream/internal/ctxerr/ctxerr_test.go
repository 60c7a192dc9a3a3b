package ctxerr

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sluicego/sluice/retry"
)

type codeError struct{ code int }

func (e *codeError) Error() string { return fmt.Sprint("code ", e.code) }

func TestHideDropsOnlyContextMatches(t *testing.T) {
	errMine := errors.New("mine")
	inner := fmt.Errorf("ping: %w", errors.Join(errMine, &codeError{7}, context.DeadlineExceeded))
	err := retry.Permanent(retry.After(fmt.Errorf("outer: %w", inner), time.Second))

	h := Hide(err)
	assert.Equal(t, err.Error(), h.Error())
	assert.NotErrorIs(t, h, context.DeadlineExceeded)
	assert.NotErrorIs(t, h, context.Canceled)
	assert.ErrorIs(t, h, errMine)
	var ce *codeError
	require.ErrorAs(t, h, &ce)
	assert.Equal(t, 7, ce.code)
	assert.True(t, retry.IsPermanent(h))
	d, ok := retry.Hint(h)
	assert.True(t, ok)
	assert.Equal(t, time.Second, d)

	plain := fmt.Errorf("plain: %w", errMine)
	assert.Same(t, plain, Hide(plain), "no context error: unchanged")
	assert.NoError(t, Hide(nil))
}
