package attendance_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

func TestTransitionTable(t *testing.T) {
	all := []attendance.State{attendance.StateQueued, attendance.StateOffered, attendance.StateActive, attendance.StateFinalized, attendance.StateAbandoned}
	legal := map[[2]attendance.State]bool{
		{attendance.StateQueued, attendance.StateOffered}:    true, // routed
		{attendance.StateQueued, attendance.StateActive}:     true, // auto-accept
		{attendance.StateQueued, attendance.StateAbandoned}:  true, // beneficiary leaves
		{attendance.StateQueued, attendance.StateQueued}:     true, // moved between queues
		{attendance.StateOffered, attendance.StateActive}:    true, // accepted
		{attendance.StateOffered, attendance.StateQueued}:    true, // declined, expired, revoked
		{attendance.StateOffered, attendance.StateAbandoned}: true, // beneficiary leaves
		{attendance.StateActive, attendance.StateQueued}:     true, // transfer to queue
		{attendance.StateActive, attendance.StateOffered}:    true, // transfer to agent
		{attendance.StateActive, attendance.StateFinalized}:  true, // finalize
	}
	for _, from := range all {
		for _, to := range all {
			t.Run(string(from)+"->"+string(to), func(t *testing.T) {
				require.Equal(t, legal[[2]attendance.State{from, to}], attendance.CanTransition(from, to))
			})
		}
	}
	require.False(t, attendance.CanTransition("bogus", attendance.StateQueued))
	err := error(&attendance.TransitionError{From: attendance.StateFinalized, To: attendance.StateActive})
	require.ErrorIs(t, err, attendance.ErrInvalidTransition)
	require.Contains(t, err.Error(), "from finalized to active")
}

func TestWholeAttendance(t *testing.T) {
	f := newFixture(t)
	f.agent("ana", 0, 2)
	c := f.open("maria", "duvida")
	require.Equal(t, attendance.StateOffered, c.State, "an online agent with room gets the offer at once")
	require.Equal(t, "ana", c.AgentID)
	require.Equal(t, 1, f.load("ana"))
	require.False(t, c.OfferDeadline.IsZero())

	_, err := f.engine.Send(f.ctx, benefP("maria"), attendance.SendParams{ConversationID: c.ID, Body: "Olá, preciso de ajuda", IdempotencyKey: "m1"})
	require.NoError(t, err, "the beneficiary may write while waiting")
	_, err = f.engine.Send(f.ctx, agentP("ana"), attendance.SendParams{ConversationID: c.ID, Body: "Oi"})
	require.ErrorIs(t, err, attendance.ErrInvalidTransition, "the agent writes only after accepting")

	c, err = f.engine.Accept(f.ctx, agentP("ana"), c.ID)
	require.NoError(t, err)
	require.Equal(t, attendance.StateActive, c.State)
	require.Equal(t, 1, f.load("ana"), "accept keeps the load")

	m, err := f.engine.Send(f.ctx, agentP("ana"), attendance.SendParams{ConversationID: c.ID, Body: "Bom dia, Maria!"})
	require.NoError(t, err)
	require.Equal(t, attendance.KindText, m.Kind)

	c, err = f.engine.Finalize(f.ctx, agentP("ana"), attendance.FinalizeParams{ConversationID: c.ID, Reason: "resolvido", Note: "orientada"})
	require.NoError(t, err)
	require.Equal(t, attendance.StateFinalized, c.State)
	require.Equal(t, "resolvido", c.FinalReason)
	require.Equal(t, 0, f.load("ana"))
	require.Equal(t, "ana", c.LastAgentID)

	require.Equal(t, []attendance.EventType{attendance.EventOpened, attendance.EventOffered, attendance.EventAccepted, attendance.EventFinalized}, f.events(c.ID))
	ms, err := f.engine.Messages(f.ctx, benefP("maria"), c.ID, 0, 0)
	require.NoError(t, err)
	for i, m := range ms {
		require.Equal(t, int64(i+1), m.Seq, "sequence numbers have no gaps")
	}
	require.Len(t, ms, 6)
}

func TestRoutingPrefersBelowMinThenLeastLoadedThenIdleLongest(t *testing.T) {
	f := newFixture(t)
	f.agent("ana", 0, 5)
	f.agent("bia", 0, 5)
	c1 := f.open("b1", "duvida")
	require.Equal(t, "ana", c1.AgentID, "equal load: the one idle longest (came online first)")
	c2 := f.open("b2", "duvida")
	require.Equal(t, "bia", c2.AgentID, "least loaded")
	c3 := f.open("b3", "duvida")
	require.Equal(t, "ana", c3.AgentID, "equal load again: ana's last assignment is older")

	f.agent("caio", 2, 5) // below Min with load 0
	f.agent("duda", 0, 5)
	c4 := f.open("b4", "duvida")
	require.Equal(t, "caio", c4.AgentID, "below Min first, even against an equally idle agent")
	c5 := f.open("b5", "duvida")
	require.Equal(t, "caio", c5.AgentID, "still below Min (1 < 2) beats duda with load 0")
	c6 := f.open("b6", "duvida")
	require.Equal(t, "duda", c6.AgentID)
}

