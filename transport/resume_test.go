package transport_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
	"github.com/mosiachat/mosiachat/transport/client"
)

// startChat opens a conversation for ben on subject and has agent accept it.
func startChat(t *testing.T, ctx context.Context, ben, agent *client.Client, agentEv *recorder, subject string) string {
	t.Helper()
	conv, err := ben.Open(ctx, subject)
	require.NoError(t, err)
	agentEv.wait(t, "offer", func(r *recorder) bool { return r.has(transport.EventOffer, conv.ID) })
	_, err = agent.Accept(ctx, conv.ID)
	require.NoError(t, err)
	return conv.ID
}

// Both sides are cut again and again (client side and server side) while
// both keep sending; every message arrives once, in order, and nothing is
// stored twice.
func TestResumeAfterCuts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{agents: map[string]attendance.Profile{"ana": profile}})
	ctx := ctxT(t)
	ana, ben := e.dial("agent", "ana"), e.dial("beneficiary", "b1")
	anaEv, benEv := record(ana), record(ben)
	_, err := ana.SetPresence(ctx, attendance.PresenceOnline)
	require.NoError(t, err)
	conv := startChat(t, ctx, ben, ana, anaEv, "billing")

	const n = 60
	var wg sync.WaitGroup
	for _, side := range []struct {
		c      *client.Client
		prefix string
	}{{ana, "a"}, {ben, "b"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				_, err := side.c.SendText(ctx, conv, fmt.Sprintf("%s%03d", side.prefix, i))
				if err != nil {
					t.Errorf("send %s%d: %v", side.prefix, i, err)
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	for i := range 8 {
		time.Sleep(15 * time.Millisecond)
		switch i % 3 {
		case 0:
			ben.Drop()
			ana.Drop()
		case 1:
			e.srv.Disconnect(attendance.BeneficiaryPrincipal("b1"))
			e.srv.Disconnect(attendance.AgentPrincipal("ana"))
		case 2:
			ben.Drop()
			e.srv.Disconnect(attendance.AgentPrincipal("ana"))
		}
	}
	wg.Wait()

	want := func(r *recorder) bool { return len(r.texts(conv)) == 2*n }
	benEv.wait(t, "all texts at the beneficiary", want)
	anaEv.wait(t, "all texts at the agent", want)
	for _, r := range []*recorder{benEv, anaEv} {
		r.mu.Lock()
		requireContiguous(t, r.msgs[conv])
		seen := map[string]bool{}
		for _, body := range r.texts(conv) {
			require.False(t, seen[body], "duplicate %s", body)
			seen[body] = true
		}
		r.mu.Unlock()
	}
	stored, err := e.eng.Messages(ctx, attendance.BeneficiaryPrincipal("b1"), conv, 0, 0)
	require.NoError(t, err)
	texts := 0
	for _, m := range stored {
		if m.Kind == attendance.KindText {
			texts++
		}
	}
	require.Equal(t, 2*n, texts, "nothing stored twice")
	require.GreaterOrEqual(t, ben.Stats().Connects, 2)
	require.Zero(t, ben.Stats().Gaps)
	require.Zero(t, ana.Stats().Gaps)
}

// tinyBuffers makes the server's socket send buffers small so a reader
// that stops reading fills them fast.
type tinyBuffers struct{ net.Listener }

func (l tinyBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

func tinyClient() *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}}}
}

// A history much longer than the outbound buffer, through a small socket
// send buffer, reaches a client that reads at its own pace on one
// connection: the server sends it as fast as the client takes it, never as
// a flood that closes the connection as a slow reader (before pacing, this
// took about 200 reconnections).
func TestLongHistoryOverASlowLink(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{
		cfg:      func(c *transport.Config) { c.OutboundBuffer = 8 },
		listener: func(hs *httptest.Server) { hs.Listener = tinyBuffers{hs.Listener} },
	})
	ctx := ctxT(t)
	ben := attendance.BeneficiaryPrincipal("far")
	c, err := e.eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	body := strings.Repeat("y", 4000)
	const n = 100
	for i := range n {
		_, err := e.eng.Send(ctx, ben, attendance.SendParams{ConversationID: c.ID, Body: fmt.Sprintf("%03d%s", i, body)})
		require.NoError(t, err)
	}

	far := e.dial("beneficiary", "far", func(c *client.Config) { c.EventBuffer = 1 })
	ev := record(far)
	ev.wait(t, "the whole history", func(r *recorder) bool { return len(r.texts(c.ID)) == n && r.has(transport.EventSynced, "") })
	ev.mu.Lock()
	requireContiguous(t, ev.msgs[c.ID])
	for i, body := range ev.texts(c.ID) {
		require.True(t, strings.HasPrefix(body, fmt.Sprintf("%03d", i)))
	}
	ev.mu.Unlock()
	require.Equal(t, 1, far.Stats().Connects, "the history took reconnections")
	require.Zero(t, far.Stats().Gaps)
}

