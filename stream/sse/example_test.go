package sse_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sluicego/sluice/stream"
	"github.com/sluicego/sluice/stream/sse"
)

// A Client on an SSE Dialer resumes from the last event ID after every
// reconnection, here from an ID the application saved earlier.
func ExampleDialer() {
	// A local server that sends the events after the requested position.
	events := []string{"alpha", "beta", "gamma"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from := 0
		fmt.Sscan(r.Header.Get("Last-Event-ID"), &from)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 1000\n\n") // reconnect no sooner than 1s
		for i := from; i < len(events); i++ {
			fmt.Fprintf(w, "id: %d\nevent: word\ndata: %s\n\n", i+1, events[i])
		}
	}))
	defer srv.Close()

	d := &sse.Dialer{URL: srv.URL, LastEventID: "1"} // "alpha" was handled before
	c, err := stream.New[sse.Event](d, stream.Options[sse.Event]{})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = c.Run(ctx, func(_ context.Context, ev sse.Event) error {
		fmt.Printf("id=%s event=%s data=%s\n", ev.ID, ev.Event, ev.Data)
		if ev.ID == "3" {
			cancel()
		}
		return nil
	})
	fmt.Println("Run:", err, "- resume from", d.ResumeID())
	// Output:
	// id=2 event=word data=beta
	// id=3 event=word data=gamma
	// Run: context canceled - resume from 3
}
