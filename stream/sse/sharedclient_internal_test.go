package sse

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Thousands of Dialers without a Client share one transport instead of
// holding one each (issue 14: about 1.7 KB per idle client).
func TestDialersWithoutAClientShareOneTransport(t *testing.T) {
	a, b := &Dialer{URL: "http://127.0.0.1:1/"}, &Dialer{URL: "http://127.0.0.1:1/"}
	a.init()
	b.init()
	assert.Same(t, a.client, b.client)
	assert.Equal(t, -1, a.client.Transport.(*http.Transport).MaxIdleConnsPerHost, "never pools")

	own := &http.Client{}
	c := &Dialer{URL: "http://127.0.0.1:1/", Client: own}
	c.init()
	assert.Same(t, own, c.client)
}
