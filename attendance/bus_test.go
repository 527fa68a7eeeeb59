package attendance_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

func TestCoalesce(t *testing.T) {
	t.Parallel()
	conv := func(seq int64, state attendance.State, reads bool, agents ...string) attendance.Notification {
		return attendance.Notification{Kind: attendance.NotifyConversation, ConversationID: "c", Seq: seq, State: state, Reads: reads, AgentIDs: agents}
	}
	withStateSeq := func(n attendance.Notification, seq int64) attendance.Notification { n.StateSeq = seq; return n }
	for _, tc := range []struct {
		name         string
		older, newer attendance.Notification
		want         attendance.Notification
	}{
		{"a message after a state change keeps the state", conv(3, attendance.StateActive, false, "ana"), conv(4, "", false, "ana"), withStateSeq(conv(4, attendance.StateActive, false, "ana"), 3)},
		{"a read mark merged into a newer message is kept", conv(4, "", true, "ana"), conv(5, "", false, "ana"), conv(5, "", true, "ana")},
		{"an older notification arriving late does not roll back", conv(6, attendance.StateQueued, false), conv(5, attendance.StateActive, false, "ana"), conv(6, attendance.StateQueued, false, "ana")},
		{"every agent concerned stays", conv(2, attendance.StateOffered, false, "ana"), conv(3, attendance.StateQueued, false, "bia"), conv(3, attendance.StateQueued, false, "bia", "ana")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, attendance.Coalesce(tc.older, tc.newer))
		})
	}
}

// Read marks are announced as such, and survive coalescing with a newer
// message in a subscription.
func TestMarkReadNotificationSurvivesCoalescing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.agent("ana", 1, 2)
	c := f.open("maria", "duvida")
	sub, err := f.engine.Subscribe(f.ctx, attendance.SystemPrincipal, attendance.SubscribeParams{})
	require.NoError(t, err)
	defer sub.Close()
	m, err := f.engine.Send(f.ctx, benefP("maria"), attendance.SendParams{ConversationID: c.ID, Body: "oi"})
	require.NoError(t, err)
	_, err = f.engine.MarkRead(f.ctx, agentP("ana"), c.ID, m.Seq)
	require.NoError(t, err)
	_, err = f.engine.Send(f.ctx, benefP("maria"), attendance.SendParams{ConversationID: c.ID, Body: "tudo bem?"})
	require.NoError(t, err)

	ns, err := sub.Next(f.ctx)
	require.NoError(t, err)
	require.Len(t, ns, 1, "three changes to one conversation, one pending notification: %+v", ns)
	require.True(t, ns[0].Reads, "the read mark is not lost in the merge: %+v", ns[0])
	require.Equal(t, m.Seq+1, ns[0].Seq)
}

func TestLocalBusDeliversToCurrentSubscribers(t *testing.T) {
	t.Parallel()
	bus := attendance.NewLocalBus()
	var a, b int
	stopA, err := bus.Subscribe(func(attendance.Notification) { a++ })
	require.NoError(t, err)
	_, err = bus.Subscribe(func(attendance.Notification) { b++ })
	require.NoError(t, err)
	n := attendance.Notification{Kind: attendance.NotifyQueue, QueueID: "q"}
	require.NoError(t, bus.Publish(t.Context(), n))
	stopA()
	require.NoError(t, bus.Publish(t.Context(), n))
	require.Equal(t, 1, a, "an unsubscribed handler hears nothing more")
	require.Equal(t, 2, b)
}

// Typing is checked like a read, stored nowhere, and announced to the
// conversation's subscribers: one pending indicator per person, the newest.
func TestTypingIsAnnouncedNotStored(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.agent("ana", 1, 2)
	c := f.open("maria", "duvida")
	sub, err := f.engine.Subscribe(f.ctx, attendance.SystemPrincipal, attendance.SubscribeParams{ConversationID: c.ID})
	require.NoError(t, err)
	defer sub.Close()
	before := f.conv(c.ID)

	require.NoError(t, f.engine.Typing(f.ctx, benefP("maria"), c.ID, true))
	require.NoError(t, f.engine.Typing(f.ctx, agentP("ana"), c.ID, true))
	require.NoError(t, f.engine.Typing(f.ctx, benefP("maria"), c.ID, false))
	ns, err := sub.Next(f.ctx)
	require.NoError(t, err)
	got := map[attendance.Principal]bool{}
	for _, n := range ns {
		require.Equal(t, attendance.NotifyTyping, n.Kind)
		require.Equal(t, c.ID, n.ConversationID)
		require.NotNil(t, n.Typing)
		got[n.Typing.From] = n.Typing.Active
	}
	require.Len(t, ns, 2, "one pending indicator per person: %+v", ns)
	require.Equal(t, map[attendance.Principal]bool{benefP("maria"): false, agentP("ana"): true}, got)
	require.Equal(t, before, f.conv(c.ID), "nothing stored")

	err = f.engine.Typing(f.ctx, benefP("joana"), c.ID, true)
	require.ErrorIs(t, err, attendance.ErrForbidden, "another beneficiary's conversation")
	err = f.engine.Typing(f.ctx, attendance.SystemPrincipal, c.ID, true)
	require.ErrorIs(t, err, attendance.ErrForbidden)
	_, err = f.engine.Accept(f.ctx, agentP("ana"), c.ID)
	require.NoError(t, err)
	_, err = f.engine.Finalize(f.ctx, agentP("ana"), attendance.FinalizeParams{ConversationID: c.ID, Reason: "resolvido"})
	require.NoError(t, err)
	err = f.engine.Typing(f.ctx, benefP("maria"), c.ID, true)
	require.ErrorIs(t, err, attendance.ErrInvalidTransition, "a finalized conversation")
}
