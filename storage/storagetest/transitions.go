package storagetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// transitions covers Transition: every check of TransitionParams, in
// order, the fields it sets, the load bookkeeping and the system message.
func (s suite) transitions(t *testing.T) {
	s.run(t, "OfferAcceptFinalize", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.conversation()

		// Offer: the agent holds it, load +1, LastAssignedAt = At.
		p := f.offerParams(c.ID, a.ID)
		p.Message.Kind = attendance.KindText // the store forces system
		got, msg := f.transition(p)
		want := c
		want.State = attendance.StateOffered
		want.AgentID = a.ID
		want.LastAgentID = a.ID
		want.OfferDeadline = p.OfferDeadline
		want.Version = 1
		want.LastSeq = 2
		want.UpdatedAt = p.At
		requireConversation(t, want, got)
		requireConversation(t, want, f.get(c.ID))

		wantMsg := p.Message
		wantMsg.ConversationID = c.ID
		wantMsg.Seq = 2
		wantMsg.Kind = attendance.KindSystem
		wantMsg.Event = &attendance.Event{Type: attendance.EventOffered, From: attendance.StateQueued, To: attendance.StateOffered, AgentID: a.ID}
		requireMessage(t, wantMsg, msg)
		msgs := f.messages(c.ID)
		require.Len(t, msgs, 2)
		requireMessage(t, wantMsg, msgs[1])

		ag := f.getAgent(a.ID)
		require.Equal(t, 1, ag.Load)
		requireTime(t, p.At, ag.LastAssignedAt, "LastAssignedAt after offer")

		// Accept by the same agent: no load change, LastAssignedAt kept,
		// deadline cleared.
		p = acceptParams(c.ID, a.ID)
		p.ExpectVersion = 1
		got, msg = f.transition(p)
		want.State = attendance.StateActive
		want.OfferDeadline = time.Time{}
		want.Version = 2
		want.LastSeq = 3
		want.UpdatedAt = p.At
		requireConversation(t, want, got)
		require.Equal(t, int64(3), msg.Seq)
		require.Equal(t, attendance.KindSystem, msg.Kind)
		require.Equal(t, &attendance.Event{Type: attendance.EventAccepted, From: attendance.StateOffered, To: attendance.StateActive, AgentID: a.ID}, msg.Event)
		ag = f.getAgent(a.ID)
		require.Equal(t, 1, ag.Load, "accepting one's own offer does not change the load")
		requireTime(t, at(1), ag.LastAssignedAt, "LastAssignedAt after accept")

		// Finalize: no owner, LastAgentID kept, reason and note, load -1.
		p = finalizeParams(c.ID, a.ID)
		got, msg = f.transition(p)
		want.State = attendance.StateFinalized
		want.AgentID = ""
		want.FinalReason = p.FinalReason
		want.FinalNote = p.FinalNote
		want.Version = 3
		want.LastSeq = 4
		want.UpdatedAt = p.At
		requireConversation(t, want, got)
		requireConversation(t, want, f.get(c.ID))
		require.Equal(t, int64(4), msg.Seq)
		require.Equal(t, 0, f.load(a.ID))
		require.Equal(t, []int64{1, 2, 3, 4}, seqs(f.messages(c.ID)))
	})

	s.run(t, "Decline", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.conversation(func(c *attendance.Conversation) { c.ArrivedAt = at(-60) })
		f.offer(c.ID, a.ID)
		got, msg := f.transition(declineParams(c.ID, a.ID))
		require.Equal(t, attendance.StateQueued, got.State)
		require.Empty(t, got.AgentID)
		require.Equal(t, a.ID, got.LastAgentID)
		require.Equal(t, c.QueueID, got.QueueID)
		requireTime(t, c.ArrivedAt, got.ArrivedAt, "ArrivedAt after decline")
		requireTime(t, time.Time{}, got.OfferDeadline, "OfferDeadline after decline")
		require.Equal(t, int64(2), got.Version)
		require.Equal(t, int64(3), msg.Seq)
		require.Equal(t, attendance.EventDeclined, msg.Event.Type)
		require.Equal(t, 0, f.load(a.ID))
		requireConversation(t, got, f.get(c.ID))

		// Offered to someone else next; the first agent stays free.
		b := f.onlineAgent(1)
		got = f.offer(c.ID, b.ID)
		require.Equal(t, b.ID, got.LastAgentID)
		require.Equal(t, 0, f.load(a.ID))
		require.Equal(t, 1, f.load(b.ID))
	})

	s.run(t, "ExpireOffer", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.conversation()
		f.offer(c.ID, a.ID)
		deadline := base.Add(offerTTL)

		// Not yet due: ErrConflict, nothing changes.
		before := f.snapshot(c.ID, a.ID)
		p := expireParams(c.ID, a.ID)
		p.OfferExpiredAt = deadline.Add(-time.Microsecond)
		_, _, err := f.s.Transition(f.ctx, p)
		require.ErrorIs(t, err, attendance.ErrConflict)
		f.requireUnchanged(before)

		// Due exactly at the deadline.
		got, msg := f.transition(expireParams(c.ID, a.ID))
		require.Equal(t, attendance.StateQueued, got.State)
		require.Empty(t, got.AgentID)
		requireTime(t, time.Time{}, got.OfferDeadline, "OfferDeadline after expiry")
		require.Equal(t, attendance.EventOfferExpired, msg.Event.Type)
		require.Equal(t, 0, f.load(a.ID))

		// A second expiry of the same offer finds it queued.
		before = f.snapshot(c.ID, a.ID)
		_, _, err = f.s.Transition(f.ctx, expireParams(c.ID, a.ID))
		require.ErrorIs(t, err, attendance.ErrConflict)
		f.requireUnchanged(before)
	})

	s.run(t, "AcceptAfterDeadline", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.conversation()
		f.offer(c.ID, a.ID)
		before := f.snapshot(c.ID, a.ID)
		deadline := base.Add(offerTTL)
		for _, validAt := range []time.Time{deadline, deadline.Add(time.Microsecond), deadline.Add(time.Hour)} {
			p := acceptParams(c.ID, a.ID)
			p.OfferValidAt = validAt
			_, _, err := f.s.Transition(f.ctx, p)
			require.ErrorIs(t, err, attendance.ErrOfferExpired, "accept at %s", validAt)
			f.requireUnchanged(before)
		}
		// One microsecond before the deadline is still in time.
		p := acceptParams(c.ID, a.ID)
		p.OfferValidAt = deadline.Add(-time.Microsecond)
		got, _ := f.transition(p)
		require.Equal(t, attendance.StateActive, got.State)
	})

	s.run(t, "AutoAccept", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(1)
		c := f.conversation()
		got, msg := f.transition(attendance.TransitionParams{
			ConversationID: c.ID,
			From:           []attendance.State{attendance.StateQueued},
			To:             attendance.StateActive,
			AgentID:        a.ID,
			At:             at(4),
			Message:        sysMsg(attendance.EventAutoAccepted, a.ID, at(4)),
		})
		require.Equal(t, attendance.StateActive, got.State)
		require.Equal(t, a.ID, got.AgentID)
		require.Equal(t, a.ID, got.LastAgentID)
		requireTime(t, time.Time{}, got.OfferDeadline, "OfferDeadline when active")
		require.Equal(t, attendance.StateQueued, msg.Event.From)
		require.Equal(t, attendance.StateActive, msg.Event.To)
		ag := f.getAgent(a.ID)
		require.Equal(t, 1, ag.Load)
		requireTime(t, at(4), ag.LastAssignedAt, "LastAssignedAt after auto-accept")
	})

	s.run(t, "TransferToAgent", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		b := f.onlineAgent(2)
		c := f.activate(f.conversation().ID, a.ID)

		got, msg := f.transition(attendance.TransitionParams{
			ConversationID: c.ID,
			From:           []attendance.State{attendance.StateActive},
			ExpectAgentID:  a.ID,
			To:             attendance.StateOffered,
			AgentID:        b.ID,
			OfferDeadline:  at(90),
			TransferNote:   "needs billing",
			At:             at(60),
			Message:        sysMsg(attendance.EventTransferred, b.ID, at(60)),
		})
		require.Equal(t, attendance.StateOffered, got.State)
		require.Equal(t, b.ID, got.AgentID)
		require.Equal(t, b.ID, got.LastAgentID)
		require.Equal(t, "needs billing", got.TransferNote)
		requireTime(t, at(90), got.OfferDeadline, "OfferDeadline after transfer")
		require.Equal(t, attendance.StateActive, msg.Event.From)
		require.Equal(t, attendance.StateOffered, msg.Event.To)
		require.Equal(t, 0, f.load(a.ID), "the previous owner is released")
		bg := f.getAgent(b.ID)
		require.Equal(t, 1, bg.Load)
		requireTime(t, at(60), bg.LastAssignedAt, "LastAssignedAt of the new owner")

		// The next agent accepts; the note travels with the conversation.
		p := acceptParams(c.ID, b.ID)
		p.OfferValidAt = at(61)
		got, _ = f.transition(p)
		require.Equal(t, attendance.StateActive, got.State)
		require.Equal(t, "needs billing", got.TransferNote, "an empty note keeps the stored one")
		require.Equal(t, 1, f.load(b.ID))
		require.Equal(t, 0, f.load(a.ID))

		// A second transfer without a note clears the first one's.
		got, _ = f.transition(attendance.TransitionParams{
			ConversationID: c.ID,
			From:           []attendance.State{attendance.StateActive},
			ExpectAgentID:  b.ID,
			To:             attendance.StateOffered,
			AgentID:        a.ID,
			OfferDeadline:  at(120),
			At:             at(100),
			Message:        sysMsg(attendance.EventTransferred, a.ID, at(100)),
		})
		require.Empty(t, got.TransferNote, "a transfer without a note leaves none from the one before")
	})

	s.run(t, "TransferToSameAgentKeepsLoad", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(1) // full with this conversation
		c := f.activate(f.conversation().ID, a.ID)
		got, _ := f.transition(attendance.TransitionParams{
			ConversationID: c.ID,
			From:           []attendance.State{attendance.StateActive},
			To:             attendance.StateOffered,
			AgentID:        a.ID,
			OfferDeadline:  at(90),
			At:             at(60),
			Message:        sysMsg(attendance.EventTransferred, a.ID, at(60)),
		})
		require.Equal(t, attendance.StateOffered, got.State)
		require.Equal(t, a.ID, got.AgentID)
		ag := f.getAgent(a.ID)
		require.Equal(t, 1, ag.Load, "the same owner is neither checked nor counted twice")
		requireTime(t, at(1), ag.LastAssignedAt, "LastAssignedAt unchanged for the same owner")
	})

	s.run(t, "TransferToUnavailableAgent", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		full := f.onlineAgent(1)
		f.offer(f.conversation().ID, full.ID)
		offline := f.agent(3)
		away := f.onlineAgent(3)
		_, err := f.s.SetPresence(f.ctx, attendance.SetPresenceParams{AgentID: away.ID, Presence: attendance.PresenceAway, At: at(5)})
		require.NoError(t, err)
		c := f.activate(f.conversation().ID, a.ID)

		before := f.snapshot(c.ID, a.ID, full.ID, offline.ID, away.ID)
		cases := []struct {
			name    string
			agentID string
			err     error
		}{
			{"offline", offline.ID, attendance.ErrAgentUnavailable},
			{"away", away.ID, attendance.ErrAgentUnavailable},
			{"full", full.ID, attendance.ErrAgentAtCapacity},
			{"unknown", newID("agent"), attendance.ErrNotFound},
		}
		for _, tc := range cases {
			_, _, err := f.s.Transition(f.ctx, attendance.TransitionParams{
				ConversationID: c.ID,
				From:           []attendance.State{attendance.StateActive},
				ExpectAgentID:  a.ID,
				To:             attendance.StateOffered,
				AgentID:        tc.agentID,
				OfferDeadline:  at(90),
				TransferNote:   "try " + tc.name,
				At:             at(60),
				Message:        sysMsg(attendance.EventTransferred, tc.agentID, at(60)),
			})
			require.ErrorIs(t, err, tc.err, tc.name)
			f.requireUnchanged(before)
		}
	})

	s.run(t, "TransferToQueueKeepsArrival", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		target := newID("queue")
		c := f.conversation(func(c *attendance.Conversation) { c.ArrivedAt = at(-300) })
		f.activate(c.ID, a.ID)
		waiting := f.conversation(func(w *attendance.Conversation) { w.QueueID = target; w.ArrivedAt = at(-10) })

		got, msg := f.transition(attendance.TransitionParams{
			ConversationID: c.ID,
			From:           []attendance.State{attendance.StateActive},
			ExpectAgentID:  a.ID,
			To:             attendance.StateQueued,
			QueueID:        target,
			TransferNote:   "to billing",
			At:             at(60),
			Message:        sysMsg(attendance.EventTransferred, "", at(60)),
		})
		require.Equal(t, attendance.StateQueued, got.State)
		require.Equal(t, target, got.QueueID)
		require.Empty(t, got.AgentID)
		require.Equal(t, a.ID, got.LastAgentID)
		require.Equal(t, "to billing", got.TransferNote)
		requireTime(t, at(-300), got.ArrivedAt, "ArrivedAt after transfer")
		require.Equal(t, attendance.StateActive, msg.Event.From)
		require.Equal(t, attendance.StateQueued, msg.Event.To)
		require.Equal(t, 0, f.load(a.ID))

		// It keeps its place: ahead of a conversation that arrived later.
		list, err := f.s.ListConversations(f.ctx, attendance.ListConversationsFilter{QueueID: target, States: []attendance.State{attendance.StateQueued}})
		require.NoError(t, err)
		require.Equal(t, []string{c.ID, waiting.ID}, conversationIDs(list))
	})

	s.run(t, "QueuedToQueued", func(t *testing.T, f *fixture) {
		target := newID("queue")
		c := f.conversation(func(c *attendance.Conversation) { c.ArrivedAt = at(-5) })
		got, _ := f.transition(attendance.TransitionParams{
			ConversationID: c.ID,
			From:           []attendance.State{attendance.StateQueued},
			To:             attendance.StateQueued,
			QueueID:        target,
			At:             at(1),
			Message:        sysMsg(attendance.EventTransferred, "", at(1)),
		})
		require.Equal(t, attendance.StateQueued, got.State)
		require.Equal(t, target, got.QueueID)
		requireTime(t, at(-5), got.ArrivedAt, "ArrivedAt after queue change")
		require.Equal(t, int64(1), got.Version)
	})

	s.run(t, "Abandon", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		abandon := func(id string, from attendance.State) attendance.Conversation {
			t.Helper()
			got, _ := f.transition(attendance.TransitionParams{
				ConversationID: id,
				From:           []attendance.State{from},
				To:             attendance.StateAbandoned,
				At:             at(7),
				Message:        sysMsg(attendance.EventAbandoned, "", at(7)),
			})
			return got
		}
		queued := abandon(f.conversation().ID, attendance.StateQueued)
		require.Equal(t, attendance.StateAbandoned, queued.State)
		require.Empty(t, queued.LastAgentID)

		offered := f.conversation()
		f.offer(offered.ID, a.ID)
		require.Equal(t, 1, f.load(a.ID))
		got := abandon(offered.ID, attendance.StateOffered)
		require.Equal(t, attendance.StateAbandoned, got.State)
		require.Empty(t, got.AgentID)
		require.Equal(t, a.ID, got.LastAgentID)
		requireTime(t, time.Time{}, got.OfferDeadline, "OfferDeadline after abandon")
		require.Equal(t, 0, f.load(a.ID), "abandoning an offer releases the agent")
	})

	s.run(t, "LoadBookkeeping", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(3)
		b := f.onlineAgent(3)
		loads := func(wantA, wantB int, step string) {
			t.Helper()
			require.Equal(t, wantA, f.load(a.ID), "load of a after %s", step)
			require.Equal(t, wantB, f.load(b.ID), "load of b after %s", step)
		}
		c1, c2, c3, c4 := f.conversation(), f.conversation(), f.conversation(), f.conversation()

		f.offer(c1.ID, a.ID)
		loads(1, 0, "offer c1 to a")
		f.offer(c2.ID, a.ID)
		loads(2, 0, "offer c2 to a")
		f.transition(acceptParams(c1.ID, a.ID))
		loads(2, 0, "a accepts c1")
		f.transition(declineParams(c2.ID, a.ID))
		loads(1, 0, "a declines c2")
		f.offer(c2.ID, b.ID)
		loads(1, 1, "offer c2 to b")
		f.transition(expireParams(c2.ID, b.ID))
		loads(1, 0, "c2's offer to b expires")
		f.activate(c3.ID, b.ID)
		loads(1, 1, "b takes c3")
		f.transition(attendance.TransitionParams{
			ConversationID: c1.ID, From: []attendance.State{attendance.StateActive}, ExpectAgentID: a.ID,
			To: attendance.StateOffered, AgentID: b.ID, OfferDeadline: at(90), At: at(20),
			Message: sysMsg(attendance.EventTransferred, b.ID, at(20)),
		})
		loads(0, 2, "a transfers c1 to b")
		f.transition(attendance.TransitionParams{
			ConversationID: c3.ID, From: []attendance.State{attendance.StateActive}, ExpectAgentID: b.ID,
			To: attendance.StateQueued, QueueID: newID("queue"), At: at(21),
			Message: sysMsg(attendance.EventTransferred, "", at(21)),
		})
		loads(0, 1, "b transfers c3 to a queue")
		f.offer(c4.ID, a.ID)
		loads(1, 1, "offer c4 to a")
		f.transition(attendance.TransitionParams{
			ConversationID: c4.ID, From: []attendance.State{attendance.StateOffered},
			To: attendance.StateAbandoned, At: at(22), Message: sysMsg(attendance.EventAbandoned, "", at(22)),
		})
		loads(0, 1, "c4 abandoned")
		p := acceptParams(c1.ID, b.ID)
		p.OfferValidAt = at(30)
		f.transition(p)
		loads(0, 1, "b accepts c1")
		f.transition(finalizeParams(c1.ID, b.ID))
		loads(0, 0, "b finalizes c1")

		held, err := f.s.ListConversations(f.ctx, attendance.ListConversationsFilter{States: []attendance.State{attendance.StateOffered, attendance.StateActive}})
		require.NoError(t, err)
		require.Empty(t, held)
	})

	s.run(t, "WrongFromIsConflict", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.conversation()
		before := f.snapshot(c.ID, a.ID)
		// Accepting a conversation that is still queued.
		_, _, err := f.s.Transition(f.ctx, acceptParams(c.ID, a.ID))
		require.ErrorIs(t, err, attendance.ErrConflict)
		require.NotErrorIs(t, err, attendance.ErrInvalidTransition)
		f.requireUnchanged(before)

		// Offering one already offered.
		f.offer(c.ID, a.ID)
		before = f.snapshot(c.ID, a.ID)
		_, _, err = f.s.Transition(f.ctx, f.offerParams(c.ID, a.ID))
		require.ErrorIs(t, err, attendance.ErrConflict)
		f.requireUnchanged(before)
	})

	s.run(t, "TerminalIsInvalidTransition", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.activate(f.conversation().ID, a.ID)
		f.transition(finalizeParams(c.ID, a.ID))
		before := f.snapshot(c.ID, a.ID)

		// From does not include the terminal state.
		_, _, err := f.s.Transition(f.ctx, finalizeParams(c.ID, a.ID))
		require.ErrorIs(t, err, attendance.ErrInvalidTransition)
		var te *attendance.TransitionError
		require.ErrorAs(t, err, &te)
		require.Equal(t, attendance.StateFinalized, te.From)
		require.Equal(t, attendance.StateFinalized, te.To)
		f.requireUnchanged(before)

		// From includes it: the table still refuses.
		_, _, err = f.s.Transition(f.ctx, attendance.TransitionParams{
			ConversationID: c.ID,
			From:           []attendance.State{attendance.StateFinalized},
			To:             attendance.StateQueued,
			At:             at(20),
			Message:        sysMsg(attendance.EventTransferred, "", at(20)),
		})
		require.ErrorIs(t, err, attendance.ErrInvalidTransition)
		require.ErrorAs(t, err, &te)
		require.Equal(t, attendance.StateFinalized, te.From)
		require.Equal(t, attendance.StateQueued, te.To)
		f.requireUnchanged(before)

		// Abandoned is terminal too.
		d := f.conversation()
		f.transition(attendance.TransitionParams{
			ConversationID: d.ID, From: []attendance.State{attendance.StateQueued},
			To: attendance.StateAbandoned, At: at(5), Message: sysMsg(attendance.EventAbandoned, "", at(5)),
		})
		before = f.snapshot(d.ID, a.ID)
		_, _, err = f.s.Transition(f.ctx, f.offerParams(d.ID, a.ID))
		require.ErrorIs(t, err, attendance.ErrInvalidTransition)
		require.ErrorAs(t, err, &te)
		require.Equal(t, attendance.StateAbandoned, te.From)
		require.Equal(t, attendance.StateOffered, te.To)
		f.requireUnchanged(before)
	})

	s.run(t, "MoveNotInTable", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.conversation()
		before := f.snapshot(c.ID, a.ID)
		_, _, err := f.s.Transition(f.ctx, attendance.TransitionParams{
			ConversationID: c.ID,
			From:           []attendance.State{attendance.StateQueued},
			To:             attendance.StateFinalized,
			FinalReason:    "resolved",
			At:             at(5),
			Message:        sysMsg(attendance.EventFinalized, "", at(5)),
		})
		require.ErrorIs(t, err, attendance.ErrInvalidTransition)
		var te *attendance.TransitionError
		require.ErrorAs(t, err, &te)
		require.Equal(t, attendance.StateQueued, te.From)
		require.Equal(t, attendance.StateFinalized, te.To)
		f.requireUnchanged(before)
	})

	s.run(t, "ExpectAgentID", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		b := f.onlineAgent(2)
		c := f.conversation()
		f.offer(c.ID, a.ID)
		before := f.snapshot(c.ID, a.ID, b.ID)
		_, _, err := f.s.Transition(f.ctx, acceptParams(c.ID, b.ID))
		require.ErrorIs(t, err, attendance.ErrConflict, "b accepting a's offer")
		f.requireUnchanged(before)
		_, _, err = f.s.Transition(f.ctx, declineParams(c.ID, b.ID))
		require.ErrorIs(t, err, attendance.ErrConflict, "b declining a's offer")
		f.requireUnchanged(before)
	})

	s.run(t, "ExpectVersion", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.conversation()
		before := f.snapshot(c.ID, a.ID)
		for _, v := range []int64{1, 7} {
			p := f.offerParams(c.ID, a.ID)
			p.ExpectVersion = v
			_, _, err := f.s.Transition(f.ctx, p)
			require.ErrorIs(t, err, attendance.ErrConflict, "version %d", v)
			f.requireUnchanged(before)
		}
		p := f.offerParams(c.ID, a.ID)
		p.ExpectVersion = 0 // not checked
		got, _ := f.transition(p)
		require.Equal(t, int64(1), got.Version)
		p = acceptParams(c.ID, a.ID)
		p.ExpectVersion = 1
		got, _ = f.transition(p)
		require.Equal(t, int64(2), got.Version)
	})

	s.run(t, "UnknownIDs", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		_, _, err := f.s.Transition(f.ctx, f.offerParams(newID("conv"), a.ID))
		require.ErrorIs(t, err, attendance.ErrNotFound, "unknown conversation")

		c := f.conversation()
		before := f.snapshot(c.ID, a.ID)
		_, _, err = f.s.Transition(f.ctx, f.offerParams(c.ID, newID("agent")))
		require.ErrorIs(t, err, attendance.ErrNotFound, "unknown agent")
		f.requireUnchanged(before)
	})

	s.run(t, "TargetUnavailable", func(t *testing.T, f *fixture) {
		offline := f.agent(2)
		away := f.onlineAgent(2)
		_, err := f.s.SetPresence(f.ctx, attendance.SetPresenceParams{AgentID: away.ID, Presence: attendance.PresenceAway, At: at(1)})
		require.NoError(t, err)
		c := f.conversation()
		before := f.snapshot(c.ID, offline.ID, away.ID)
		for _, id := range []string{offline.ID, away.ID} {
			_, _, err = f.s.Transition(f.ctx, f.offerParams(c.ID, id))
			require.ErrorIs(t, err, attendance.ErrAgentUnavailable, "offer")
			f.requireUnchanged(before)

			p := f.offerParams(c.ID, id)
			p.To = attendance.StateActive
			p.OfferDeadline = time.Time{}
			_, _, err = f.s.Transition(f.ctx, p)
			require.ErrorIs(t, err, attendance.ErrAgentUnavailable, "auto-accept")
			f.requireUnchanged(before)
		}
	})

	s.run(t, "TargetAtCapacity", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		f.offer(f.conversation().ID, a.ID)
		f.activate(f.conversation().ID, a.ID)
		c := f.conversation()
		before := f.snapshot(c.ID, a.ID)
		_, _, err := f.s.Transition(f.ctx, f.offerParams(c.ID, a.ID))
		require.ErrorIs(t, err, attendance.ErrAgentAtCapacity)
		f.requireUnchanged(before)
		require.Equal(t, 2, before.agents[0].Load)
	})

	s.run(t, "CheckOrder", func(t *testing.T, f *fixture) {
		// When several checks fail, the first in the documented order wins.
		a := f.onlineAgent(1)
		b := f.onlineAgent(1)
		c := f.conversation()
		f.offer(c.ID, a.ID)
		f.offer(f.conversation().ID, b.ID) // b is full

		// From beats ExpectAgentID, ExpectVersion and the deadline.
		p := acceptParams(c.ID, "someone-else")
		p.From = []attendance.State{attendance.StateActive}
		p.ExpectVersion = 9
		p.OfferValidAt = at(3600)
		_, _, err := f.s.Transition(f.ctx, p)
		require.ErrorIs(t, err, attendance.ErrConflict)
		require.NotErrorIs(t, err, attendance.ErrOfferExpired)

		// ExpectVersion beats the deadline.
		p = acceptParams(c.ID, a.ID)
		p.ExpectVersion = 9
		p.OfferValidAt = at(3600)
		_, _, err = f.s.Transition(f.ctx, p)
		require.ErrorIs(t, err, attendance.ErrConflict)
		require.NotErrorIs(t, err, attendance.ErrOfferExpired)

		// The table beats the deadline: offered -> offered is not a move.
		p = attendance.TransitionParams{
			ConversationID: c.ID, From: []attendance.State{attendance.StateOffered}, OfferValidAt: at(3600),
			To: attendance.StateOffered, AgentID: b.ID, OfferDeadline: at(4000), At: at(3600),
			Message: sysMsg(attendance.EventTransferred, b.ID, at(3600)),
		}
		_, _, err = f.s.Transition(f.ctx, p)
		require.ErrorIs(t, err, attendance.ErrInvalidTransition)

		// The deadline beats the target's capacity (b is full).
		p = acceptParams(c.ID, b.ID)
		p.ExpectAgentID = ""
		p.OfferValidAt = at(3600)
		_, _, err = f.s.Transition(f.ctx, p)
		require.ErrorIs(t, err, attendance.ErrOfferExpired)

		// Availability beats capacity.
		_, err = f.s.SetPresence(f.ctx, attendance.SetPresenceParams{AgentID: b.ID, Presence: attendance.PresenceAway, At: at(5)})
		require.NoError(t, err)
		_, _, err = f.s.Transition(f.ctx, f.offerParams(f.conversation().ID, b.ID))
		require.ErrorIs(t, err, attendance.ErrAgentUnavailable)
	})

	s.run(t, "RejectsInvalidParams", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.conversation()
		before := f.snapshot(c.ID, a.ID)
		cases := map[string]func(*attendance.TransitionParams){
			"empty conversation ID":   func(p *attendance.TransitionParams) { p.ConversationID = "" },
			"unknown To":              func(p *attendance.TransitionParams) { p.To = "waiting" },
			"unknown From":            func(p *attendance.TransitionParams) { p.From = []attendance.State{"waiting"} },
			"offered without AgentID": func(p *attendance.TransitionParams) { p.AgentID = "" },
		}
		for name, mod := range cases {
			p := f.offerParams(c.ID, a.ID)
			mod(&p)
			_, _, err := f.s.Transition(f.ctx, p)
			require.ErrorIs(t, err, attendance.ErrInvalidArgument, name)
			f.requireUnchanged(before)
		}
	})

	s.run(t, "VersionAndSeqGrowByOne", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.conversation()
		steps := []attendance.TransitionParams{
			f.offerParams(c.ID, a.ID),
			declineParams(c.ID, a.ID),
			f.offerParams(c.ID, a.ID),
			acceptParams(c.ID, a.ID),
			finalizeParams(c.ID, a.ID),
		}
		for i, p := range steps {
			got, msg := f.transition(p)
			require.Equal(t, int64(i+1), got.Version, "step %d", i)
			require.Equal(t, int64(i+2), got.LastSeq, "step %d", i)
			require.Equal(t, got.LastSeq, msg.Seq, "step %d", i)
			require.Equal(t, p.Message.ID, msg.ID, "step %d", i)
		}
		msgs := f.messages(c.ID)
		require.Equal(t, seqRange(1, 6), seqs(msgs))
		types := []attendance.EventType{
			attendance.EventOpened, attendance.EventOffered, attendance.EventDeclined,
			attendance.EventOffered, attendance.EventAccepted, attendance.EventFinalized,
		}
		for i, m := range msgs {
			require.Equal(t, attendance.KindSystem, m.Kind)
			require.NotNil(t, m.Event)
			require.Equal(t, types[i], m.Event.Type, "message %d", m.Seq)
		}
	})
}
