package transport_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
	"github.com/mosiachat/mosiachat/transport/client"
)

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for name, h := range map[string]http.Header{
		"none":      nil,
		"bad":       header("bad", "x"),
		"no id":     {"Authorization": []string{"Bearer agent:"}},
		"system":    header("system", "x"),
		"bad role":  header("root", "x"),
		"malformed": {"Authorization": []string{"Basic Zm9v"}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, resp, err := websocket.Dial(ctx, e.wsURL(), &websocket.DialOptions{HTTPHeader: h})
			require.Error(t, err)
			require.NotNil(t, resp)
			require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, resp.StatusCode)
		})
	}
	_, err := client.Dial(ctxT(t), e.wsURL(), nil)
	requireClientCode(t, err, transport.CodeUnauthenticated)
}

func TestMalformedFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.raw("beneficiary", "b1")

	// Before hello, commands are refused.
	r.send(`{"type":"ping","id":"p0"}`)
	requireCode(t, r.reply("p0"), transport.CodeHelloRequired)
	// A wrong version is refused and hello may be sent again.
	r.send(`{"type":"hello","id":"h0","data":{"protocol":99}}`)
	requireCode(t, r.reply("h0"), transport.CodeUnsupportedVersion)
	r.hello()
	r.send(`{"type":"hello","id":"h1","data":{"protocol":1}}`)
	requireCode(t, r.reply("h1"), transport.CodeAlreadyHello)

	cases := []struct {
		frame string
		id    string
		code  transport.Code
	}{
		{`{not json`, "", transport.CodeMalformedFrame},
		{`[1,2,3]`, "", transport.CodeMalformedFrame},
		{`"hello"`, "", transport.CodeMalformedFrame},
		{`{"id":"x1"}`, "x1", transport.CodeMalformedFrame},
		{`{"type":"ping"}`, "", transport.CodeMissingID},
		{`{"type":"ping","id":"` + strings.Repeat("z", 65) + `"}`, "", transport.CodeMissingID},
		{`{"type":"launch_missiles","id":"x2"}`, "x2", transport.CodeUnknownType},
		{`{"type":"send","id":"x3","data":"text"}`, "x3", transport.CodeMalformedFrame},
		{`{"type":"send","id":"x4","data":{"conversation_id":5}}`, "x4", transport.CodeMalformedFrame},
		{`{"type":"send","id":"x5","data":{"conversation_id":"nope","body":"hi"}}`, "x5", transport.CodeNotFound},
		{`{"type":"accept","id":"x6","data":{"conversation_id":"nope"}}`, "x6", transport.CodeForbidden},
		{`{"type":"open","id":"x7","data":{"subject_id":"astrology"}}`, "x7", transport.CodeUnknownSubject},
		{`{"type":"presence","id":"x8","data":{"presence":"online"}}`, "x8", transport.CodeForbidden},
	}
	for _, c := range cases {
		r.send(c.frame)
		f := r.next()
		requireCode(t, f, c.code)
		require.Equal(t, c.id, f.ID, c.frame)
	}
	// Binary frames get an error and the connection stays.
	ctx := ctxT(t)
	require.NoError(t, r.ws.Write(ctx, websocket.MessageBinary, []byte{0, 1, 2}))
	requireCode(t, r.next(), transport.CodeBinaryFrame)
	r.send(`{"type":"ping","id":"alive"}`)
	require.Equal(t, transport.FrameResult, r.reply("alive").Type)
}

func TestReplayedRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.raw("beneficiary", "b1")
	r.hello()
	r.send(`{"type":"open","id":"o1","data":{"subject_id":"billing"}}`)
	first := r.reply("o1")
	require.Equal(t, transport.FrameResult, first.Type)
	// The same ID again: the same reply, and no second conversation.
	r.send(`{"type":"open","id":"o1","data":{"subject_id":"billing"}}`)
	second := r.reply("o1")
	require.JSONEq(t, string(first.Data), string(second.Data))
	convs, err := e.eng.Conversations(ctxT(t), attendance.BeneficiaryPrincipal("b1"), attendance.ConversationsFilter{})
	require.NoError(t, err)
	require.Len(t, convs, 1)
}

func TestOversizedFrame(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.raw("beneficiary", "b1")
	r.hello()
	other := e.dial("beneficiary", "b2")
	ctx := ctxT(t)
	big := `{"type":"ping","id":"big","data":{"pad":"` + strings.Repeat("x", 10<<20) + `"}}`
	go func() { _ = r.ws.Write(ctx, websocket.MessageText, []byte(big)) }()
	_, _, err := r.ws.Read(ctx)
	require.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "%v", err)
	// Others are unaffected.
	require.NoError(t, other.Ping(ctx))
	_, err = other.Open(ctx, "billing")
	require.NoError(t, err)
}

func TestFlood(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.raw("beneficiary", "b1")
	r.hello()
	other := e.dial("beneficiary", "b2")
	ctx := ctxT(t)
	// 1,000 commands at once: the burst is served, the rest are rate
	// limited, and persisting closes the connection with 1008.
	go func() {
		for i := range 1000 {
			if r.ws.Write(ctx, websocket.MessageText, fmt.Appendf(nil, `{"type":"ping","id":"f%d"}`, i)) != nil {
				return
			}
		}
	}()
	var results, limited int
	var closeErr error
	for {
		_, data, err := r.ws.Read(ctx)
		if err != nil {
			closeErr = err
			break
		}
		switch {
		case strings.Contains(string(data), `"rate_limited"`):
			limited++
		case strings.Contains(string(data), `"result"`):
			results++
		}
	}
	require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(closeErr), "%v", closeErr)
	require.Less(t, results, 1000)
	require.Positive(t, limited)
	require.NoError(t, other.Ping(ctx))
}

