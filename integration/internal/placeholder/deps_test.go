package placeholder

import (
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/coder/websocket"
	"github.com/sluicego/sluice/fetch"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

var _ = toxiproxy.NewClient
var _ = websocket.Dial
var _ = fetch.New

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNothing(t *testing.T) { require.True(t, true) }