func TestQueueOrderAndCapacity(t *testing.T) {
	f := newFixture(t)
	first := f.open("b1", "duvida")
	second := f.open("b2", "duvida")
	urgent := f.open("b3", "urgente")
	for _, c := range []attendance.Conversation{first, second, urgent} {
		require.Equal(t, attendance.StateQueued, c.State, "no agent online")
	}
	st, err := f.engine.QueueStatus(f.ctx, benefP("b2"), second.ID)
	require.NoError(t, err)
	require.Equal(t, 3, st.Position, "the urgent subject jumped ahead")
	require.Equal(t, 3, st.Waiting)
	require.Positive(t, st.EstimatedWait)

	f.agent("ana", 0, 2)
	require.Equal(t, attendance.StateOffered, f.conv(urgent.ID).State, "priority first")
	require.Equal(t, attendance.StateOffered, f.conv(first.ID).State, "then arrival")
	require.Equal(t, attendance.StateQueued, f.conv(second.ID).State, "never above Max")
	require.Equal(t, 2, f.load("ana"))

	st, err = f.engine.QueueStatus(f.ctx, benefP("b2"), second.ID)
	require.NoError(t, err)
	require.Equal(t, 1, st.Position, "the position moves as the queue moves")
}

func TestDeclineReturnsToOriginalPlaceAndGoesToTheNextAgent(t *testing.T) {
	f := newFixture(t)
	f.agent("ana", 0, 1)
	c1 := f.open("b1", "duvida")
	c2 := f.open("b2", "duvida")
	require.Equal(t, "ana", c1.AgentID)
	require.Equal(t, attendance.StateQueued, c2.State)

	f.agent("bia", 0, 1) // bia takes c2
	require.Equal(t, "bia", f.conv(c2.ID).AgentID)
	c3 := f.open("b3", "duvida")
	require.Equal(t, attendance.StateQueued, c3.State)

	_, err := f.engine.Decline(f.ctx, agentP("ana"), c1.ID)
	require.NoError(t, err)
	// c1 is back ahead of c3 (its original arrival), and ana, the only one
	// with room, gets it again: nobody else can take it.
	require.Equal(t, "ana", f.conv(c1.ID).AgentID)
	require.Equal(t, attendance.StateQueued, f.conv(c3.ID).State)

	// With another agent free, a declined chat goes to that agent.
	_, err = f.engine.Decline(f.ctx, agentP("bia"), c2.ID)
	require.NoError(t, err)
	require.Equal(t, "bia", f.conv(c2.ID).AgentID, "bia is the only one with room")
	f.agent("caio", 0, 1)
	require.Equal(t, "caio", f.conv(c3.ID).AgentID)
	f.agent("duda", 0, 1)
	_, err = f.engine.Decline(f.ctx, agentP("ana"), c1.ID)
	require.NoError(t, err)
	require.Equal(t, "duda", f.conv(c1.ID).AgentID, "offered to the next agent, not back to ana")
	require.Equal(t, 0, f.load("ana"))
}

