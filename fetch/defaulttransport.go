package fetch

import "net/http"

// DefaultTransport returns a new transport like the one [New] builds for o
// when o.Client is nil: connection limits matched to o's caps, the module's
// dial and TLS handshake timeouts, and a response header timeout equal to
// AttemptTimeout. It is for callers that wrap it (to trace each round trip,
// say) and pass the wrapper back in Options.Client. For invalid options it
// returns New's error.
func DefaultTransport(o Options) (*http.Transport, error) {
	c, err := o.normalize()
	if err != nil {
		return nil, err
	}
	return newTransport(c), nil
}
