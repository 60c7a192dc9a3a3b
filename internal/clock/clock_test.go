package clock

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestSleepWaitsTheWholeDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := Sleep(t.Context(), 3*time.Second); err != nil {
			t.Fatalf("Sleep = %v, want nil", err)
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Fatalf("slept %v, want 3s", got)
		}
	})
}

func TestSleepReturnsWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		if err := Sleep(ctx, time.Hour); err != context.DeadlineExceeded {
			t.Fatalf("Sleep = %v, want context.DeadlineExceeded", err)
		}
		if got := time.Since(start); got != time.Second {
			t.Fatalf("slept %v, want 1s (the context's deadline)", got)
		}
	})
}

func TestSleepWithoutDelayReportsTheContext(t *testing.T) {
	if err := Sleep(t.Context(), 0); err != nil {
		t.Fatalf("Sleep(live, 0) = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Sleep(ctx, -time.Second); err != context.Canceled {
		t.Fatalf("Sleep(canceled, -1s) = %v, want context.Canceled", err)
	}
	if err := Sleep(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("Sleep(canceled, 1h) = %v, want context.Canceled", err)
	}
}
