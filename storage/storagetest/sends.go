package storagetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// RunSendsDuringTransfers has one chat change hands between agents ana and
// bia rounds times while its beneficiary, both agents, a stranger (another
// beneficiary) and a supervisor who does not hold it keep sending through
// an engine on s, every idempotency key twice. Then it checks the log and
// every published notification: only the beneficiary and the agent holding
// the chat at the time wrote in it; every message stored was announced
// exactly once, naming the beneficiary and the agent who held the chat
// when it was appended (not before, not after); a repeated key announced
// nothing; every successful send returned the stored message.
func RunSendsDuringTransfers(t *testing.T, s attendance.Store, rounds int) {
	t.Helper()
	ctx := context.Background()
	bus := attendance.NewLocalBus()
	var mu sync.Mutex
	var published []attendance.Notification // each one, not coalesced
	_, err := bus.Subscribe(func(n attendance.Notification) {
		mu.Lock()
		published = append(published, n)
		mu.Unlock()
	})
	require.NoError(t, err)
	eng, err := attendance.New(s, EngineConfig(NewClock(BenchTime).Now, bus))
	require.NoError(t, err)
	ana, bia := attendance.AgentPrincipal("ana"), attendance.AgentPrincipal("bia")
	for _, a := range []attendance.Principal{ana, bia} {
		_, err := eng.UpsertAgent(ctx, attendance.AgentParams{ID: a.ID, Profile: attendance.Profile{Max: 50, Queues: []string{"geral"}}})
		require.NoError(t, err)
	}
	_, err = eng.SetPresence(ctx, ana, attendance.PresenceOnline)
	require.NoError(t, err)
	maria := attendance.BeneficiaryPrincipal("maria")
	c, err := eng.Open(ctx, maria, attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	_, err = eng.Accept(ctx, ana, c.ID)
	require.NoError(t, err)
	_, err = eng.SetPresence(ctx, bia, attendance.PresenceOnline)
	require.NoError(t, err)

	done := make(chan struct{})
	var wg sync.WaitGroup
	var sentMu sync.Mutex
	var sent []attendance.Message // what successful sends returned
	for _, p := range []attendance.Principal{maria, ana, bia, attendance.BeneficiaryPrincipal("joana"), attendance.SupervisorPrincipal("sup")} {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				m, err := eng.Send(ctx, p, attendance.SendParams{ConversationID: c.ID, Body: fmt.Sprintf("%s %d", p.ID, i),
					IdempotencyKey: fmt.Sprintf("%s-%d", p.ID, i/2)})
				if err == nil {
					sentMu.Lock()
					sent = append(sent, m)
					sentMu.Unlock()
				}
			}
		})
	}
	from, to := ana, bia
	for range rounds {
		_, err := eng.Transfer(ctx, from, attendance.TransferParams{ConversationID: c.ID, AgentID: to.ID})
		require.NoError(t, err)
		_, err = eng.Accept(ctx, to, c.ID)
		require.NoError(t, err)
		from, to = to, from
	}
	close(done)
	wg.Wait()

	// Replay the log: who held the chat when each message was appended.
	log, err := s.ListMessages(ctx, attendance.ListMessagesFilter{ConversationID: c.ID})
	require.NoError(t, err)
	holder := map[int64]string{} // seq of a participant message -> agent holding the chat
	stored := map[int64]attendance.Message{}
	cur, state := "", attendance.StateQueued
	for _, m := range log {
		if m.Event != nil {
			state, cur = m.Event.To, ""
			if state == attendance.StateOffered || state == attendance.StateActive {
				cur = m.Event.AgentID
			}
			continue
		}
		holder[m.Seq], stored[m.Seq] = cur, m
		if m.Sender.Role == attendance.RoleBeneficiary {
			require.Equal(t, maria, m.Sender, "a stranger wrote message %d", m.Seq)
		} else {
			require.Equal(t, cur, m.Sender.ID, "%s wrote message %d while %q held the chat", m.Sender.ID, m.Seq, cur)
			require.Equal(t, attendance.StateActive, state, "message %d", m.Seq)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	announced := map[int64]int{}
	for _, n := range published {
		if n.Kind != attendance.NotifyConversation || n.ConversationID != c.ID || n.State != "" {
			continue // transitions announce themselves
		}
		announced[n.Seq]++
		_, ok := stored[n.Seq]
		require.True(t, ok, "announced seq %d is not a message", n.Seq)
		require.Equal(t, maria.ID, n.BeneficiaryID)
		want := []string{}
		if holder[n.Seq] != "" {
			want = []string{holder[n.Seq]}
		}
		require.Equal(t, want, n.AgentIDs, "the announcement of message %d", n.Seq)
	}
	for seq := range stored {
		require.Equal(t, 1, announced[seq], "announcements of message %d", seq)
	}
	sentMu.Lock()
	defer sentMu.Unlock()
	for _, m := range sent {
		require.Equal(t, stored[m.Seq].ID, m.ID, "a send returned message %d that is not the stored one", m.Seq)
	}
	t.Logf("%d messages over %d transfers; %d successful sends", len(stored), rounds, len(sent))
}