func TestOfferTimeoutAndPresence(t *testing.T) {
	f := newFixture(t)
	f.agent("ana", 0, 1)
	c := f.open("b1", "duvida")
	require.Equal(t, "ana", c.AgentID)

	n, err := f.engine.ExpireOffers(f.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "not due yet")

	f.agent("bia", 0, 1)
	f.clock.Advance(31 * time.Second)
	_, err = f.engine.Accept(f.ctx, agentP("ana"), c.ID)
	require.ErrorIs(t, err, attendance.ErrOfferExpired, "late accept")
	got := f.conv(c.ID)
	require.Equal(t, attendance.StateOffered, got.State)
	require.Equal(t, "bia", got.AgentID, "the expired offer went to the next agent")
	require.Equal(t, 0, f.load("ana"))
	n, err = f.engine.ExpireOffers(f.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "already expired once")

	// bia goes offline: her offer goes back and, with nobody else having room
	// but ana, to ana.
	_, err = f.engine.SetPresence(f.ctx, agentP("bia"), attendance.PresenceOffline)
	require.NoError(t, err)
	got = f.conv(c.ID)
	require.Equal(t, "ana", got.AgentID)
	require.Equal(t, 0, f.load("bia"))
	require.Contains(t, f.events(c.ID), attendance.EventOfferRevoked)

	f.clock.Advance(31 * time.Second)
	n, err = f.engine.ExpireOffers(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestAutoAcceptBelowMin(t *testing.T) {
	f := newFixture(t)
	_, err := f.engine.UpsertAgent(f.ctx, attendance.AgentParams{ID: "ana", Profile: attendance.Profile{Min: 1, Max: 3, Queues: []string{"geral"}, AutoAcceptBelowMin: true}})
	require.NoError(t, err)
	_, err = f.engine.SetPresence(f.ctx, agentP("ana"), attendance.PresenceOnline)
	require.NoError(t, err)
	c1 := f.open("b1", "duvida")
	require.Equal(t, attendance.StateActive, c1.State, "below Min: straight to Em Atendimento")
	c2 := f.open("b2", "duvida")
	require.Equal(t, attendance.StateOffered, c2.State, "at Min: a normal offer")
	require.Equal(t, 2, f.load("ana"))
}

func TestTransfer(t *testing.T) {
	f := newFixture(t)
	f.agent("ana", 0, 2, "geral")
	c := f.open("b1", "duvida")
	_, err := f.engine.Accept(f.ctx, agentP("ana"), c.ID)
	require.NoError(t, err)
	arrived := f.conv(c.ID).ArrivedAt

	// To a queue: nobody serves financeiro yet, it waits there, keeping its
	// original arrival, ahead of a newer conversation.
	newer := f.open("b2", "boleto")
	c, err = f.engine.Transfer(f.ctx, agentP("ana"), attendance.TransferParams{ConversationID: c.ID, QueueID: "financeiro", Note: "segunda via"})
	require.NoError(t, err)
	require.Equal(t, attendance.StateQueued, c.State)
	require.Equal(t, "financeiro", c.QueueID)
	require.True(t, arrived.Equal(c.ArrivedAt), "transfer keeps the arrival time")
	require.Equal(t, "segunda via", c.TransferNote)
	require.Equal(t, 0, f.load("ana"))
	st, err := f.engine.QueueStatus(f.ctx, benefP("b1"), c.ID)
	require.NoError(t, err)
	require.Equal(t, 1, st.Position, "ahead of the newer conversation")
	require.Equal(t, attendance.StateQueued, f.conv(newer.ID).State)

	f.agent("fabi", 0, 3, "financeiro")
	c = f.conv(c.ID)
	require.Equal(t, "fabi", c.AgentID)
	_, err = f.engine.Accept(f.ctx, agentP("fabi"), c.ID)
	require.NoError(t, err)
	ms, err := f.engine.Messages(f.ctx, agentP("fabi"), c.ID, 0, 0)
	require.NoError(t, err)
	require.Equal(t, attendance.EventOpened, ms[0].Event.Type, "the next agent sees the whole history")

	// To an agent: offline and full are typed errors that change nothing.
	_, err = f.engine.UpsertAgent(f.ctx, attendance.AgentParams{ID: "gil", Profile: attendance.Profile{Max: 1, Queues: []string{"financeiro"}}})
	require.NoError(t, err)
	_, err = f.engine.Transfer(f.ctx, agentP("fabi"), attendance.TransferParams{ConversationID: c.ID, AgentID: "gil"})
	require.ErrorIs(t, err, attendance.ErrAgentUnavailable)
	_, err = f.engine.Transfer(f.ctx, agentP("fabi"), attendance.TransferParams{ConversationID: c.ID, AgentID: "ana"})
	require.NoError(t, err, "ana is online with room, even without serving financeiro")
	c = f.conv(c.ID)
	require.Equal(t, attendance.StateOffered, c.State)
	require.Equal(t, "ana", c.AgentID)
	require.Equal(t, 1, f.load("fabi"), "fabi keeps the newer chat she got when she came online")

	// newer went to fabi when she freed up; now fill gil and try him.
	_, err = f.engine.Accept(f.ctx, agentP("ana"), c.ID)
	require.NoError(t, err)
	_, err = f.engine.SetPresence(f.ctx, agentP("gil"), attendance.PresenceOnline)
	require.NoError(t, err)
	f.open("b3", "boleto")
	f.open("b4", "boleto")
	require.Equal(t, 1, f.load("gil"))
	before := f.conv(c.ID)
	_, err = f.engine.Transfer(f.ctx, agentP("ana"), attendance.TransferParams{ConversationID: c.ID, AgentID: "gil"})
	require.ErrorIs(t, err, attendance.ErrAgentAtCapacity)
	require.Equal(t, before, f.conv(c.ID), "a refused transfer changes nothing")
}

func TestIdempotentSendAndLimits(t *testing.T) {
	f := newFixture(t)
	c := f.open("b1", "duvida")
	m1, err := f.engine.Send(f.ctx, benefP("b1"), attendance.SendParams{ConversationID: c.ID, Body: "oi", IdempotencyKey: "k1"})
	require.NoError(t, err)
	m2, err := f.engine.Send(f.ctx, benefP("b1"), attendance.SendParams{ConversationID: c.ID, Body: "oi", IdempotencyKey: "k1"})
	require.NoError(t, err)
	require.Equal(t, m1.ID, m2.ID, "a retried send returns the first message")
	require.Equal(t, m1.Seq, m2.Seq)
	require.Equal(t, m1.Seq, f.conv(c.ID).LastSeq, "nothing was appended twice")

	_, err = f.engine.Send(f.ctx, benefP("b1"), attendance.SendParams{ConversationID: c.ID, Body: "  \n"})
	require.ErrorIs(t, err, attendance.ErrEmptyMessage)
	_, err = f.engine.Send(f.ctx, benefP("b1"), attendance.SendParams{ConversationID: c.ID, Body: strings.Repeat("a", 4097)})
	require.ErrorIs(t, err, attendance.ErrMessageTooLarge)
	_, err = f.engine.Send(f.ctx, benefP("b1"), attendance.SendParams{ConversationID: c.ID, Body: "\xff\xfe"})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	require.Equal(t, m1.Seq, f.conv(c.ID).LastSeq)
}

func TestAuthorization(t *testing.T) {
	f := newFixture(t)
	f.agent("ana", 0, 1)
	f.agent("bia", 0, 1)
	c := f.open("maria", "duvida")
	require.Equal(t, "ana", c.AgentID)
	other := f.open("joao", "duvida")
	require.Equal(t, "bia", other.AgentID)

	forbidden := []struct {
		name string
		call func() error
	}{
		{"beneficiary reads another's conversation", func() error {
			_, err := f.engine.Messages(f.ctx, benefP("joao"), c.ID, 0, 0)
			return err
		}},
		{"beneficiary writes to another's conversation", func() error {
			_, err := f.engine.Send(f.ctx, benefP("joao"), attendance.SendParams{ConversationID: c.ID, Body: "x"})
			return err
		}},
		{"agent accepts someone else's offer", func() error {
			_, err := f.engine.Accept(f.ctx, agentP("bia"), c.ID)
			return err
		}},
		{"agent reads a conversation not offered to them", func() error {
			_, err := f.engine.Conversation(f.ctx, agentP("bia"), c.ID)
			return err
		}},
		{"beneficiary accepts", func() error {
			_, err := f.engine.Accept(f.ctx, benefP("maria"), c.ID)
			return err
		}},
		{"agent opens a conversation", func() error {
			_, err := f.engine.Open(f.ctx, agentP("ana"), attendance.OpenParams{SubjectID: "duvida"})
			return err
		}},
		{"supervisor finalizes a chat not theirs", func() error {
			_, err := f.engine.Finalize(f.ctx, attendance.SupervisorPrincipal("sup"), attendance.FinalizeParams{ConversationID: c.ID, Reason: "resolvido"})
			return err
		}},
		{"principal without ID", func() error {
			_, err := f.engine.Conversation(f.ctx, attendance.Principal{Role: attendance.RoleAgent}, c.ID)
			return err
		}},
		{"widget view by another agent", func() error {
			_, err := f.engine.AuthorizeView(f.ctx, agentP("bia"), c.ID)
			return err
		}},
	}
	for _, tt := range forbidden {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.call(), attendance.ErrForbidden)
		})
	}
	_, err := f.engine.Conversation(f.ctx, attendance.SupervisorPrincipal("sup"), c.ID)
	require.NoError(t, err, "a supervisor reads all")
	_, err = f.engine.AuthorizeView(f.ctx, agentP("ana"), c.ID)
	require.NoError(t, err, "the agent it is offered to may view it")
}

