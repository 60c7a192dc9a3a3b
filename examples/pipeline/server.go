package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// site is the embedded source of documents, an HTTP server on 127.0.0.1.
// Page n answers after 2-15ms; about 2% of pages are missing (404) and about
// 3% have no <title> (the transform stage rejects them).
type site struct {
	URL    string
	srv    *http.Server
	served chan error
}

func startSite() (*site, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // loopback only
	if err != nil {
		return nil, err
	}
	s := &site{URL: "http://" + ln.Addr().String(), served: make(chan error, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /doc/{n}", page)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { s.served <- s.srv.Serve(ln) }()
	return s, nil
}

func (s *site) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s.srv.Shutdown(ctx) != nil {
		_ = s.srv.Close()
	}
	<-s.served
}

func page(w http.ResponseWriter, r *http.Request) {
	n, _ := strconv.ParseUint(r.PathValue("n"), 10, 64)
	rnd := rand.New(rand.NewPCG(n, 42))
	roll := rnd.Float64()
	select {
	case <-time.After(time.Duration(2+rnd.IntN(14)) * time.Millisecond):
	case <-r.Context().Done():
		return
	}
	if roll < 0.02 {
		http.NotFound(w, r)
		return
	}
	title := fmt.Sprintf("<title>Document %d</title>", n)
	if roll < 0.05 {
		title = "" // malformed: the transform stage dead-letters it
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<html><head>%s</head><body><p>%s</p></body></html>\n",
		title, strings.Repeat("lorem ipsum dolor sit amet ", 20+rnd.IntN(200)))
}
