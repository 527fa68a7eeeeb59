package transport_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
	"github.com/mosiachat/mosiachat/transport/client"
)

// A watch refused for its cursor leaves the client's other cursors alone:
// after a reconnection the supervisor still follows the chat it watched,
// and nothing is delivered twice.
func TestRefusedWatchKeepsTheOtherCursors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{agents: map[string]attendance.Profile{"ana": profile}})
	ctx := ctxT(t)
	ana, ben, anaEv, _ := onlineAgentAndBeneficiary(t, e)
	c1 := startChat(t, ctx, ben, ana, anaEv, "billing")
	c2 := startChat(t, ctx, ben, ana, anaEv, "exams")
	sup := e.dial("supervisor", "sue")
	supEv := record(sup)
	_, err := sup.Watch(ctx, c1, 0)
	require.NoError(t, err)
	_, err = sup.Watch(ctx, c2, 1000) // a cursor the conversation never had
	requireClientCode(t, err, transport.CodeInvalidSequence)
	_, known := sup.Cursors()[c2]
	require.False(t, known, "the refused watch left its cursor")

	sup.Drop()
	_, err = ben.SendText(ctx, c1, "after the drop")
	require.NoError(t, err)
	supEv.wait(t, "the new message on the watched chat", func(r *recorder) bool {
		ts := r.texts(c1)
		return len(ts) > 0 && ts[len(ts)-1] == "after the drop"
	})
	supEv.mu.Lock()
	defer supEv.mu.Unlock()
	requireContiguous(t, supEv.msgs[c1])
	require.Zero(t, sup.Stats().Duplicates)
}

// A client seeded with one cursor the server refuses (a restored backup,
// say) drops that one and resumes the others from where they were: no
// message is delivered twice.
func TestRefusedResumeCursorIsDroppedAlone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{agents: map[string]attendance.Profile{"ana": profile}})
	ctx := ctxT(t)
	ana, ben, anaEv, _ := onlineAgentAndBeneficiary(t, e)
	c1 := startChat(t, ctx, ben, ana, anaEv, "billing")
	c2 := startChat(t, ctx, ben, ana, anaEv, "exams")
	for i := range 3 {
		_, err := ana.SendText(ctx, c1, fmt.Sprint("m", i))
		require.NoError(t, err)
	}
	conv, err := e.eng.Conversation(ctx, attendance.BeneficiaryPrincipal("b1"), c1)
	require.NoError(t, err)

	dev := e.dial("beneficiary", "b1", func(c *client.Config) {
		c.Resume = map[string]int64{c1: conv.LastSeq, c2: 1000}
	})
	devEv := record(dev)
	_, err = ana.SendText(ctx, c1, "new")
	require.NoError(t, err)
	devEv.wait(t, "the new message", func(r *recorder) bool { return len(r.texts(c1)) == 1 })
	devEv.mu.Lock()
	require.Equal(t, []string{"new"}, devEv.texts(c1), "c1 was replayed from the start")
	devEv.mu.Unlock()
	devEv.wait(t, "c2 from the start", func(r *recorder) bool { return len(r.msgs[c2]) > 0 && r.msgs[c2][0].Seq == 1 })
}

// A command whose ctx has already ended does not cut the connection that
// every other command shares.
func TestCancelledCommandLeavesTheConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.dial("beneficiary", "b1")
	record(c)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 {
		require.ErrorIs(t, c.Ping(gone), context.Canceled)
	}
	require.NoError(t, c.Ping(ctxT(t)))
	require.Equal(t, 1, c.Stats().Connects, "a cancelled command cut the connection")
}

// A history reply at the server's limits (HistoryBatch messages of the
// engine's largest size, every byte escaped) fits the client's default
// frame limit.
func TestLargestHistoryReplyFitsTheClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	ben := attendance.BeneficiaryPrincipal("b1")
	c, err := e.eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	body := strings.Repeat("<", 4096) // the engine's default limit; \u003c: 6 bytes each in JSON
	for range 200 {
		_, err := e.eng.Send(ctx, ben, attendance.SendParams{ConversationID: c.ID, Body: body})
		require.NoError(t, err)
	}
	cl := e.dial("beneficiary", "b1")
	record(cl)
	ms, err := cl.History(ctx, c.ID, 0, 0)
	require.NoError(t, err)
	require.Len(t, ms, 200)
	require.Equal(t, 1, cl.Stats().Connects)
}