// TestBadInputChangesNothing: each bad call returns its typed error and
// leaves the store as it was.
func TestBadInputChangesNothing(t *testing.T) {
	f := newFixture(t)
	f.agent("ana", 0, 1)
	active := f.open("maria", "duvida")
	_, err := f.engine.Accept(f.ctx, agentP("ana"), active.ID)
	require.NoError(t, err)
	f.agent("bia", 0, 1)
	offered := f.open("joao", "duvida")
	require.Equal(t, "bia", offered.AgentID)
	done := f.open("rita", "duvida")
	_, err = f.engine.Leave(f.ctx, benefP("rita"), done.ID)
	require.NoError(t, err)

	snapshot := func() []attendance.Conversation {
		cs, err := f.store.ListConversations(f.ctx, attendance.ListConversationsFilter{})
		require.NoError(t, err)
		return cs
	}
	before := snapshot()
	loads := []int{f.load("ana"), f.load("bia")}

	cases := []struct {
		name string
		want error
		call func() error
	}{
		{"unknown conversation", attendance.ErrNotFound, func() error {
			_, err := f.engine.Accept(f.ctx, agentP("ana"), "nope")
			return err
		}},
		{"empty conversation ID", attendance.ErrInvalidArgument, func() error {
			_, err := f.engine.Messages(f.ctx, agentP("ana"), "", 0, 0)
			return err
		}},
		{"unknown subject", attendance.ErrUnknownSubject, func() error {
			_, err := f.engine.Open(f.ctx, benefP("x"), attendance.OpenParams{SubjectID: "nope"})
			return err
		}},
		{"unknown finalize reason", attendance.ErrUnknownReason, func() error {
			_, err := f.engine.Finalize(f.ctx, agentP("ana"), attendance.FinalizeParams{ConversationID: active.ID, Reason: "nope"})
			return err
		}},
		{"empty message", attendance.ErrEmptyMessage, func() error {
			_, err := f.engine.Send(f.ctx, agentP("ana"), attendance.SendParams{ConversationID: active.ID})
			return err
		}},
		{"oversized message", attendance.ErrMessageTooLarge, func() error {
			_, err := f.engine.Send(f.ctx, agentP("ana"), attendance.SendParams{ConversationID: active.ID, Body: strings.Repeat("x", 5000)})
			return err
		}},
		{"Min above Max", attendance.ErrInvalidArgument, func() error {
			_, err := f.engine.UpsertAgent(f.ctx, attendance.AgentParams{ID: "ana", Profile: attendance.Profile{Min: 3, Max: 2, Queues: []string{"geral"}}})
			return err
		}},
		{"Max below 1", attendance.ErrInvalidArgument, func() error {
			_, err := f.engine.UpsertAgent(f.ctx, attendance.AgentParams{ID: "ana", Profile: attendance.Profile{Max: 0, Queues: []string{"geral"}}})
			return err
		}},
		{"profile with unknown queue", attendance.ErrNotFound, func() error {
			_, err := f.engine.UpsertAgent(f.ctx, attendance.AgentParams{ID: "ana", Profile: attendance.Profile{Max: 1, Queues: []string{"nope"}}})
			return err
		}},
		{"acting on an abandoned conversation", attendance.ErrInvalidTransition, func() error {
			_, err := f.engine.Send(f.ctx, benefP("rita"), attendance.SendParams{ConversationID: done.ID, Body: "oi"})
			return err
		}},
		{"leaving an active conversation", attendance.ErrInvalidTransition, func() error {
			_, err := f.engine.Leave(f.ctx, benefP("maria"), active.ID)
			return err
		}},
		{"accepting an offer to someone else", attendance.ErrForbidden, func() error {
			_, err := f.engine.Accept(f.ctx, agentP("ana"), offered.ID)
			return err
		}},
		{"accepting an active chat again", attendance.ErrConflict, func() error {
			_, err := f.engine.Accept(f.ctx, agentP("ana"), active.ID)
			return err
		}},
		{"transfer to an unknown agent", attendance.ErrNotFound, func() error {
			_, err := f.engine.Transfer(f.ctx, agentP("ana"), attendance.TransferParams{ConversationID: active.ID, AgentID: "nope"})
			return err
		}},
		{"transfer to an unknown queue", attendance.ErrNotFound, func() error {
			_, err := f.engine.Transfer(f.ctx, agentP("ana"), attendance.TransferParams{ConversationID: active.ID, QueueID: "nope"})
			return err
		}},
		{"transfer to queue and agent at once", attendance.ErrInvalidArgument, func() error {
			_, err := f.engine.Transfer(f.ctx, agentP("ana"), attendance.TransferParams{ConversationID: active.ID, QueueID: "geral", AgentID: "bia"})
			return err
		}},
		{"unknown presence", attendance.ErrInvalidArgument, func() error {
			_, err := f.engine.SetPresence(f.ctx, agentP("ana"), "sleeping")
			return err
		}},
		{"read mark beyond the last message", attendance.ErrInvalidArgument, func() error {
			_, err := f.engine.MarkRead(f.ctx, agentP("ana"), active.ID, 999)
			return err
		}},
		{"messages after a forged sequence", attendance.ErrInvalidArgument, func() error {
			_, err := f.engine.Messages(f.ctx, agentP("ana"), active.ID, 999, 0)
			return err
		}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.ErrorIs(t, err, tt.want)
			require.Equal(t, before, snapshot(), "bad input changed a conversation")
			require.Equal(t, loads, []int{f.load("ana"), f.load("bia")})
		})
	}
	_, err = attendance.New(f.store, nil)
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	_, err = attendance.New(nil, testConfig(f.clock))
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	cfg := testConfig(f.clock)
	cfg.Subjects = append(cfg.Subjects, attendance.Subject{ID: "x", QueueID: "nope"})
	_, err = attendance.New(f.store, cfg)
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
}

