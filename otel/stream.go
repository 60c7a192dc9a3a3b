package sluiceotel

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sluicego/sluice/stream"
)

// DisconnectReason returns the sluice.reason value of the error that ended
// a stream connection or attempt: "ping_timeout" ([stream.ErrPingTimeout])
// and "idle_timeout" ([stream.ErrIdleTimeout]) for a dead peer, "canceled"
// for the end of Run's context, "eof" for a peer that closed the stream
// (io.EOF, io.ErrUnexpectedEOF), "error" for anything else.
func DisconnectReason(err error) string {
	switch {
	case errors.Is(err, stream.ErrPingTimeout):
		return "ping_timeout"
	case errors.Is(err, stream.ErrIdleTimeout):
		return "idle_timeout"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	}
	return "error"
}

// InstrumentStream returns o with OnState wrapped: each state change is
// recorded, then passed to the OnState already set, if any. It records, by
// sluice.reason (see [DisconnectReason]):
//
//   - sluice.stream.disconnects: connections that were up and ended; those
//     with reason ping_timeout or idle_timeout are dead peers;
//   - sluice.stream.connection.duration: how long each of them was up
//     (seconds);
//   - sluice.stream.connect.failures: attempts that failed before the
//     connection was up (Dial, OnConnect, the send buffer's flush);
//
// and sluice.stream.reconnects: connection attempts after the first.
// Gauges and counters of the client as a whole (state, messages, send
// buffer) come from [ObserveStream].
//
// The returned Options follow one Client's state changes: make one per
// Client.
func InstrumentStream[M any](o stream.Options[M], cfg Config) stream.Options[M] {
	m := cfg.meter()
	disconnects, err := m.Int64Counter("sluice.stream.disconnects", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections that were up and ended, by reason; ping_timeout and idle_timeout are dead peers."))
	handle(err)
	upTime, err := m.Float64Histogram("sluice.stream.connection.duration", metric.WithUnit("s"),
		metric.WithDescription("How long a connection was up, by the reason it ended."),
		metric.WithExplicitBucketBoundaries(0.1, 1, 10, 60, 300, 1800, 3600, 21600, 86400))
	handle(err)
	failures, err := m.Int64Counter("sluice.stream.connect.failures", metric.WithUnit("{attempt}"),
		metric.WithDescription("Connection attempts that failed before the connection was up, by reason."))
	handle(err)
	reconnects, err := m.Int64Counter("sluice.stream.reconnects", metric.WithUnit("{attempt}"),
		metric.WithDescription("Connection attempts after the first."))
	handle(err)
	noReason := cfg.with()

	var mu sync.Mutex // OnState is called in order on Run's goroutine; the lock guards misuse across clients
	prev := stream.StateIdle
	var upSince time.Time
	user := o.OnState
	o.OnState = func(e stream.StateEvent) {
		now := time.Now()
		mu.Lock()
		was := prev
		prev = e.State
		since := upSince
		if e.State == stream.StateConnected {
			upSince = now
		}
		mu.Unlock()
		ctx := context.Background()
		switch e.State {
		case stream.StateConnecting:
			if was == stream.StateDisconnected {
				reconnects.Add(ctx, 1, noReason)
			}
		case stream.StateDisconnected:
			opt := cfg.with(ReasonKey.String(DisconnectReason(e.Err)))
			if was == stream.StateConnected {
				disconnects.Add(ctx, 1, opt)
				upTime.Record(ctx, now.Sub(since).Seconds(), opt)
			} else {
				failures.Add(ctx, 1, opt)
			}
		}
		if user != nil {
			user(e)
		}
	}
	return o
}

var streamStates = []stream.State{stream.StateIdle, stream.StateConnecting, stream.StateConnected,
	stream.StateDisconnected, stream.StateClosed}

// ObserveStream registers callbacks that report c's [stream.Stats] at each
// collection: sluice.stream.state (1 for the current sluice.state, 0 for
// the others), sluice.stream.send_buffer (messages waiting in the send
// buffer) as gauges, and sluice.stream.messages (by sluice.direction "in"
// and "out"), sluice.stream.messages.dropped, sluice.stream.dials and
// sluice.stream.connects as counters, with cfg.Attributes. Unregister the
// returned Registration once Run has returned.
func ObserveStream[M any](c *stream.Client[M], cfg Config) (metric.Registration, error) {
	m := cfg.meter()
	state, err := m.Int64ObservableGauge("sluice.stream.state", metric.WithUnit("{state}"),
		metric.WithDescription("1 for the client's current connection state, 0 for the others."))
	if err != nil {
		return nil, err
	}
	buffered, err := m.Int64ObservableUpDownCounter("sluice.stream.send_buffer", metric.WithUnit("{message}"),
		metric.WithDescription("Messages waiting in the send buffer."))
	if err != nil {
		return nil, err
	}
	messages, err := m.Int64ObservableCounter("sluice.stream.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Messages handed to the handler (in) and written (out)."))
	if err != nil {
		return nil, err
	}
	dropped, err := m.Int64ObservableCounter("sluice.stream.messages.dropped", metric.WithUnit("{message}"),
		metric.WithDescription("Queued messages that were never written."))
	if err != nil {
		return nil, err
	}
	dials, err := m.Int64ObservableCounter("sluice.stream.dials", metric.WithUnit("{attempt}"),
		metric.WithDescription("Calls to the Dialer."))
	if err != nil {
		return nil, err
	}
	connects, err := m.Int64ObservableCounter("sluice.stream.connects", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections that became usable."))
	if err != nil {
		return nil, err
	}
	attrs := metric.WithAttributeSet(attribute.NewSet(cfg.Attributes...))
	stateOpts := make([]metric.MeasurementOption, len(streamStates))
	for i, s := range streamStates {
		stateOpts[i] = cfg.with(StateKey.String(s.String()))
	}
	in, out := cfg.with(DirectionKey.String("in")), cfg.with(DirectionKey.String("out"))
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := c.Stats()
		for i, st := range streamStates {
			v := int64(0)
			if s.State == st {
				v = 1
			}
			o.ObserveInt64(state, v, stateOpts[i])
		}
		o.ObserveInt64(buffered, s.Buffered, attrs)
		o.ObserveInt64(messages, s.MessagesIn, in)
		o.ObserveInt64(messages, s.MessagesOut, out)
		o.ObserveInt64(dropped, s.Dropped, attrs)
		o.ObserveInt64(dials, s.Dials, attrs)
		o.ObserveInt64(connects, s.Connects, attrs)
		return nil
	}, state, buffered, messages, dropped, dials, connects)
}
