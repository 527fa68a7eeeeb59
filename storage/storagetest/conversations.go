package storagetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// conversations covers CreateConversation, GetConversation and
// ListConversations.
func (s suite) conversations(t *testing.T) {
	s.run(t, "CreateAndGet", func(t *testing.T, f *fixture) {
		c := f.newConversation(func(c *attendance.Conversation) {
			c.Priority = 7
			c.ArrivedAt = at(-30)
			c.CreatedAt = at(-30)
			c.UpdatedAt = at(-30)
			c.Channel = "whatsapp"
		})
		opened := openedMessage(c)
		opened.ConversationID = "ignored-the-store-sets-it"
		opened.Seq = 42
		gotConv, gotMsg, err := f.s.CreateConversation(f.ctx, attendance.CreateConversationParams{Conversation: c, Opened: opened})
		require.NoError(t, err)

		want := c
		want.LastSeq = 1
		requireConversation(t, want, gotConv)
		requireConversation(t, want, f.get(c.ID))

		wantMsg := opened
		wantMsg.ConversationID = c.ID
		wantMsg.Seq = 1
		wantMsg.Kind = attendance.KindSystem
		requireMessage(t, wantMsg, gotMsg)
		msgs := f.messages(c.ID)
		require.Len(t, msgs, 1)
		requireMessage(t, wantMsg, msgs[0])
	})

	s.run(t, "CreateDuplicateID", func(t *testing.T, f *fixture) {
		c := f.conversation()
		before := f.snapshot(c.ID)
		dup := f.newConversation(func(d *attendance.Conversation) { d.ID = c.ID; d.Priority = 9 })
		_, _, err := f.s.CreateConversation(f.ctx, attendance.CreateConversationParams{Conversation: dup, Opened: openedMessage(dup)})
		require.ErrorIs(t, err, attendance.ErrConflict)
		f.requireUnchanged(before)
	})

	s.run(t, "CreateKeepsMaxOpen", func(t *testing.T, f *fixture) {
		ben := newID("ben")
		create := func(maxOpen int) (attendance.Conversation, error) {
			c := f.newConversation(func(c *attendance.Conversation) { c.BeneficiaryID = ben })
			got, _, err := f.s.CreateConversation(f.ctx, attendance.CreateConversationParams{Conversation: c, Opened: openedMessage(c), MaxOpen: maxOpen})
			return got, err
		}
		first, err := create(2)
		require.NoError(t, err)
		_, err = create(2)
		require.NoError(t, err)
		_, err = create(2)
		require.ErrorIs(t, err, attendance.ErrLimit, "a third open conversation")
		_, err = create(0)
		require.NoError(t, err, "no limit")

		// A finished conversation no longer counts.
		a := f.onlineAgent(1)
		f.activate(first.ID, a.ID)
		f.transition(finalizeParams(first.ID, a.ID))
		_, err = create(3)
		require.NoError(t, err)
		cs, err := f.s.ListConversations(f.ctx, attendance.ListConversationsFilter{BeneficiaryID: ben})
		require.NoError(t, err)
		require.Len(t, cs, 4, "the refused creation stored nothing")

		// A duplicate ID at the limit is still ErrConflict (a same-key Open
		// racing the first one reads it back), and stores nothing.
		full := newID("ben")
		dupAtLimit := f.newConversation(func(c *attendance.Conversation) { c.BeneficiaryID = full })
		_, _, err = f.s.CreateConversation(f.ctx, attendance.CreateConversationParams{Conversation: dupAtLimit, Opened: openedMessage(dupAtLimit), MaxOpen: 1})
		require.NoError(t, err)
		_, _, err = f.s.CreateConversation(f.ctx, attendance.CreateConversationParams{Conversation: dupAtLimit, Opened: openedMessage(dupAtLimit), MaxOpen: 1})
		require.ErrorIs(t, err, attendance.ErrConflict, "a duplicate ID at the limit")
		require.NotErrorIs(t, err, attendance.ErrLimit)

		// Concurrent creations for one beneficiary pass the limit together
		// never: exactly MaxOpen of them win.
		other := newID("ben")
		var wg sync.WaitGroup
		var won, limited atomic.Int32
		for range 16 {
			wg.Go(func() {
				c := f.newConversation(func(c *attendance.Conversation) { c.BeneficiaryID = other })
				_, _, err := f.s.CreateConversation(f.ctx, attendance.CreateConversationParams{Conversation: c, Opened: openedMessage(c), MaxOpen: 3})
				switch {
				case err == nil:
					won.Add(1)
				case errors.Is(err, attendance.ErrLimit):
					limited.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, int32(3), won.Load())
		require.Equal(t, int32(13), limited.Load())
	})

	s.run(t, "CreateRejectsInvalid", func(t *testing.T, f *fixture) {
		cases := map[string]func(*attendance.Conversation, *attendance.Message){
			"empty ID":             func(c *attendance.Conversation, _ *attendance.Message) { c.ID = "" },
			"empty BeneficiaryID":  func(c *attendance.Conversation, _ *attendance.Message) { c.BeneficiaryID = "" },
			"empty QueueID":        func(c *attendance.Conversation, _ *attendance.Message) { c.QueueID = "" },
			"not queued":           func(c *attendance.Conversation, _ *attendance.Message) { c.State = attendance.StateActive },
			"unknown state":        func(c *attendance.Conversation, _ *attendance.Message) { c.State = "waiting" },
			"non-zero Version":     func(c *attendance.Conversation, _ *attendance.Message) { c.Version = 3 },
			"empty opened message": func(_ *attendance.Conversation, m *attendance.Message) { m.ID = "" },
		}
		for name, mod := range cases {
			c := f.newConversation()
			m := openedMessage(c)
			id := c.ID
			mod(&c, &m)
			_, _, err := f.s.CreateConversation(f.ctx, attendance.CreateConversationParams{Conversation: c, Opened: m})
			require.ErrorIs(t, err, attendance.ErrInvalidArgument, name)
			_, err = f.s.GetConversation(f.ctx, id)
			require.ErrorIs(t, err, attendance.ErrNotFound, "%s: a rejected conversation must not be stored", name)
		}
	})

	s.run(t, "GetUnknown", func(t *testing.T, f *fixture) {
		_, err := f.s.GetConversation(f.ctx, newID("conv"))
		require.ErrorIs(t, err, attendance.ErrNotFound)
	})

	s.run(t, "ListOrder", func(t *testing.T, f *fixture) {
		prefix := newID("conv")
		mk := func(suffix string, priority, arrived int) attendance.Conversation {
			return f.conversation(func(c *attendance.Conversation) {
				c.ID = prefix + suffix
				c.Priority = priority
				c.ArrivedAt = at(arrived)
			})
		}
		// Created in scrambled order. Expected: priority desc, ArrivedAt
		// asc, ID asc.
		lowOld := mk("-e", 0, -100)
		midLate := mk("-d", 1, 20)
		tieB := mk("-b", 1, 10)
		high := mk("-z", 5, 50)
		tieA := mk("-a", 1, 10)
		midMicro := mk("-y", 1, 0)
		// One microsecond later than midMicro: order must see microseconds.
		midMicroLater := f.conversation(func(c *attendance.Conversation) {
			c.ID = prefix + "-x"
			c.Priority = 1
			c.ArrivedAt = at(0).Add(time.Microsecond)
		})
		negative := mk("-f", -1, -200)

		got, err := f.s.ListConversations(f.ctx, attendance.ListConversationsFilter{})
		require.NoError(t, err)
		require.Equal(t, []string{
			high.ID, midMicro.ID, midMicroLater.ID, tieA.ID, tieB.ID, midLate.ID, lowOld.ID, negative.ID,
		}, conversationIDs(got))
		requireConversation(t, high, got[0])
	})

	s.run(t, "ListEmpty", func(t *testing.T, f *fixture) {
		got, err := f.s.ListConversations(f.ctx, attendance.ListConversationsFilter{})
		require.NoError(t, err)
		require.Empty(t, got)
	})

	s.run(t, "ListFilters", func(t *testing.T, f *fixture) {
		otherQueue := newID("queue")
		a := f.onlineAgent(5)
		b := f.onlineAgent(5)
		ben := newID("ben")

		q1 := f.conversation(func(c *attendance.Conversation) { c.ArrivedAt = at(1); c.BeneficiaryID = ben })
		q2 := f.conversation(func(c *attendance.Conversation) { c.ArrivedAt = at(2); c.QueueID = otherQueue })
		offA := f.conversation(func(c *attendance.Conversation) { c.ArrivedAt = at(3) })
		offB := f.conversation(func(c *attendance.Conversation) { c.ArrivedAt = at(4); c.BeneficiaryID = ben })
		actA := f.conversation(func(c *attendance.Conversation) { c.ArrivedAt = at(5) })
		fin := f.conversation(func(c *attendance.Conversation) { c.ArrivedAt = at(6); c.BeneficiaryID = ben })

		// offA's deadline is base+30s, offB's base+40s.
		f.offer(offA.ID, a.ID)
		p := f.offerParams(offB.ID, b.ID)
		p.OfferDeadline = at(40)
		f.transition(p)
		f.activate(actA.ID, a.ID)
		f.activate(fin.ID, b.ID)
		f.transition(finalizeParams(fin.ID, b.ID))

		list := func(filter attendance.ListConversationsFilter) []string {
			t.Helper()
			got, err := f.s.ListConversations(f.ctx, filter)
			require.NoError(t, err)
			return conversationIDs(got)
		}
		all := []string{q1.ID, q2.ID, offA.ID, offB.ID, actA.ID, fin.ID}
		require.Equal(t, all, list(attendance.ListConversationsFilter{}))

		st := func(states ...attendance.State) attendance.ListConversationsFilter {
			return attendance.ListConversationsFilter{States: states}
		}
		require.Equal(t, []string{q1.ID, q2.ID}, list(st(attendance.StateQueued)))
		require.Equal(t, []string{offA.ID, offB.ID}, list(st(attendance.StateOffered)))
		require.Equal(t, []string{offA.ID, offB.ID, actA.ID}, list(st(attendance.StateOffered, attendance.StateActive)))
		require.Equal(t, []string{fin.ID}, list(st(attendance.StateFinalized)))
		require.Empty(t, list(st(attendance.StateAbandoned)))

		require.Equal(t, []string{q2.ID}, list(attendance.ListConversationsFilter{QueueID: otherQueue}))
		require.Equal(t, []string{q1.ID, offA.ID, offB.ID, actA.ID, fin.ID}, list(attendance.ListConversationsFilter{QueueID: f.queue}))
		require.Equal(t, []string{q1.ID}, list(attendance.ListConversationsFilter{QueueID: f.queue, States: []attendance.State{attendance.StateQueued}}))

		require.Equal(t, []string{offA.ID, actA.ID}, list(attendance.ListConversationsFilter{AgentID: a.ID}))
		require.Equal(t, []string{offB.ID}, list(attendance.ListConversationsFilter{AgentID: b.ID}), "a finalized conversation has no agent")
		require.Equal(t, []string{actA.ID}, list(attendance.ListConversationsFilter{AgentID: a.ID, States: []attendance.State{attendance.StateActive}}))

		require.Equal(t, []string{q1.ID, offB.ID, fin.ID}, list(attendance.ListConversationsFilter{BeneficiaryID: ben}))
		require.Equal(t, []string{q1.ID, offB.ID}, list(attendance.ListConversationsFilter{BeneficiaryID: ben, States: openStates}))

		expired := func(t time.Time) attendance.ListConversationsFilter {
			return attendance.ListConversationsFilter{OfferExpiredAt: t}
		}
		require.Empty(t, list(expired(at(30).Add(-time.Microsecond))), "no deadline passed yet")
		require.Equal(t, []string{offA.ID}, list(expired(at(30))), "a deadline equal to the time is due")
		require.Equal(t, []string{offA.ID}, list(expired(at(39))))
		require.Equal(t, []string{offA.ID, offB.ID}, list(expired(at(40))))
		require.Equal(t, []string{offA.ID, offB.ID}, list(expired(at(3600))), "only offered conversations")
		require.Equal(t, []string{offB.ID}, list(attendance.ListConversationsFilter{OfferExpiredAt: at(3600), AgentID: b.ID}))

		require.Equal(t, all[:2], list(attendance.ListConversationsFilter{Limit: 2}))
		require.Equal(t, all, list(attendance.ListConversationsFilter{Limit: 100}))
		require.Equal(t, []string{offA.ID}, list(attendance.ListConversationsFilter{States: []attendance.State{attendance.StateOffered}, Limit: 1}))

		require.Empty(t, list(attendance.ListConversationsFilter{QueueID: newID("queue")}))
		require.Empty(t, list(attendance.ListConversationsFilter{AgentID: newID("agent")}))
		require.Empty(t, list(attendance.ListConversationsFilter{BeneficiaryID: newID("ben")}))
	})

	s.run(t, "ListRejectsInvalid", func(t *testing.T, f *fixture) {
		f.conversation()
		_, err := f.s.ListConversations(f.ctx, attendance.ListConversationsFilter{States: []attendance.State{"waiting"}})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument, "unknown state")
		_, err = f.s.ListConversations(f.ctx, attendance.ListConversationsFilter{Limit: -1})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument, "negative Limit")
	})
}