func TestSubscriptions(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	agentSub, err := f.engine.Subscribe(ctx, agentP("ana"), attendance.SubscribeParams{})
	require.NoError(t, err)
	defer agentSub.Close()

	f.agent("ana", 0, 1)
	waiting := f.open("joao", "duvida") // takes ana's only place
	ahead := f.open("pedro", "duvida")
	benefSub, err := f.engine.Subscribe(ctx, benefP("maria"), attendance.SubscribeParams{})
	require.NoError(t, err)
	defer benefSub.Close()
	c := f.open("maria", "duvida")
	require.Equal(t, attendance.StateQueued, c.State)

	ns, err := agentSub.Next(ctx)
	require.NoError(t, err)
	var sawOffer bool
	for _, n := range ns {
		if n.ConversationID == waiting.ID && n.State == attendance.StateOffered {
			sawOffer = true
		}
	}
	require.True(t, sawOffer, "the agent is told of the offer: %+v", ns)

	ns, err = benefSub.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, c.ID, ns[0].ConversationID)

	// When pedro, ahead of her, leaves, the queue moves and maria hears of it.
	_, err = f.engine.Leave(f.ctx, benefP("pedro"), ahead.ID)
	require.NoError(t, err)
	ns, err = benefSub.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, []attendance.Notification{{Kind: attendance.NotifyQueue, QueueID: "geral", Origin: ns[0].Origin}}, ns)
	st, err := f.engine.QueueStatus(f.ctx, benefP("maria"), c.ID)
	require.NoError(t, err)
	require.Equal(t, 1, st.Position)

	// When joao leaves, ana has room and maria's chat is offered.
	_, err = f.engine.Leave(f.ctx, benefP("joao"), waiting.ID)
	require.NoError(t, err)
	ns, err = benefSub.Next(ctx)
	require.NoError(t, err)
	require.Len(t, ns, 1)
	require.Equal(t, c.ID, ns[0].ConversationID)
	require.Equal(t, attendance.StateOffered, ns[0].State)

	// Reading after a sequence returns exactly the rest.
	all, err := f.engine.Messages(f.ctx, benefP("maria"), c.ID, 0, 0)
	require.NoError(t, err)
	rest, err := f.engine.Messages(f.ctx, benefP("maria"), c.ID, 1, 0)
	require.NoError(t, err)
	require.Equal(t, all[1:], rest)

	benefSub.Close()
	_, err = benefSub.Next(ctx)
	require.True(t, errors.Is(err, attendance.ErrClosed))
}

