package attendance_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
)

// servedByAna opens maria's chat and has ana (online, serving "geral")
// accept it, then brings bia (serving "geral" too) online: a chat ready to
// change hands. transferToBia hands it over.
func servedByAna(t *testing.T, e *attendance.Engine) attendance.Conversation {
	t.Helper()
	ctx := context.Background()
	prof := attendance.Profile{Max: 3, Queues: []string{"geral"}}
	online(t, e, "ana", prof)
	c, err := e.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	c, err = e.Accept(ctx, agentP("ana"), c.ID)
	require.NoError(t, err)
	online(t, e, "bia", prof)
	return c
}

// transferToBia moves the chat servedByAna set up from ana to bia.
func transferToBia(t *testing.T, e *attendance.Engine, id string) {
	t.Helper()
	ctx := context.Background()
	_, err := e.Transfer(ctx, agentP("ana"), attendance.TransferParams{ConversationID: id, AgentID: "bia"})
	require.NoError(t, err)
	_, err = e.Accept(ctx, agentP("bia"), id)
	require.NoError(t, err)
}

// Messages returns only what existed when the reader's access was checked:
// a chat transferred away between the check and the list, then written
// to, does not show the new message to the agent who lost it.
func TestMessagesStopAtTheCheckedConversation(t *testing.T) {
	ctx := context.Background()
	store, eng := hooked(t, newClock(), nil)
	c := servedByAna(t, eng)
	ana := agentP("ana")
	store.beforeList = func() {
		transferToBia(t, eng, c.ID)
		_, err := eng.Send(ctx, benefP("maria"), attendance.SendParams{ConversationID: c.ID, Body: "for bia"})
		require.NoError(t, err)
	}
	ms, err := eng.Messages(ctx, ana, c.ID, 0, 0)
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	for _, m := range ms {
		require.LessOrEqual(t, m.Seq, c.LastSeq, "ana read message %d (%q), written after the chat left her", m.Seq, m.Body)
	}
}

// Beneficiaries whose ID and idempotency key join into the same text open
// different conversations; text with a NUL byte, which could blur where an
// ID ends (and which PostgreSQL cannot store), is refused.
func TestOpenKeysDoNotCollideAcrossBeneficiaries(t *testing.T) {
	ctx := context.Background()
	eng, err := attendance.New(memory.New(), testConfig(newClock()))
	require.NoError(t, err)
	first, err := eng.Open(ctx, attendance.BeneficiaryPrincipal("ab"), attendance.OpenParams{SubjectID: "duvida", IdempotencyKey: "c"})
	require.NoError(t, err)
	second, err := eng.Open(ctx, attendance.BeneficiaryPrincipal("a"), attendance.OpenParams{SubjectID: "duvida", IdempotencyKey: "bc"})
	require.NoError(t, err)
	require.NotEqual(t, first.ID, second.ID)
	require.Equal(t, "a", second.BeneficiaryID)
	again, err := eng.Open(ctx, attendance.BeneficiaryPrincipal("a"), attendance.OpenParams{SubjectID: "duvida", IdempotencyKey: "bc"})
	require.NoError(t, err)
	require.Equal(t, second.ID, again.ID, "a retry opens the same conversation")

	_, err = eng.Open(ctx, attendance.BeneficiaryPrincipal("a"), attendance.OpenParams{SubjectID: "duvida", IdempotencyKey: "b\x00c"})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	_, err = eng.Open(ctx, attendance.BeneficiaryPrincipal("a\x00b"), attendance.OpenParams{SubjectID: "duvida", IdempotencyKey: "c"})
	require.ErrorIs(t, err, attendance.ErrForbidden)
	_, err = eng.Send(ctx, attendance.BeneficiaryPrincipal("a"), attendance.SendParams{ConversationID: second.ID, Body: "a\x00b"})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	// In an attachment's fields too, on every backend (memory would store
	// it, PostgreSQL would refuse it), before any authorization.
	for _, att := range []attendance.Attachment{{BlobID: "b\x00", Name: "x.pdf"}, {BlobID: "b", Name: "a\x00b.pdf"}, {BlobID: "b", ContentType: "text/\x00"}} {
		_, err = eng.Send(ctx, attendance.BeneficiaryPrincipal("a"), attendance.SendParams{ConversationID: second.ID, Attachment: &att})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument, "%+v", att)
		_, err = eng.Send(ctx, attendance.BeneficiaryPrincipal("joana"), attendance.SendParams{ConversationID: "nope", Attachment: &att})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument, "%+v", att)
	}
}

