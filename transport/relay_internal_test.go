package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
)

// heldBus is a LocalBus whose notifications can be held back: doorbells
// still on their way.
type heldBus struct {
	*attendance.LocalBus
	mu   sync.Mutex
	hold bool
	held []attendance.Notification
}

func (b *heldBus) Publish(ctx context.Context, n attendance.Notification) error {
	b.mu.Lock()
	if b.hold {
		b.held = append(b.held, n)
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	return b.LocalBus.Publish(ctx, n)
}

func (b *heldBus) release() {
	b.mu.Lock()
	held := b.held
	b.hold, b.held = false, nil
	b.mu.Unlock()
	for _, n := range held {
		_ = b.LocalBus.Publish(context.Background(), n)
	}
}

// frameConn records the frames delivered to it.
type frameConn struct {
	mu     sync.Mutex
	frames []ServerFrame
}

func (c *frameConn) Deliver(b []byte, _ bool) error {
	var f ServerFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	c.mu.Lock()
	c.frames = append(c.frames, f)
	c.mu.Unlock()
	return nil
}

func (c *frameConn) Close(CloseReason, string) {}

// count returns how many frames of a type were delivered.
func (c *frameConn) count(typ string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, f := range c.frames {
		if f.Type == typ {
			n++
		}
	}
	return n
}

// got reports, when called, whether conn has had message seq as an event.
func got(conn *frameConn, seq int64) func() bool {
	return func() bool {
		conn.mu.Lock()
		defer conn.mu.Unlock()
		for _, f := range conn.frames {
			if f.Type == EventMessage && f.Seq == seq {
				return true
			}
		}
		return false
	}
}

// settled reports, when called, whether no worker holds ss and its cursor
// for the conversation is at seq.
func settled(ss *Session, convID string, seq int64) func() bool {
	return func() bool {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		return !ss.scheduled && ss.upTo[convID] == seq
	}
}

// newInternalServer starts an engine on a memory store and bus, and a
// server over it that lets anyone in (sessions are attached directly).
func newInternalServer(t *testing.T, bus attendance.Bus, configure ...func(*Config)) (*attendance.Engine, *Server) {
	t.Helper()
	eng, err := attendance.New(memory.New(), &attendance.Config{
		Bus:             bus,
		Queues:          []attendance.Queue{{ID: "q1", Name: "General"}},
		Subjects:        []attendance.Subject{{ID: "billing", Name: "Billing", QueueID: "q1"}},
		FinalizeReasons: []attendance.FinalizeReason{{ID: "solved", Label: "Solved"}},
	})
	require.NoError(t, err)
	cfg := &Config{Authenticate: func(context.Context, AuthenticateEvent) (AuthenticateReply, error) {
		return AuthenticateReply{}, nil
	}}
	for _, f := range configure {
		f(cfg)
	}
	srv, err := NewServer(eng, cfg)
	require.NoError(t, err)
	require.NoError(t, srv.Start(t.Context()))
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return eng, srv
}

// helloSession attaches a session for p to srv, recording its frames, and
// sends its hello; the caller waits for it to settle where that matters.
func helloSession(t *testing.T, srv *Server, p attendance.Principal) (*Session, *frameConn) {
	t.Helper()
	conn := &frameConn{}
	ss, err := srv.Attach(context.Background(), p, conn)
	require.NoError(t, err)
	ss.Handle(context.Background(), []byte(`{"type":"hello","id":"h","data":{"protocol":1}}`))
	return ss, conn
}

// A retried send (same idempotency key, new request ID) returns an earlier
// message; relaying it must not move the session's cursor back, or the own
// messages after it would be sent again as events after their results.
func TestRelayOfRetriedSendKeepsTheCursor(t *testing.T) {
	ctx := context.Background()
	bus := &heldBus{LocalBus: attendance.NewLocalBus()}
	eng, srv := newInternalServer(t, bus)
	ben := attendance.BeneficiaryPrincipal("b1")
	ss, conn := helloSession(t, srv, ben)
	c, err := eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	require.Eventually(t, settled(ss, c.ID, c.LastSeq), 5*time.Second, time.Millisecond)

	send := func(req, key string) {
		ss.Handle(ctx, []byte(fmt.Sprintf(`{"type":"send","id":%q,"data":{"conversation_id":%q,"body":"x","idempotency_key":%q}}`, req, c.ID, key)))
	}
	bus.mu.Lock()
	bus.hold = true // the doorbells of the sends below are slow to come
	bus.mu.Unlock()
	ss.mu.Lock()
	ss.scheduled = true // a worker holds the session: the relays skip it
	ss.mu.Unlock()
	send("s1", "k1")
	send("s2", "k2")
	ss.mu.Lock()
	ss.scheduled = false // the worker's pass ends before the doorbells come
	ss.mu.Unlock()
	send("s3", "k1") // the retry returns the first message again
	bus.release()
	require.Eventually(t, settled(ss, c.ID, c.LastSeq+2), 5*time.Second, time.Millisecond)

	conn.mu.Lock()
	defer conn.mu.Unlock()
	for _, f := range conn.frames {
		require.False(t, f.Type == EventMessage && f.Seq > c.LastSeq, "own message %d sent again as an event after its result", f.Seq)
	}
}

// The sender's goroutine relays a message only to the sessions no worker
// holds (Session.catchUp); a session streaming the conversation that a
// worker holds at that moment must still get it, from the doorbell. A
// host's own Engine.Send, which no transport session relays, takes the
// same way.
func TestRelayReachesABusySession(t *testing.T) {
	ctx := context.Background()
	eng, srv := newInternalServer(t, attendance.NewLocalBus())
	ben := attendance.BeneficiaryPrincipal("b1")
	c, err := eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	// Two sessions of the beneficiary (a phone and a browser): both
	// stream the conversation.
	sPhone, phone := helloSession(t, srv, ben)
	sBrowser, browser := helloSession(t, srv, ben)
	for _, ss := range []*Session{sPhone, sBrowser} {
		require.Eventually(t, settled(ss, c.ID, c.LastSeq), 5*time.Second, time.Millisecond)
	}

	sBrowser.mu.Lock()
	sBrowser.scheduled = true // a worker holds the browser's session
	sBrowser.mu.Unlock()
	sPhone.Handle(ctx, []byte(fmt.Sprintf(`{"type":"send","id":"s1","data":{"conversation_id":%q,"body":"olá"}}`, c.ID)))
	require.False(t, got(browser, c.LastSeq+1)(), "a held session got the message before its worker let go")
	sBrowser.release(true) // the worker's pass ends
	require.Eventually(t, got(browser, c.LastSeq+1), 5*time.Second, time.Millisecond)

	m, err := eng.Send(ctx, ben, attendance.SendParams{ConversationID: c.ID, Body: "do host"})
	require.NoError(t, err)
	require.Eventually(t, got(browser, m.Seq), 5*time.Second, time.Millisecond)
	require.Eventually(t, got(phone, m.Seq), 5*time.Second, time.Millisecond)
}

// A resync must read every followed conversation past its cursor, also
// one with a doorbell pending at the same time: the lost notification may
// have announced messages past that doorbell's Seq.
func TestResyncReadsPastAPendingDoorbell(t *testing.T) {
	ctx := context.Background()
	bus := attendance.NewLocalBus()
	eng, srv := newInternalServer(t, bus)
	ben := attendance.BeneficiaryPrincipal("b1")
	c, err := eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	ss, conn := helloSession(t, srv, ben)
	require.Eventually(t, settled(ss, c.ID, c.LastSeq), 5*time.Second, time.Millisecond)

	ss.mu.Lock()
	ss.scheduled = true // a worker holds the session while the news piles up
	ss.mu.Unlock()
	// Written by another node whose notification was lost.
	lost, _, _, err := eng.Store().AppendMessage(ctx, attendance.AppendMessageParams{
		Message: attendance.Message{ID: "lost", ConversationID: c.ID, Kind: attendance.KindText, Sender: ben, Body: "perdida", CreatedAt: time.Now()},
		States:  []attendance.State{attendance.StateQueued, attendance.StateOffered, attendance.StateActive},
	})
	require.NoError(t, err)
	// A doorbell that arrived (a state already known, at the old Seq), then
	// the bus's word that some were lost.
	require.NoError(t, bus.Publish(ctx, attendance.Notification{Kind: attendance.NotifyConversation, ConversationID: c.ID,
		BeneficiaryID: ben.ID, State: c.State, Seq: c.LastSeq, Origin: "another-node"}))
	require.NoError(t, bus.Publish(ctx, attendance.Notification{Kind: attendance.NotifyResync}))
	require.Eventually(t, func() bool {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		return ss.pending[c.ID].Seq == c.LastSeq && ss.resync
	}, 5*time.Second, time.Millisecond)
	ss.release(true) // the worker lets go: the pending work runs

	require.Eventually(t, got(conn, lost.Seq), 5*time.Second, time.Millisecond, "the message behind the lost notification")
}

// A session may still be indexed for a chat that just left its agent (its
// worker has not dropped it yet); typing indicators must not reach it then.
func TestTypingSkipsAnAgentTheChatLeft(t *testing.T) {
	ctx := context.Background()
	_, srv := newInternalServer(t, attendance.NewLocalBus())
	attach := func(p attendance.Principal) (*Session, *frameConn) {
		conn := &frameConn{}
		ss, err := srv.Attach(ctx, p, conn)
		require.NoError(t, err)
		srv.indexConversation(ss, "c1", true) // streams c1, as its worker left it
		return ss, conn
	}
	_, former := attach(attendance.AgentPrincipal("ana"))
	_, owner := attach(attendance.AgentPrincipal("bia"))
	_, typist := attach(attendance.BeneficiaryPrincipal("b1"))
	srv.deliverTyping(attendance.Notification{Kind: attendance.NotifyTyping, ConversationID: "c1", BeneficiaryID: "b1",
		AgentIDs: []string{"bia"}, Typing: &attendance.Typing{From: attendance.BeneficiaryPrincipal("b1"), Active: true}})
	for name, tc := range map[string]struct {
		conn *frameConn
		want int
	}{"former agent": {former, 0}, "owner": {owner, 1}, "typist": {typist, 0}} {
		require.Equal(t, tc.want, tc.conn.count(EventTyping), name)
	}
}

// Closing a session removes it from every index the server keeps, and a
// session dropping a conversation it may no longer read leaves that
// conversation's index; nothing is left behind once all are closed.
func TestSessionsLeaveNoIndexBehind(t *testing.T) {
	ctx := context.Background()
	eng, srv := newInternalServer(t, attendance.NewLocalBus())
	ben, agent := attendance.BeneficiaryPrincipal("b1"), attendance.AgentPrincipal("ana")
	_, err := eng.UpsertAgent(ctx, attendance.AgentParams{ID: agent.ID, Profile: attendance.Profile{Max: 2, Queues: []string{"q1"}, OfferTimeout: time.Hour}})
	require.NoError(t, err)
	waiting, err := eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	phone, _ := helloSession(t, srv, ben)
	browser, _ := helloSession(t, srv, ben)
	for _, ss := range []*Session{phone, browser} {
		require.Eventually(t, settled(ss, waiting.ID, waiting.LastSeq), 5*time.Second, time.Millisecond)
	}
	indexed := func() (convs, queues int) {
		srv.mu.RLock()
		defer srv.mu.RUnlock()
		return len(srv.byConv[waiting.ID]), len(srv.byQueue["q1"])
	}
	convs, queues := indexed()
	require.Equal(t, 2, convs)
	require.Equal(t, 2, queues, "both sessions follow the queue position")

	// The agent takes the chat, then finalizes it: its session follows the
	// chat, then drops it.
	desk, _ := helloSession(t, srv, agent)
	_, err = eng.SetPresence(ctx, agent, attendance.PresenceOnline)
	require.NoError(t, err)
	_, err = eng.Accept(ctx, agent, waiting.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool { c, _ := indexed(); return c == 3 }, 5*time.Second, time.Millisecond)
	_, err = eng.Finalize(ctx, agent, attendance.FinalizeParams{ConversationID: waiting.ID, Reason: "solved"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		srv.mu.RLock()
		defer srv.mu.RUnlock()
		return len(srv.byConv[waiting.ID]) == 2 && len(desk.indexedConvs) == 0
	}, 5*time.Second, time.Millisecond, "the agent's session dropped the finalized chat")

	for _, ss := range []*Session{phone, browser, desk} {
		ss.Close()
	}
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	require.Empty(t, srv.sessions)
	require.Empty(t, srv.byConv)
	require.Empty(t, srv.byQueue)
	require.Empty(t, srv.byBenef)
	require.Empty(t, srv.byAgent)
}

// A beneficiary session that closes while its chat waits in a queue
// leaves that queue's index.
func TestClosedWaitingSessionLeavesTheQueueIndex(t *testing.T) {
	ctx := context.Background()
	eng, srv := newInternalServer(t, attendance.NewLocalBus())
	ben := attendance.BeneficiaryPrincipal("b1")
	c, err := eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	ss, _ := helloSession(t, srv, ben)
	require.Eventually(t, settled(ss, c.ID, c.LastSeq), 5*time.Second, time.Millisecond)
	srv.mu.RLock()
	require.Len(t, srv.byQueue["q1"], 1, "the waiting session follows its queue position")
	srv.mu.RUnlock()

	ss.Close()
	srv.mu.RLock()
	defer srv.mu.RUnlock()
	require.Empty(t, srv.byQueue)
	require.Empty(t, srv.byConv)
}