func TestStartStop(t *testing.T) {
	f := newFixture(t)
	f.agent("ana", 0, 1)
	// A conversation written straight to the store (as another engine would)
	// is routed when the engine starts and loads its index.
	c := attendance.Conversation{ID: "elsewhere", BeneficiaryID: "maria", SubjectID: "duvida", QueueID: "geral", State: attendance.StateQueued,
		ArrivedAt: f.clock.Now(), CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()}
	_, _, err := f.store.CreateConversation(f.ctx, attendance.CreateConversationParams{Conversation: c, Opened: attendance.Message{
		ID: "m-elsewhere", Kind: attendance.KindSystem, Sender: attendance.SystemPrincipal, CreatedAt: f.clock.Now(),
		Event: &attendance.Event{Type: attendance.EventOpened, To: attendance.StateQueued}}})
	require.NoError(t, err)

	require.NoError(t, f.engine.Start(f.ctx))
	require.ErrorIs(t, f.engine.Start(f.ctx), attendance.ErrInvalidArgument, "started twice")
	require.Equal(t, "ana", f.conv("elsewhere").AgentID)

	sub, err := f.engine.Subscribe(f.ctx, agentP("ana"), attendance.SubscribeParams{})
	require.NoError(t, err)
	require.NoError(t, f.engine.Stop(f.ctx))
	_, err = sub.Next(f.ctx)
	require.ErrorIs(t, err, attendance.ErrClosed, "Stop closes subscriptions")
	require.NoError(t, f.engine.Stop(f.ctx), "stopping twice is harmless")
}

func TestReviewFindings(t *testing.T) {
	f := newFixture(t)
	f.agent("ana", 0, 2)
	f.agent("bia", 0, 2)
	c := f.open("maria", "duvida")
	require.Equal(t, "ana", c.AgentID)
	_, err := f.engine.Accept(f.ctx, agentP("ana"), c.ID)
	require.NoError(t, err)

	t.Run("an agent stops following a conversation transferred away", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sub, err := f.engine.Subscribe(ctx, agentP("ana"), attendance.SubscribeParams{ConversationID: c.ID})
		require.NoError(t, err)
		defer sub.Close()
		_, err = f.engine.Transfer(f.ctx, agentP("ana"), attendance.TransferParams{ConversationID: c.ID, AgentID: "bia", Note: "nota interna"})
		require.NoError(t, err)
		ns, err := sub.Next(ctx)
		require.NoError(t, err)
		require.Len(t, ns, 1, "the transfer itself concerns ana")
		_, err = f.engine.Accept(f.ctx, agentP("bia"), c.ID)
		require.NoError(t, err)
		_, err = f.engine.Send(f.ctx, agentP("bia"), attendance.SendParams{ConversationID: c.ID, Body: "sou a Bia"})
		require.NoError(t, err)
		short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancelShort()
		_, err = sub.Next(short)
		require.ErrorIs(t, err, context.DeadlineExceeded, "ana hears nothing more of it")
	})

	t.Run("a beneficiary does not see internal notes", func(t *testing.T) {
		got, err := f.engine.Conversation(f.ctx, benefP("maria"), c.ID)
		require.NoError(t, err)
		require.Empty(t, got.TransferNote)
		ms, err := f.engine.Messages(f.ctx, benefP("maria"), c.ID, 0, 0)
		require.NoError(t, err)
		for _, m := range ms {
			if m.Event != nil {
				require.Empty(t, m.Event.Note)
			}
		}
		got, err = f.engine.Conversation(f.ctx, agentP("bia"), c.ID)
		require.NoError(t, err)
		require.Equal(t, "nota interna", got.TransferNote, "the next agent sees it")
	})

	t.Run("a retried send after finalize returns the first message", func(t *testing.T) {
		first, err := f.engine.Send(f.ctx, benefP("maria"), attendance.SendParams{ConversationID: c.ID, Body: "obrigada", IdempotencyKey: "tchau"})
		require.NoError(t, err)
		_, err = f.engine.Finalize(f.ctx, agentP("bia"), attendance.FinalizeParams{ConversationID: c.ID, Reason: "resolvido"})
		require.NoError(t, err)
		retry, err := f.engine.Send(f.ctx, benefP("maria"), attendance.SendParams{ConversationID: c.ID, Body: "obrigada", IdempotencyKey: "tchau"})
		require.NoError(t, err)
		require.Equal(t, first, retry)
		_, err = f.engine.Send(f.ctx, benefP("maria"), attendance.SendParams{ConversationID: c.ID, Body: "mais uma", IdempotencyKey: "nova"})
		require.ErrorIs(t, err, attendance.ErrInvalidTransition, "a new message to a finalized conversation")
	})

	t.Run("the last agent acting on a finalized conversation", func(t *testing.T) {
		_, err := f.engine.Finalize(f.ctx, agentP("bia"), attendance.FinalizeParams{ConversationID: c.ID, Reason: "resolvido"})
		require.ErrorIs(t, err, attendance.ErrInvalidTransition)
		_, err = f.engine.Finalize(f.ctx, agentP("ana"), attendance.FinalizeParams{ConversationID: c.ID, Reason: "resolvido"})
		require.ErrorIs(t, err, attendance.ErrForbidden, "not hers any more")
	})

	t.Run("the system principal sends nothing", func(t *testing.T) {
		_, err := f.engine.Send(f.ctx, attendance.SystemPrincipal, attendance.SendParams{ConversationID: c.ID, Body: "x"})
		require.ErrorIs(t, err, attendance.ErrForbidden)
	})

	t.Run("a caller cancelled right after the write still gets its chat routed", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		store := &cancelAfterCreate{Store: newStore(), cancel: cancel}
		e, err := attendance.New(store, testConfig(newClock()))
		require.NoError(t, err)
		_, err = e.UpsertAgent(f.ctx, attendance.AgentParams{ID: "ana", Profile: attendance.Profile{Max: 1, Queues: []string{"geral"}}})
		require.NoError(t, err)
		_, err = e.SetPresence(f.ctx, agentP("ana"), attendance.PresenceOnline)
		require.NoError(t, err)
		c, err := e.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
		require.NoError(t, err, "the write happened: the caller learns of it")
		require.Error(t, ctx.Err())
		require.Equal(t, attendance.StateOffered, c.State, "and routing followed it")
		cs, err := store.ListConversations(f.ctx, attendance.ListConversationsFilter{})
		require.NoError(t, err)
		require.Len(t, cs, 1)
	})
}