// A message appended just after the chat changed hands (the hook runs the
// transfer right before the store's append) is announced to its new
// owner, whom the append returns. storagetest.RunSendsDuringTransfers
// checks the same under real concurrency on every backend.
func TestSendDoorbellNamesTheOwnerAfterTheAppend(t *testing.T) {
	ctx := context.Background()
	bus := attendance.NewLocalBus()
	var mu sync.Mutex
	var published []attendance.Notification // every notification, not coalesced
	_, err := bus.Subscribe(func(n attendance.Notification) {
		mu.Lock()
		published = append(published, n)
		mu.Unlock()
	})
	require.NoError(t, err)
	store, eng := hooked(t, newClock(), func(cfg *attendance.Config) { cfg.Bus = bus })
	c := servedByAna(t, eng)
	maria := benefP("maria")
	store.beforeAppend = func() { transferToBia(t, eng, c.ID) }
	m, err := eng.Send(ctx, maria, attendance.SendParams{ConversationID: c.ID, Body: "ainda estou aqui"})
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, n := range published {
		if n.Kind == attendance.NotifyConversation && n.ConversationID == c.ID && n.Seq == m.Seq && n.State == "" {
			found = true
			require.Equal(t, []string{"bia"}, n.AgentIDs, "the doorbell of message %d names the owner before the transfer", m.Seq)
		}
	}
	require.True(t, found, "no doorbell for message %d", m.Seq)
}

// A Start after Stop that fails leaves the engine stopped (off the bus),
// not half started.
func TestFailedRestartStaysStopped(t *testing.T) {
	ctx := context.Background()
	store, eng := hooked(t, newClock(), nil)
	require.NoError(t, eng.Start(ctx))
	require.NoError(t, eng.Stop(ctx))
	store.failAgents.Store(true)
	require.ErrorIs(t, eng.Start(ctx), attendance.ErrUnavailable)
	_, err := eng.Subscribe(ctx, attendance.SystemPrincipal, attendance.SubscribeParams{})
	require.ErrorIs(t, err, attendance.ErrClosed, "a failed restart left the engine on the bus")
	store.failAgents.Store(false)
	require.NoError(t, eng.Start(ctx))
	sub, err := eng.Subscribe(ctx, attendance.SystemPrincipal, attendance.SubscribeParams{})
	require.NoError(t, err)
	sub.Close()
	require.NoError(t, eng.Stop(ctx))
}

// A stale notification that says a chat is queued, arriving after
// Subscribe read it as offered (an asynchronous bus may deliver it late),
// does not make the beneficiary's subscription think it waits again.
func TestStaleQueuedNotificationAfterSubscribe(t *testing.T) {
	ctx := context.Background()
	bus := attendance.NewLocalBus()
	_, eng := hooked(t, newClock(), func(cfg *attendance.Config) { cfg.Bus = bus })
	online(t, eng, "ana", attendance.Profile{Max: 3, Queues: []string{"geral"}})
	maria := benefP("maria")
	c, err := eng.Open(ctx, maria, attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	require.Equal(t, attendance.StateOffered, c.State)

	sub, err := eng.Subscribe(ctx, maria, attendance.SubscribeParams{})
	require.NoError(t, err)
	defer sub.Close()
	// The notification of the open (queued, seq 1), late, from another node.
	require.NoError(t, bus.Publish(ctx, attendance.Notification{Kind: attendance.NotifyConversation, ConversationID: c.ID,
		BeneficiaryID: "maria", QueueID: "geral", State: attendance.StateQueued, Seq: 1, Origin: "other-node"}))
	// A queue change maria would hear of only if she waited in that queue.
	require.NoError(t, bus.Publish(ctx, attendance.Notification{Kind: attendance.NotifyQueue, QueueID: "geral", Origin: "other-node"}))
	done, cancel := context.WithCancel(ctx)
	cancel() // Next returns what is pending, or the ctx's error when nothing is
	ns, _ := sub.Next(done)
	for _, n := range ns {
		require.NotEqual(t, attendance.NotifyQueue, n.Kind, "a stale notification made maria wait in the queue again")
	}
}

// A supervisor who watches a chat stays silent: no typing indicators, no
// read marks (the beneficiary would see them); once the chat is theirs,
// they take part like an agent.
func TestWatchingSupervisorStaysSilent(t *testing.T) {
	ctx := context.Background()
	eng, err := attendance.New(memory.New(), testConfig(newClock()))
	require.NoError(t, err)
	c := servedByAna(t, eng)
	sue := attendance.SupervisorPrincipal("sue")
	require.ErrorIs(t, eng.Typing(ctx, sue, c.ID, true), attendance.ErrForbidden)
	_, err = eng.MarkRead(ctx, sue, c.ID, c.LastSeq)
	require.ErrorIs(t, err, attendance.ErrForbidden)
	marks, err := eng.ReadMarks(ctx, sue, c.ID)
	require.NoError(t, err, "watching still reads the marks")
	require.Empty(t, marks)

	// Transferred to sue, who serves the queue: now a participant.
	_, err = eng.UpsertAgent(ctx, attendance.AgentParams{ID: "sue", Profile: attendance.Profile{Max: 3, Queues: []string{"geral"}}})
	require.NoError(t, err)
	_, err = eng.SetPresence(ctx, agentP("sue"), attendance.PresenceOnline)
	require.NoError(t, err)
	_, err = eng.Transfer(ctx, agentP("ana"), attendance.TransferParams{ConversationID: c.ID, AgentID: "sue"})
	require.NoError(t, err)
	require.NoError(t, eng.Typing(ctx, sue, c.ID, true))
	_, err = eng.MarkRead(ctx, sue, c.ID, 1)
	require.NoError(t, err)
}
