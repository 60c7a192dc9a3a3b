package websocket

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Thousands of Dialers without an HTTPClient share one transport instead of
// holding one each (issue 14: about 2 KB per idle client).
func TestDialersWithoutAClientShareOneTransport(t *testing.T) {
	a, fa := handshakeClient(nil)
	b, fb := handshakeClient(nil)
	assert.True(t, fa && fb)
	assert.Same(t, a, b)
	assert.Same(t, a.Transport, b.Transport)
	assert.Equal(t, -1, a.Transport.(*http.Transport).MaxIdleConnsPerHost, "never pools")

	own := &http.Client{Transport: &http.Transport{}}
	c, fc := handshakeClient(own)
	assert.True(t, fc)
	assert.NotSame(t, own.Transport, c.Transport, "a caller's transport is cloned, never modified")
	assert.NotSame(t, a.Transport, c.Transport)
}