// cancelAfterCreate cancels the caller's context as soon as a conversation is
// created, as a client hanging up at the worst moment would.
type cancelAfterCreate struct {
	attendance.Store
	cancel context.CancelFunc
}

func (s *cancelAfterCreate) CreateConversation(ctx context.Context, p attendance.CreateConversationParams) (attendance.Conversation, attendance.Message, error) {
	c, m, err := s.Store.CreateConversation(ctx, p)
	s.cancel()
	return c, m, err
}

func TestOpenIdempotencyAndLimit(t *testing.T) {
	f := newFixture(t)
	first, err := f.engine.Open(f.ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida", IdempotencyKey: "abrir-1"})
	require.NoError(t, err)
	retry, err := f.engine.Open(f.ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida", IdempotencyKey: "abrir-1"})
	require.NoError(t, err)
	require.Equal(t, first.ID, retry.ID, "a retried open returns the first conversation")
	other, err := f.engine.Open(f.ctx, benefP("joao"), attendance.OpenParams{SubjectID: "duvida", IdempotencyKey: "abrir-1"})
	require.NoError(t, err)
	require.NotEqual(t, first.ID, other.ID, "keys are per beneficiary")

	// Concurrent retries of one key create one conversation.
	var wg sync.WaitGroup
	ids := make([]string, 16)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := f.engine.Open(f.ctx, benefP("rita"), attendance.OpenParams{SubjectID: "boleto", IdempotencyKey: "k"})
			if err == nil {
				ids[i] = c.ID
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}

	// The default limit is three open conversations per beneficiary.
	f.open("maria", "boleto")
	f.open("maria", "urgente")
	_, err = f.engine.Open(f.ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
	require.ErrorIs(t, err, attendance.ErrLimit)
	_, err = f.engine.Leave(f.ctx, benefP("maria"), first.ID)
	require.NoError(t, err)
	f.open("maria", "duvida")
}

// An agent whose send was stored but whose reply was lost retries it with
// the same key after reconnecting; the chat may have left them meanwhile.
// The retry returns the stored message; anything new is refused as before.
func TestAgentRetriesASendAfterTheChatLeftThem(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.agent("ana", 0, 2)
	send := func(agent, convID, key string) (attendance.Message, error) {
		return f.engine.Send(f.ctx, agentP(agent), attendance.SendParams{ConversationID: convID, Body: "segunda via enviada", IdempotencyKey: key})
	}

	t.Run("transferred to another agent", func(t *testing.T) {
		c := f.open("maria", "duvida")
		_, err := f.engine.Accept(f.ctx, agentP("ana"), c.ID)
		require.NoError(t, err)
		first, err := send("ana", c.ID, "k1")
		require.NoError(t, err)
		f.agent("bia", 0, 1)
		_, err = f.engine.Transfer(f.ctx, agentP("ana"), attendance.TransferParams{ConversationID: c.ID, AgentID: "bia"})
		require.NoError(t, err)

		retry, err := send("ana", c.ID, "k1")
		require.NoError(t, err)
		require.Equal(t, first, retry)
		_, err = send("ana", c.ID, "k2")
		require.ErrorIs(t, err, attendance.ErrForbidden, "a new message to a chat that is not hers")
		require.Equal(t, first.Seq+1, f.conv(c.ID).LastSeq, "only the transfer was added")
		_, err = f.engine.Accept(f.ctx, agentP("bia"), c.ID)
		require.NoError(t, err)
		own, err := send("bia", c.ID, "k1")
		require.NoError(t, err)
		require.NotEqual(t, first.ID, own.ID, "a key is the sender's own: bia's k1 is a new message")
	})

	t.Run("finalized by her", func(t *testing.T) {
		c := f.open("joana", "duvida")
		_, err := f.engine.Accept(f.ctx, agentP("ana"), c.ID)
		require.NoError(t, err)
		first, err := send("ana", c.ID, "k3")
		require.NoError(t, err)
		_, err = f.engine.Finalize(f.ctx, agentP("ana"), attendance.FinalizeParams{ConversationID: c.ID, Reason: "resolvido"})
		require.NoError(t, err)

		retry, err := send("ana", c.ID, "k3")
		require.NoError(t, err)
		require.Equal(t, first, retry)
		_, err = send("ana", c.ID, "k4")
		require.ErrorIs(t, err, attendance.ErrInvalidTransition, "a new message to a finalized chat")
	})
}

// appendFails is a store whose AppendMessage fails with err once set.
type appendFails struct {
	attendance.Store
	err error
}

func (s *appendFails) AppendMessage(ctx context.Context, p attendance.AppendMessageParams) (attendance.Message, attendance.Conversation, bool, error) {
	if s.err != nil {
		return attendance.Message{}, attendance.Conversation{}, false, s.err
	}
	return s.Store.AppendMessage(ctx, p)
}

// On the retry path the engine reports the store's failures as they are
// (a retrying client must not read "forbidden" for "database down"), and an
// agent without an ID never reaches the store, where an empty owner would
// mean "anyone".
func TestAgentRetryPathErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &appendFails{Store: newStore()}
	e, err := attendance.New(store, testConfig(newClock()))
	require.NoError(t, err)
	for _, id := range []string{"ana", "bia"} {
		_, err = e.UpsertAgent(ctx, attendance.AgentParams{ID: id, Profile: attendance.Profile{Max: 1, Queues: []string{"geral"}}})
		require.NoError(t, err)
	}
	_, err = e.SetPresence(ctx, agentP("ana"), attendance.PresenceOnline)
	require.NoError(t, err)
	c, err := e.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	_, err = e.Accept(ctx, agentP("ana"), c.ID)
	require.NoError(t, err)
	_, err = e.SetPresence(ctx, agentP("bia"), attendance.PresenceOnline)
	require.NoError(t, err)
	_, err = e.Transfer(ctx, agentP("ana"), attendance.TransferParams{ConversationID: c.ID, AgentID: "bia"})
	require.NoError(t, err)

	down := errors.New("store down")
	store.err = down
	_, err = e.Send(ctx, agentP("ana"), attendance.SendParams{ConversationID: c.ID, Body: "oi", IdempotencyKey: "k1"})
	require.ErrorIs(t, err, down)
	_, err = e.Send(ctx, attendance.Principal{Role: attendance.RoleAgent}, attendance.SendParams{ConversationID: c.ID, Body: "oi", IdempotencyKey: "k1"})
	require.ErrorIs(t, err, attendance.ErrForbidden, "refused before the store")
}

// readCounter counts the conversation reads its store serves.
type readCounter struct {
	attendance.Store
	reads atomic.Int64
}

func (s *readCounter) GetConversation(ctx context.Context, id string) (attendance.Conversation, error) {
	s.reads.Add(1)
	return s.Store.GetConversation(ctx, id)
}

// A send is one store call: the store checks the sender as it appends and
// returns the conversation the notification names (owner, beneficiary).
// Only a refusal reads the conversation, to say why in the engine's words.
func TestSendIsOneStoreCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &readCounter{Store: newStore()}
	e, err := attendance.New(store, testConfig(newClock()))
	require.NoError(t, err)
	c := servedByAna(t, e)
	ana, bia, maria := agentP("ana"), agentP("bia"), benefP("maria")
	anaSub, err := e.Subscribe(ctx, ana, attendance.SubscribeParams{})
	require.NoError(t, err)
	defer anaSub.Close()
	mariaSub, err := e.Subscribe(ctx, maria, attendance.SubscribeParams{})
	require.NoError(t, err)
	defer mariaSub.Close()

	reads := store.reads.Load()
	m1, err := e.Send(ctx, maria, attendance.SendParams{ConversationID: c.ID, Body: "oi"})
	require.NoError(t, err)
	m2, err := e.Send(ctx, ana, attendance.SendParams{ConversationID: c.ID, Body: "olá, maria"})
	require.NoError(t, err)
	require.Equal(t, reads, store.reads.Load(), "a send read the conversation")
	// Each side hears of both messages: the notifications name the owner
	// and the beneficiary the append returned.
	for _, sub := range []*attendance.Subscription{anaSub, mariaSub} {
		ns, err := sub.Next(ctx)
		require.NoError(t, err)
		require.Len(t, ns, 1)
		require.Equal(t, c.ID, ns[0].ConversationID)
		require.Equal(t, m2.Seq, ns[0].Seq)
		require.Equal(t, "maria", ns[0].BeneficiaryID)
		require.Equal(t, []string{"ana"}, ns[0].AgentIDs)
	}
	require.Equal(t, m1.Seq+1, m2.Seq)

	// Refusals, explained: a stranger and another agent are forbidden,
	// ana's own finalized chat is a transition error; nothing is stored.
	_, err = e.Send(ctx, benefP("joana"), attendance.SendParams{ConversationID: c.ID, Body: "entrei?"})
	require.ErrorIs(t, err, attendance.ErrForbidden)
	require.ErrorContains(t, err, "beneficiary joana on conversation")
	_, err = e.Send(ctx, bia, attendance.SendParams{ConversationID: c.ID, Body: "posso?"})
	require.ErrorIs(t, err, attendance.ErrForbidden)
	_, err = e.Finalize(ctx, ana, attendance.FinalizeParams{ConversationID: c.ID, Reason: "resolvido"})
	require.NoError(t, err)
	_, err = e.Send(ctx, ana, attendance.SendParams{ConversationID: c.ID, Body: "mais uma coisa"})
	var te *attendance.TransitionError
	require.ErrorAs(t, err, &te)
	ms, err := e.Messages(ctx, maria, c.ID, m2.Seq, 0)
	require.NoError(t, err)
	for _, m := range ms {
		require.Equal(t, attendance.KindSystem, m.Kind, "a refused send was stored: %q", m.Body)
	}
}
