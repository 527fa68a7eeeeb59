package transport_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
	"github.com/mosiachat/mosiachat/transport/client"
)

// switchAuth is tokenAuth with revoked principals and an outage switch.
type switchAuth struct {
	mu      sync.Mutex
	revoked map[string]bool
	down    bool
	slow    bool // the lookup times out
	calls   atomic.Int32
}

func (a *switchAuth) authenticate(ctx context.Context, ev transport.AuthenticateEvent) (transport.AuthenticateReply, error) {
	a.calls.Add(1)
	reply, err := tokenAuth(ctx, ev)
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.down:
		return transport.AuthenticateReply{}, errors.Join(attendance.ErrUnavailable, errors.New("session store down"))
	case a.slow:
		return transport.AuthenticateReply{}, context.DeadlineExceeded
	case err == nil && a.revoked[reply.Principal.ID]:
		return transport.AuthenticateReply{}, errors.New("session revoked")
	}
	return reply, err
}

func (a *switchAuth) set(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f()
}

// Credentials refused on a reconnection stop the client: trying again
// would not change them. Its commands fail at once with the refusal,
// Events closes, and Err says why.
func TestRefusedCredentialsStopTheClient(t *testing.T) {
	t.Parallel()
	auth := &switchAuth{revoked: map[string]bool{}}
	e := newEnv(t, envOptions{cfg: func(c *transport.Config) { c.Authenticate = auth.authenticate }})
	ctx := ctxT(t)
	ben := e.dial("beneficiary", "b1")
	closed := make(chan struct{})
	go func() {
		for range ben.Events() {
		}
		close(closed)
	}()
	conv, err := ben.Open(ctx, "billing")
	require.NoError(t, err)
	require.NoError(t, ben.Err())

	auth.set(func() { auth.revoked["b1"] = true })
	e.srv.Disconnect(attendance.BeneficiaryPrincipal("b1"))
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Events was not closed after the credentials were refused")
	}
	requireClientCode(t, ben.Err(), transport.CodeUnauthenticated)
	calls := auth.calls.Load()
	_, err = ben.SendText(ctx, conv.ID, "still there?")
	requireClientCode(t, err, transport.CodeUnauthenticated)
	require.Equal(t, calls, auth.calls.Load(), "the stopped client tried again")
	require.NoError(t, ben.Close())
}

// When the host cannot tell who the caller is (its session store is down:
// an error matching attendance.ErrUnavailable), the caller gets 503
// unavailable, not 401, and the client keeps trying until it gets in.
func TestAuthenticationOutageIsRetried(t *testing.T) {
	t.Parallel()
	auth := &switchAuth{revoked: map[string]bool{}}
	e := newEnv(t, envOptions{cfg: func(c *transport.Config) { c.Authenticate = auth.authenticate }})
	ctx := ctxT(t)
	ben := e.dial("beneficiary", "b1")
	ev := record(ben)
	conv, err := ben.Open(ctx, "billing")
	require.NoError(t, err)

	// A lookup that timed out is no refusal either.
	for _, outage := range []func(){func() { auth.slow = true }, func() { auth.slow, auth.down = false, true }} {
		auth.set(outage)
		req, err := http.NewRequest(http.MethodGet, e.http.URL+"/attachments/0123456789abcdef0123456789abcdef", nil)
		require.NoError(t, err)
		req.Header = header("beneficiary", "b1")
		resp, err := e.http.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	}

	calls := auth.calls.Load()
	e.srv.Disconnect(attendance.BeneficiaryPrincipal("b1"))
	require.Eventually(t, func() bool { return auth.calls.Load() >= calls+3 }, 10*time.Second, 5*time.Millisecond, "the client stopped trying")
	require.NoError(t, ben.Err())
	auth.set(func() { auth.down = false })
	_, err = ben.SendText(ctx, conv.ID, "back")
	require.NoError(t, err)
	require.NoError(t, ben.Err())
	ev.wait(t, "the message after the outage", func(r *recorder) bool { return len(r.texts(conv.ID)) == 1 })
}

// The first connection drops before its hello's reply and the
// reconnection is refused: the client stops, and Dial returns the refusal
// at once rather than waiting for its ctx.
func TestDialReturnsARefusedReconnection(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			if c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{transport.Subprotocol}}); err == nil {
				c.CloseNow()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"code":"unauthenticated","message":"revoked"}`))
	}))
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http"), &client.Config{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	require.Nil(t, c)
	requireClientCode(t, err, transport.CodeUnauthenticated)
}
