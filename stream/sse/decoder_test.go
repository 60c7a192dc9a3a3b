package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeAll returns every event of input and the error that ended decoding.
func decodeAll(r io.Reader, max int) ([]Event, string, error) {
	d := NewDecoder(r, max)
	var evs []Event
	for {
		ev, err := d.Next()
		if err != nil {
			return evs, d.LastEventID(), err
		}
		evs = append(evs, ev)
	}
}

func TestDecoderFollowsEventSourceRules(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []Event
	}{
		{"single", "data: hello\n\n", []Event{{Data: "hello"}}},
		{"multi-line data joined with LF", "data: a\ndata:b\ndata:  c\n\n", []Event{{Data: "a\nb\n c"}}},
		{"event type and id", "event: tick\nid: 7\ndata: x\n\n", []Event{{ID: "7", Event: "tick", Data: "x"}}},
		{"id persists to later events", "id: 1\ndata: a\n\ndata: b\n\n", []Event{{ID: "1", Data: "a"}, {ID: "1", Data: "b"}}},
		{"empty id resets", "id: 1\ndata: a\n\nid\ndata: b\n\n", []Event{{ID: "1", Data: "a"}, {Data: "b"}}},
		{"id with NUL ignored", "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", []Event{{ID: "1", Data: "a"}, {ID: "1", Data: "b"}}},
		{"event type reset after dispatch", "event: e\ndata: a\n\ndata: b\n\n", []Event{{Event: "e", Data: "a"}, {Data: "b"}}},
		{"comments ignored", ": hi\ndata: a\n:\n\n", []Event{{Data: "a"}}},
		{"no dispatch without data", "event: e\nid: 3\n\ndata: a\n\n", []Event{{ID: "3", Data: "a"}}},
		{"empty data field dispatches empty", "data\n\n", []Event{{Data: ""}}},
		{"two empty data fields", "data\ndata\n\n", []Event{{Data: "\n"}}},
		{"only one leading space removed", "data:  x \n\n", []Event{{Data: " x "}}},
		{"field without colon", "data\n\n", []Event{{Data: ""}}},
		{"unknown field ignored", "foo: bar\ndata: a\n\n", []Event{{Data: "a"}}},
		{"CR line endings", "data: a\rdata: b\r\r", []Event{{Data: "a\nb"}}},
		{"CRLF line endings", "data: a\r\ndata: b\r\n\r\n", []Event{{Data: "a\nb"}}},
		{"mixed line endings", "data: a\r\ndata: b\rdata: c\n\r\n", []Event{{Data: "a\nb\nc"}}},
		{"BOM skipped", "\xEF\xBB\xBFdata: a\n\n", []Event{{Data: "a"}}},
		{"second BOM is data", "\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n", nil},
		{"unterminated last event dropped", "data: a\n\ndata: b\n", []Event{{Data: "a"}}},
		{"retry digits", "retry: 1500\ndata: a\n\n", []Event{{Data: "a", Retry: 1500 * time.Millisecond}}},
		{"retry non-digits ignored", "retry: 15x\ndata: a\n\nretry: -1\ndata: b\n\nretry:\ndata: c\n\n", []Event{{Data: "a"}, {Data: "b"}, {Data: "c"}}},
		{"retry huge capped", "retry: 99999999999999999999999\ndata: a\n\n", []Event{{Data: "a", Retry: maxRetry}}},
		{"colon in value kept", "data: a:b\n\n", []Event{{Data: "a:b"}}},
		{"field names are case sensitive", "Data: a\n\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, _, err := decodeAll(strings.NewReader(tc.in), 0)
			require.ErrorIs(t, err, io.EOF)
			assert.Equal(t, tc.want, evs)
			// Byte-at-a-time delivery gives the same events.
			evs, _, err = decodeAll(iotest.OneByteReader(strings.NewReader(tc.in)), 0)
			require.ErrorIs(t, err, io.EOF)
			assert.Equal(t, tc.want, evs)
		})
	}
}

func TestDecoderIDOnlyBlockUpdatesLastEventID(t *testing.T) {
	d := NewDecoder(strings.NewReader("data: a\nid: 1\n\nid: 2\n\n"), 0)
	ev, err := d.Next()
	require.NoError(t, err)
	assert.Equal(t, "1", ev.ID)
	_, err = d.Next()
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, "2", d.LastEventID(), "a dispatched block without data still sets the last event ID")
}

func TestDecoderSeedKeepsIDWhenStreamCarriesNone(t *testing.T) {
	d := NewDecoder(strings.NewReader("data: a\n\n"), 0)
	d.Seed("41", 3*time.Second)
	ev, err := d.Next()
	require.NoError(t, err)
	assert.Equal(t, Event{ID: "41", Data: "a", Retry: 3 * time.Second}, ev)
	assert.Equal(t, "41", d.LastEventID())
}

