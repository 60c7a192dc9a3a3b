// Package sluiceotel exports the figures of sluice's fetch, workqueue and
// stream packages through OpenTelemetry metrics and traces. It lives in its
// own module (github.com/sluicego/sluice/otel), so the core module never
// depends on OpenTelemetry. It is built on the core packages' own hooks and
// Stats, and changes nothing in them: each Instrument* function returns the
// Options with the hook wrapped (a hook already set still runs, after the
// recording), each Observe* function registers a callback that reads Stats
// at collection time, and WrapHandler and WrapTransport make the spans.
//
//	cfg := sluiceotel.Config{MeterProvider: mp, TracerProvider: tp}
//	f, err := fetch.New(sluiceotel.InstrumentFetch(fetch.Options{PerHost: 4}, cfg))
//	reg, err := sluiceotel.ObserveFetcher(f, cfg) // reg.Unregister() when done
//
//	q, err := workqueue.New(sluiceotel.WrapHandler(handle, cfg),
//		sluiceotel.InstrumentWorkqueue(workqueue.Options[Job]{Workers: 8}, cfg))
//	reg, err := sluiceotel.ObserveQueue(q, cfg)
//
//	c, err := stream.New(dialer, sluiceotel.InstrumentStream(stream.Options[M]{}, cfg))
//	reg, err := sluiceotel.ObserveStream(c, cfg)
//
// # Metrics
//
// Durations are in seconds. Every measurement also carries
// [Config.Attributes].
//
//	name                                 kind             attributes                      from
//	sluice.fetch.request.duration        histogram (s)    server.address, sluice.outcome,  OnResult
//	                                                      http.response.status_code
//	sluice.fetch.request.wait            histogram (s)    server.address                  OnResult
//	sluice.fetch.retries                 counter          server.address                  OnResult
//	sluice.fetch.bytes                   counter (By)     server.address                  OnResult
//	sluice.fetch.requests.in_flight      gauge            -                               Stats
//	sluice.fetch.requests.backing_off    gauge            -                               Stats
//	sluice.fetch.attempts                counter          -                               Stats
//	sluice.fetch.redirects               counter          -                               Stats
//	sluice.fetch.robots.fetches          counter          -                               Stats
//	sluice.workqueue.jobs                counter          sluice.outcome                  OnResult
//	sluice.workqueue.job.attempts        histogram        sluice.outcome                  OnResult
//	sluice.workqueue.attempt.duration    histogram (s)    sluice.outcome (ok, error)      WrapHandler
//	sluice.workqueue.queued              gauge            -                               Stats
//	sluice.workqueue.running             gauge            -                               Stats
//	sluice.workqueue.retrying            gauge            -                               Stats
//	sluice.workqueue.submitted           counter          -                               Stats
//	sluice.workqueue.retries             counter          -                               Stats
//	sluice.stream.disconnects            counter          sluice.reason                   OnState
//	sluice.stream.connection.duration    histogram (s)    sluice.reason                   OnState
//	sluice.stream.connect.failures       counter          sluice.reason                   OnState
//	sluice.stream.reconnects             counter          -                               OnState
//	sluice.stream.state                  gauge            sluice.state                    Stats
//	sluice.stream.send_buffer            gauge            -                               Stats
//	sluice.stream.messages               counter          sluice.direction (in, out)      Stats
//	sluice.stream.messages.dropped       counter          -                               Stats
//	sluice.stream.dials                  counter          -                               Stats
//	sluice.stream.connects               counter          -                               Stats
//
// sluice.outcome is [FetchOutcome] or [WorkqueueOutcome] of the Result;
// sluice.reason is [DisconnectReason] of the error that ended a connection:
// disconnects with reason ping_timeout or idle_timeout are dead peers.
// The gauges are observable UpDownCounters (sluice.stream.state an
// observable Gauge); through OpenTelemetry's Prometheus exporter the
// counters get a _total suffix and units a suffix of their own
// (sluice_fetch_request_duration_seconds).
//
// # Cardinality
//
// Every attribute has a small fixed set of values except server.address,
// the host of a fetched URL: a crawler can meet any number of hosts, and
// each becomes its own series. [Config.MaxHosts] (default
// [DefaultMaxHosts]) bounds the distinct values one instrumented Fetcher
// reports, the rest being [OtherHost]; [Config.Host] maps hosts to a
// bounded set of your own or drops the attribute.
//
// # Spans
//
// With [Config.TracerProvider] set, [InstrumentFetch] installs
// [WrapTransport] in the Fetcher's client: a client span per HTTP round
// trip — one per attempt, so a request retried once gives two spans, plus
// one per redirect hop and robots.txt request — named after the method,
// child of the context passed to Get, Do, All or Stream, with the status set
// to Error for a transport error or a 4xx/5xx response. [WrapHandler] makes
// a span per job attempt, "sluice.workqueue.attempt", with sluice.attempt.
// There is no span for a whole fetch request or job: their attempts are
// siblings.
//
// # Not recorded
//
// A workqueue Result carries no timestamps, so the time from Submit to a
// job's outcome is not recorded; sluice.workqueue.attempt.duration times
// each handler call.
package sluiceotel
