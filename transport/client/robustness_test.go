package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/transport"
	"github.com/mosiachat/mosiachat/transport/client"
)

// fakeServer answers each connection's hello with reply(helloID), then runs
// after on the connection; it returns the URL and a count of connections.
func fakeServer(t *testing.T, reply func(id string) string, after func(ctx context.Context, ws *websocket.Conn)) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		n.Add(1)
		defer ws.CloseNow()
		_, data, err := ws.Read(r.Context())
		if err != nil {
			return
		}
		var hello transport.ClientFrame
		if err := json.Unmarshal(data, &hello); err != nil {
			return
		}
		if ws.Write(r.Context(), websocket.MessageText, []byte(reply(hello.ID))) != nil {
			return
		}
		after(r.Context(), ws)
	}))
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http"), &n
}

func helloOK(id string) string {
	return `{"type":"result","id":"` + id + `","data":{"protocol":1,"principal":{"role":"beneficiary","id":"b"},"heartbeat_ms":25000}}`
}

// readAll reads until the connection ends.
func readAll(ctx context.Context, ws *websocket.Conn) {
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			return
		}
	}
}

// An error reply to the hello without an error object is a refusal, not a
// crash: Dial returns it.
func TestHelloErrorWithoutBody(t *testing.T) {
	url, _ := fakeServer(t, func(id string) string { return `{"type":"error","id":"` + id + `"}` }, readAll)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.Dial(ctx, url, nil)
	var e *client.Error
	require.ErrorAs(t, err, &e)
}

// A refused first hello ends Dial with the server's error, even with a
// context that never ends.
func TestDialReturnsARefusedHello(t *testing.T) {
	url, _ := fakeServer(t, func(id string) string {
		return `{"type":"error","id":"` + id + `","error":{"code":"unsupported_version","message":"no"}}`
	}, readAll)
	_, err := client.Dial(context.Background(), url, nil)
	var e *client.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, transport.CodeUnsupportedVersion, e.Code)
}

// Close fails a command still waiting for its reply with ErrClosed.
func TestCloseFailsPendingCommandsWithErrClosed(t *testing.T) {
	got := make(chan struct{})
	url, _ := fakeServer(t, helloOK, func(ctx context.Context, ws *websocket.Conn) {
		if _, _, err := ws.Read(ctx); err == nil {
			close(got) // the command arrived; it gets no reply
		}
		readAll(ctx, ws)
	})
	c, err := client.Dial(context.Background(), url, nil)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Open(context.Background(), "billing")
		errc <- err
	}()
	<-got
	require.NoError(t, c.Close())
	require.ErrorIs(t, <-errc, client.ErrClosed)
}

// A server that accepts the hello and closes the connection at once is not
// redialled in a tight loop: the backoff grows until a connection lasts.
// (An upper bound on connections: a slow machine only makes fewer.)
func TestBackoffGrowsWhenConnectionsDoNotLast(t *testing.T) {
	url, n := fakeServer(t, helloOK, func(context.Context, *websocket.Conn) {})
	c, err := client.Dial(context.Background(), url, &client.Config{MinBackoff: 20 * time.Millisecond, MaxBackoff: 400 * time.Millisecond})
	require.NoError(t, err)
	time.Sleep(2 * time.Second)
	require.NoError(t, c.Close())
	// Waits of up to 20, 40, ..., 400 ms, then 400 ms each: at most about
	// 10 in 2 s. Reset after every hello, it dialled over 50 times.
	require.LessOrEqual(t, n.Load(), int32(20))
}

// A link that goes silent (no frame for two heartbeat intervals) is
// replaced: the client reconnects by itself.
func TestSilentLinkIsReplaced(t *testing.T) {
	var silent atomic.Bool
	silent.Store(true)
	url, n := fakeServer(t, func(id string) string {
		return `{"type":"result","id":"` + id + `","data":{"protocol":1,"principal":{"role":"beneficiary","id":"b"},"heartbeat_ms":100}}`
	}, func(ctx context.Context, ws *websocket.Conn) {
		if silent.Swap(false) {
			<-ctx.Done() // the first connection: never another word, never closed
			return
		}
		readAll(ctx, ws)
	})
	c, err := client.Dial(context.Background(), url, &client.Config{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	require.NoError(t, err)
	defer c.Close()
	require.Eventually(t, func() bool { return c.Stats().Connects >= 2 }, 10*time.Second, 10*time.Millisecond)
	require.GreaterOrEqual(t, n.Load(), int32(2))
}