func TestDecoderCRAtChunkBoundaryDoesNotWaitForLF(t *testing.T) {
	// A line ended by CR must be processed without waiting for the next
	// byte: a server may pause right after "\r\r".
	pr, pw := io.Pipe()
	defer pr.Close()
	d := NewDecoder(pr, 0)
	go func() {
		_, _ = pw.Write([]byte("data: a\r\r"))
		// no more bytes until the reader closes
	}()
	ev, err := d.Next()
	require.NoError(t, err)
	assert.Equal(t, "a", ev.Data)
	pr.Close()
	_ = pw.Close()
}

func TestDecoderHugeEventBounded(t *testing.T) {
	t.Run("long line", func(t *testing.T) {
		in := "data: " + strings.Repeat("x", 5000) + "\n\n"
		_, _, err := decodeAll(strings.NewReader(in), 1024)
		require.ErrorIs(t, err, ErrEventTooLarge)
	})
	t.Run("many data lines", func(t *testing.T) {
		in := strings.Repeat("data: "+strings.Repeat("x", 100)+"\n", 50) + "\n"
		_, _, err := decodeAll(strings.NewReader(in), 1024)
		require.ErrorIs(t, err, ErrEventTooLarge)
	})
	t.Run("endless line from an endless reader", func(t *testing.T) {
		d := NewDecoder(endless('x'), 1<<16)
		_, err := d.Next()
		require.ErrorIs(t, err, ErrEventTooLarge)
		assert.LessOrEqual(t, cap(d.buf), 1<<16+1)
		_, err = d.Next()
		require.ErrorIs(t, err, ErrEventTooLarge, "errors are sticky")
	})
	t.Run("exactly at the limit is fine", func(t *testing.T) {
		in := "data:" + strings.Repeat("x", 1019) + "\n\n" // line of 1024 bytes, data of 1020
		evs, _, err := decodeAll(iotest.HalfReader(strings.NewReader(in)), 1024)
		require.ErrorIs(t, err, io.EOF)
		require.Len(t, evs, 1)
		assert.Len(t, evs[0].Data, 1019)
	})
}

type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

func TestDecoderReaderErrorReturned(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom))
	evs, _, err := decodeAll(r, 0)
	require.ErrorIs(t, err, boom)
	assert.Equal(t, []Event{{Data: "a"}}, evs)
}

func TestDecoderNoProgressReader(t *testing.T) {
	_, err := NewDecoder(zeroReader{}, 0).Next()
	require.ErrorIs(t, err, io.ErrNoProgress)
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// FuzzParse checks that the decoder never panics, stays within its bounds,
// and gives the same result for LF, CRLF and CR line endings and for any
// chunking of the input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"data: a\n\n",
		"event: e\nid: 1\ndata: a\ndata: b\n\n",
		": c\nretry: 100\n\nid\ndata\n\n",
		"\xEF\xBB\xBFdata: x\n\n",
		"id: a\x00b\ndata: y\n\n",
		"data: " + strings.Repeat("z", 300) + "\n\n",
	} {
		f.Add([]byte(s))
	}
	const limit = 256
	f.Fuzz(func(t *testing.T, in []byte) {
		lf := bytes.ReplaceAll(in, []byte("\r"), nil)
		crlf := bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))
		cr := bytes.ReplaceAll(lf, []byte("\n"), []byte("\r"))

		want, wantID, wantErr := decodeAll(bytes.NewReader(lf), limit)
		for _, ev := range want {
			if len(ev.Data) > limit || len(ev.ID) > limit || len(ev.Event) > limit {
				t.Fatalf("event over the limit: %d/%d/%d bytes", len(ev.Data), len(ev.ID), len(ev.Event))
			}
		}
		if len(want) > bytes.Count(lf, []byte("\n")) {
			t.Fatalf("%d events from %d lines", len(want), bytes.Count(lf, []byte("\n")))
		}
		if !errors.Is(wantErr, io.EOF) && !errors.Is(wantErr, ErrEventTooLarge) {
			t.Fatalf("unexpected error %v", wantErr)
		}
		for name, variant := range map[string]io.Reader{
			"crlf":          bytes.NewReader(crlf),
			"cr":            bytes.NewReader(cr),
			"crlf bytewise": iotest.OneByteReader(bytes.NewReader(crlf)),
			"lf half":       iotest.HalfReader(bytes.NewReader(lf)),
		} {
			got, gotID, gotErr := decodeAll(variant, limit)
			if len(want) != len(got) || (len(want) > 0 && !equalEvents(want, got)) || wantID != gotID ||
				errors.Is(wantErr, io.EOF) != errors.Is(gotErr, io.EOF) {
				t.Fatalf("%s: got %q %q %v, want %q %q %v", name, got, gotID, gotErr, want, wantID, wantErr)
			}
		}
	})
}

func equalEvents(a, b []Event) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func BenchmarkDecoder(b *testing.B) {
	chunk := []byte("id: 12345\nevent: update\ndata: {\"price\": 101.25, \"symbol\": \"ABC\"}\n\n")
	in := bytes.Repeat(chunk, 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(chunk)))
	r := bytes.NewReader(in)
	d := NewDecoder(r, 0)
	for b.Loop() {
		if _, err := d.Next(); err != nil {
			r.Reset(in)
			d = NewDecoder(r, 0)
			if _, err := d.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