// A command refused because it came before the hello did not run: sent
// again with the same ID after the hello, it runs (the refusal is not
// replayed from the reply cache).
func TestCommandBeforeHelloRunsWhenSentAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.raw("beneficiary", "b1")
	const open = `{"type":"open","id":"o1","data":{"subject_id":"billing"}}`
	r.send(open)
	requireCode(t, r.reply("o1"), transport.CodeHelloRequired)
	r.hello()
	r.send(open)
	f := r.reply("o1")
	require.Equal(t, transport.FrameResult, f.Type, "%+v", f.Error)
}

// A beneficiary who watches their own chat gets it without the agents'
// internal notes, as everywhere else.
func TestWatchHidesNotesFromTheBeneficiary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{agents: map[string]attendance.Profile{"ana": profile, "bia": profile}})
	ctx := ctxT(t)
	maria, ana := attendance.BeneficiaryPrincipal("maria"), attendance.AgentPrincipal("ana")
	_, err := e.eng.SetPresence(ctx, ana, attendance.PresenceOnline)
	require.NoError(t, err)
	c, err := e.eng.Open(ctx, maria, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		cur, err := e.eng.Conversation(ctx, ana, c.ID)
		return err == nil && cur.State == attendance.StateOffered
	}, 5*time.Second, time.Millisecond)
	_, err = e.eng.Accept(ctx, ana, c.ID)
	require.NoError(t, err)
	_, err = e.eng.SetPresence(ctx, attendance.AgentPrincipal("bia"), attendance.PresenceOnline)
	require.NoError(t, err)
	_, err = e.eng.Transfer(ctx, ana, attendance.TransferParams{ConversationID: c.ID, AgentID: "bia", Note: "internal: difficult member"})
	require.NoError(t, err)

	r := e.raw("beneficiary", "maria")
	r.hello()
	r.send(`{"type":"watch","id":"w1","data":{"conversation_id":"` + c.ID + `","after_seq":0}}`)
	f := r.reply("w1")
	require.Equal(t, transport.FrameResult, f.Type, "%+v", f.Error)
	require.NotContains(t, string(f.Data), "difficult member")
}

// Conversations that end leave the client's cursors, so a supervisor who
// watched more chats over a day than the server's MaxResume still
// reconnects.
func TestEndedConversationsLeaveTheCursors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{agents: map[string]attendance.Profile{"ana": profile}, cfg: func(c *transport.Config) { c.MaxResume = 1 }})
	ctx := ctxT(t)
	ana, ben, anaEv, benEv := onlineAgentAndBeneficiary(t, e)
	sup := e.dial("supervisor", "sue")
	supEv := record(sup)
	var ids []string
	for _, subject := range []string{"billing", "exams"} {
		id := startChat(t, ctx, ben, ana, anaEv, subject)
		_, err := sup.Watch(ctx, id, 0)
		require.NoError(t, err)
		_, err = ana.Finalize(ctx, transport.FinalizeParams{ConversationID: id, Reason: "solved"})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	ended := func(r *recorder) bool {
		for _, id := range ids {
			ev, ok := r.find(transport.EventConversation, id)
			var snap attendance.Conversation
			if !ok || ev.Decode(&snap) != nil || snap.State != attendance.StateFinalized {
				return false
			}
		}
		return true
	}
	supEv.wait(t, "both chats finalized", ended)
	benEv.wait(t, "both chats finalized", ended)
	for _, c := range []*client.Client{sup, ben} {
		// The client forgets a cursor right after it puts the event on
		// Events, so the recorder may see the event a moment before.
		require.Eventually(t, func() bool {
			cur := c.Cursors()
			for _, id := range ids {
				if _, ok := cur[id]; ok {
					return false
				}
			}
			return true
		}, 5*time.Second, time.Millisecond, "a finalized chat kept its cursor")
		c.Drop()
		require.NoError(t, c.Ping(ctx), "no reconnection after the drop")
		require.Equal(t, 2, c.Stats().Connects)
	}
}

// A beneficiary at the engine's limit of open conversations gets the
// documented limit_reached, not an internal error.
func TestOpenAboveTheLimitIsLimitReached(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	ben := e.dial("beneficiary", "b1")
	record(ben)
	for range 3 { // the engine's default MaxOpenPerBeneficiary
		_, err := ben.Open(ctx, "billing")
		require.NoError(t, err)
	}
	_, err := ben.Open(ctx, "billing")
	requireClientCode(t, err, transport.CodeLimit)
}