func TestTooManyConnections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: func(c *transport.Config) { c.MaxConnectionsPerPrincipal = 2 }})
	e.raw("agent", "a1")
	e.raw("agent", "a1")
	ctx := ctxT(t)
	_, resp, err := websocket.Dial(ctx, e.wsURL(), &websocket.DialOptions{HTTPHeader: header("agent", "a1")})
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	// Another principal is not affected.
	e.raw("agent", "a2")
}

func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: func(c *transport.Config) { c.HandshakeTimeout = 100 * time.Millisecond }})
	r := e.raw("agent", "a1")
	_, _, err := r.ws.Read(ctxT(t))
	require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "%v", err)
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: func(c *transport.Config) { c.HeartbeatInterval = 50 * time.Millisecond }})
	r := e.raw("agent", "a1")
	r.hello()
	for {
		_, data, err := r.ws.Read(ctxT(t))
		require.NoError(t, err)
		if strings.Contains(string(data), `"heartbeat"`) {
			return
		}
	}
}

// A token for another role, an unknown conversation and a forged sequence
// number each get their documented code and change nothing.
func TestWrongRoleAndForgedSequence(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{agents: map[string]attendance.Profile{"ana": profile}})
	ctx := ctxT(t)
	ben := e.dial("beneficiary", "b1")
	conv, err := ben.Open(ctx, "billing")
	require.NoError(t, err)

	// A beneficiary token cannot act as an agent.
	_, err = ben.Accept(ctx, conv.ID)
	requireClientCode(t, err, transport.CodeForbidden)
	_, err = ben.SetPresence(ctx, attendance.PresenceOnline)
	requireClientCode(t, err, transport.CodeForbidden)
	_, err = ben.Finalize(ctx, transport.FinalizeParams{ConversationID: conv.ID, Reason: "solved"})
	requireClientCode(t, err, transport.CodeForbidden)
	// An agent token cannot open conversations.
	ana := e.dial("agent", "ana")
	_, err = ana.Open(ctx, "billing")
	requireClientCode(t, err, transport.CodeForbidden)
	// Unknown conversation.
	_, err = ben.History(ctx, "no-such-conversation", 0, 0)
	requireClientCode(t, err, transport.CodeNotFound)

	// A forged sequence in a watch and in a hello.
	_, err = ben.Watch(ctx, conv.ID, 1000)
	requireClientCode(t, err, transport.CodeInvalidSequence)
	r := e.raw("beneficiary", "b1")
	r.send(`{"type":"hello","id":"h","data":{"protocol":1,"resume":{"` + conv.ID + `":1000}}}`)
	requireCode(t, r.reply("h"), transport.CodeInvalidSequence)
	r.send(`{"type":"hello","id":"h","data":{"protocol":1,"resume":{"` + conv.ID + `":-1}}}`)
	requireCode(t, r.reply("h"), transport.CodeInvalidSequence)
	// Fixing the cursor makes the hello work on the same connection.
	r.send(`{"type":"hello","id":"h","data":{"protocol":1,"resume":{"` + conv.ID + `":0}}}`)
	require.Equal(t, transport.FrameResult, r.reply("h").Type)
	f := r.next()
	require.Equal(t, transport.EventMessage, f.Type)
	require.Equal(t, int64(1), f.Seq)
	// Nothing was stored by all this.
	ms, err := e.eng.Messages(ctx, attendance.BeneficiaryPrincipal("b1"), conv.ID, 0, 0)
	require.NoError(t, err)
	require.Len(t, ms, 1)
}

// A beneficiary asking for another's conversation is forbidden everywhere.
func TestForbiddenCrossBeneficiary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	b1 := e.dial("beneficiary", "b1")
	conv, err := b1.Open(ctx, "billing")
	require.NoError(t, err)
	_, err = b1.SendText(ctx, conv.ID, "private")
	require.NoError(t, err)

	b2 := e.dial("beneficiary", "b2")
	b2Ev := record(b2)
	_, err = b2.History(ctx, conv.ID, 0, 0)
	requireClientCode(t, err, transport.CodeForbidden)
	_, err = b2.SendText(ctx, conv.ID, "intrusion")
	requireClientCode(t, err, transport.CodeForbidden)
	_, err = b2.Watch(ctx, conv.ID, 0)
	requireClientCode(t, err, transport.CodeForbidden)
	_, err = b2.MarkRead(ctx, conv.ID, 1)
	requireClientCode(t, err, transport.CodeForbidden)
	requireClientCode(t, b2.Typing(ctx, conv.ID, true), transport.CodeForbidden)
	_, err = b2.QueueStatus(ctx, conv.ID)
	requireClientCode(t, err, transport.CodeForbidden)
	_, err = b2.Leave(ctx, conv.ID)
	requireClientCode(t, err, transport.CodeForbidden)

	// Resuming someone else's conversation in a hello streams nothing.
	r := e.raw("beneficiary", "b2")
	r.send(`{"type":"hello","id":"h","data":{"protocol":1,"resume":{"` + conv.ID + `":0}}}`)
	f := r.reply("h")
	require.Equal(t, transport.FrameResult, f.Type)
	require.Contains(t, string(f.Data), conv.ID) // listed as removed
	require.Equal(t, transport.EventSynced, r.next().Type)

	require.NoError(t, b2.Ping(ctx))
	b2Ev.mu.Lock()
	defer b2Ev.mu.Unlock()
	require.Empty(t, b2Ev.msgs[conv.ID])
	ms, err := e.eng.Messages(ctx, attendance.BeneficiaryPrincipal("b1"), conv.ID, 0, 0)
	require.NoError(t, err)
	require.Len(t, ms, 2)
}