// A reader that stops reading is disconnected with 1008 while another chat
// keeps flowing; when it reads again it resumes with nothing lost.
func TestSlowReader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{
		agents: map[string]attendance.Profile{
			"ana": {Max: 2, Queues: []string{"q1"}},
			"bia": {Max: 2, Queues: []string{"q2"}},
		},
		cfg: func(c *transport.Config) {
			c.OutboundBuffer = 8
			c.WriteTimeout = 500 * time.Millisecond
			c.CommandsPerSecond, c.CommandBurst = 1000, 1000
		},
		listener: func(hs *httptest.Server) { hs.Listener = tinyBuffers{hs.Listener} },
	})
	ctx := ctxT(t)
	ana, bia := e.dial("agent", "ana"), e.dial("agent", "bia")
	anaEv, biaEv := record(ana), record(bia)
	for _, a := range []*client.Client{ana, bia} {
		_, err := a.SetPresence(ctx, attendance.PresenceOnline)
		require.NoError(t, err)
	}
	slow := e.dial("beneficiary", "slow", func(c *client.Config) { c.EventBuffer = 1; c.HTTPClient = tinyClient() })
	fast := e.dial("beneficiary", "fast")
	slowEv, fastEv := record(slow), record(fast)
	slowConv := startChat(t, ctx, slow, ana, anaEv, "billing")
	fastConv := startChat(t, ctx, fast, bia, biaEv, "exams")
	slowEv.wait(t, "accepted", func(r *recorder) bool { return len(r.msgs[slowConv]) >= 3 })
	before := e.srv.Stats().Connections

	// The slow beneficiary stops reading.
	unblock := make(chan struct{})
	slowEv.mu.Lock()
	slowEv.block = unblock
	slowEv.mu.Unlock()

	body := strings.Repeat("x", 4000)
	const n = 100
	for i := range n {
		_, err := ana.SendText(ctx, slowConv, fmt.Sprintf("%03d%s", i, body))
		require.NoError(t, err)
	}
	// The server gives up on it...
	require.Eventually(t, func() bool { return e.srv.Stats().Connections < before }, 10*time.Second, 10*time.Millisecond)
	// ...while the other chat flows.
	for i := range 20 {
		_, err := bia.SendText(ctx, fastConv, fmt.Sprint(i))
		require.NoError(t, err)
	}
	fastEv.wait(t, "fast chat", func(r *recorder) bool { return len(r.texts(fastConv)) == 20 })

	// Reading again, the slow client resumes and gets everything once.
	slowEv.mu.Lock()
	slowEv.block = nil
	slowEv.mu.Unlock()
	close(unblock)
	// The client's receive buffer is smaller than a frame, which slows TCP
	// itself to a crawl (window updates wait for the persist timer); under
	// a loaded machine (the whole suite under -race, repeated) that can
	// outlast 10 s.
	slowEv.waitFor(t, "every message after resuming", time.Minute, func(r *recorder) bool { return len(r.texts(slowConv)) == n })
	slowEv.mu.Lock()
	requireContiguous(t, slowEv.msgs[slowConv])
	for i, body := range slowEv.texts(slowConv) {
		require.True(t, strings.HasPrefix(body, fmt.Sprintf("%03d", i)))
	}
	slowEv.mu.Unlock()
	require.GreaterOrEqual(t, slow.Stats().Connects, 2)
	require.Zero(t, slow.Stats().Gaps)
}
