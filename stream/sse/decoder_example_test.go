package sse_test

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sluicego/sluice/stream/sse"
)

// A Decoder parses a text/event-stream body obtained by other means, here
// from a string: comments are skipped, data lines are joined with "\n", and
// an event's ID is the stream's latest id field.
func ExampleDecoder() {
	body := strings.NewReader(": keep-alive comment\n" +
		"retry: 2500\n" +
		"id: 7\nevent: price\ndata: {\"sym\":\"ABC\",\ndata: \"px\":101.5}\n\n" +
		"data: no id field, so ID stays 7\n\n" +
		"data: unterminated, discarded")
	d := sse.NewDecoder(body, 0) // 0: DefaultMaxEventBytes
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("id=%s event=%q data=%q\n", ev.ID, ev.Event, ev.Data)
	}
	fmt.Println("resume from", d.LastEventID(), "retry", d.Retry())
	// Output:
	// id=7 event="price" data="{\"sym\":\"ABC\",\n\"px\":101.5}"
	// id=7 event="" data="no id field, so ID stays 7"
	// resume from 7 retry 2.5s
}
