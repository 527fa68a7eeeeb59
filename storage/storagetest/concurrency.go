package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// race runs fn(0) ... fn(n-1) in n goroutines released at once and returns
// their errors by index. fn must not touch the test's t.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// concurrency covers the races that must have exactly one outcome: capacity
// under concurrent offers, one winner per offer, gap-free Seqs and
// idempotent retries.
func (s suite) concurrency(t *testing.T) {
	s.run(t, "OffersNeverPassMax", func(t *testing.T, f *fixture) {
		const n, maxLoad = 64, 3
		a := f.onlineAgent(maxLoad)
		convs := make([]attendance.Conversation, n)
		for i := range convs {
			convs[i] = f.conversation()
		}
		params := make([]attendance.TransitionParams, n)
		for i, c := range convs {
			params[i] = f.offerParams(c.ID, a.ID)
		}

		errs := race(n, func(i int) error {
			_, _, err := f.s.Transition(f.ctx, params[i])
			return err
		})
		won := 0
		for i, err := range errs {
			if err == nil {
				won++
				continue
			}
			require.ErrorIs(t, err, attendance.ErrAgentAtCapacity, "goroutine %d", i)
		}
		require.Equal(t, maxLoad, won, "exactly Max offers succeed")
		require.Equal(t, maxLoad, f.load(a.ID))

		held, err := f.s.ListConversations(f.ctx, attendance.ListConversationsFilter{AgentID: a.ID})
		require.NoError(t, err)
		require.Len(t, held, maxLoad)
		queued, err := f.s.ListConversations(f.ctx, attendance.ListConversationsFilter{States: []attendance.State{attendance.StateQueued}})
		require.NoError(t, err)
		require.Len(t, queued, n-maxLoad, "the losers stay queued")
		for _, c := range queued {
			require.Equal(t, int64(1), c.LastSeq, "a lost offer appends nothing")
		}
	})

	s.run(t, "ManyAgentsNeverPassMax", func(t *testing.T, f *fixture) {
		// 48 conversations, each trying 4 agents of Max 2 in its own
		// order until one takes it: exactly 8 are placed, 2 per agent.
		const n, agents, maxLoad = 48, 4, 2
		ids := make([]string, agents)
		for i := range ids {
			ids[i] = f.onlineAgent(maxLoad).ID
		}
		convs := make([]attendance.Conversation, n)
		for i := range convs {
			convs[i] = f.conversation()
		}
		params := make([][]attendance.TransitionParams, n)
		for i, c := range convs {
			for k := range agents {
				params[i] = append(params[i], f.offerParams(c.ID, ids[(i+k)%agents]))
			}
		}

		placed := make([]bool, n)
		errs := race(n, func(i int) error {
			for _, p := range params[i] {
				_, _, err := f.s.Transition(f.ctx, p)
				if err == nil {
					placed[i] = true
					return nil
				}
				if !errors.Is(err, attendance.ErrAgentAtCapacity) {
					return fmt.Errorf("offer to %s: %w", p.AgentID, err)
				}
			}
			return nil
		})
		for i, err := range errs {
			require.NoError(t, err, "goroutine %d", i)
		}
		count := 0
		for _, ok := range placed {
			if ok {
				count++
			}
		}
		require.Equal(t, agents*maxLoad, count)
		for _, id := range ids {
			require.Equal(t, maxLoad, f.load(id), "agent %s", id)
			held, err := f.s.ListConversations(f.ctx, attendance.ListConversationsFilter{AgentID: id})
			require.NoError(t, err)
			require.Len(t, held, maxLoad, "agent %s", id)
		}
	})

	s.run(t, "OneWinnerPerOffer", func(t *testing.T, f *fixture) {
		// 32 goroutines race to resolve one offer: accept in time, accept
		// too late, expire, decline. Exactly one wins.
		const n = 32
		a := f.onlineAgent(1)
		c := f.conversation()
		f.offer(c.ID, a.ID)

		params := make([]attendance.TransitionParams, n)
		for i := range params {
			switch i % 4 {
			case 0:
				params[i] = acceptParams(c.ID, a.ID)
			case 1:
				late := acceptParams(c.ID, a.ID)
				late.OfferValidAt = at(3600)
				params[i] = late
			case 2:
				params[i] = expireParams(c.ID, a.ID)
			case 3:
				params[i] = declineParams(c.ID, a.ID)
			}
		}
		results := make([]attendance.Conversation, n)
		errs := race(n, func(i int) error {
			var err error
			results[i], _, err = f.s.Transition(f.ctx, params[i])
			return err
		})

		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, winner, "goroutines %d and %d both won", winner, i)
				winner = i
				continue
			}
			if !errors.Is(err, attendance.ErrConflict) && !errors.Is(err, attendance.ErrOfferExpired) {
				require.Failf(t, "unexpected error", "goroutine %d: %v", i, err)
			}
			if i%4 != 1 {
				require.NotErrorIs(t, err, attendance.ErrOfferExpired, "goroutine %d was in time", i)
			}
		}
		require.NotEqual(t, -1, winner, "nobody won")
		require.NotEqual(t, 1, winner%4, "a late accept won")

		got := f.get(c.ID)
		requireConversation(t, results[winner], got)
		require.Equal(t, int64(2), got.Version, "exactly one transition after the offer")
		require.Equal(t, int64(3), got.LastSeq)
		require.Len(t, f.messages(c.ID), 3)
		if winner%4 == 0 {
			require.Equal(t, attendance.StateActive, got.State)
			require.Equal(t, 1, f.load(a.ID))
		} else {
			require.Equal(t, attendance.StateQueued, got.State)
			require.Equal(t, 0, f.load(a.ID))
		}
	})

	s.run(t, "ConcurrentAppendsHaveNoGaps", func(t *testing.T, f *fixture) {
		const writers, each = 64, 50
		c := f.conversation()
		senders := make([]attendance.Principal, writers)
		for i := range senders {
			senders[i] = attendance.Principal{Role: attendance.RoleAgent, ID: fmt.Sprintf("writer-%d", i)}
		}
		msgs := make([][]attendance.Message, writers)
		for i := range msgs {
			for j := range each {
				msgs[i] = append(msgs[i], f.text(c.ID, senders[i], fmt.Sprintf("%d/%d", i, j), ""))
			}
		}
		gotSeqs := make([][]int64, writers)
		errs := race(writers, func(i int) error {
			for _, m := range msgs[i] {
				got, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: m, States: openStates})
				if err != nil {
					return err
				}
				if !created {
					return fmt.Errorf("message %s not created", m.ID)
				}
				gotSeqs[i] = append(gotSeqs[i], got.Seq)
			}
			return nil
		})
		for i, err := range errs {
			require.NoError(t, err, "writer %d", i)
		}

		const total = 1 + writers*each
		seen := make(map[int64]bool, total)
		for i := range gotSeqs {
			for j, seq := range gotSeqs[i] {
				require.False(t, seen[seq], "seq %d returned twice", seq)
				seen[seq] = true
				if j > 0 {
					require.Greater(t, seq, gotSeqs[i][j-1], "one writer's seqs grow")
				}
			}
		}
		require.Equal(t, int64(total), f.get(c.ID).LastSeq)
		all := f.messages(c.ID)
		require.Equal(t, seqRange(1, total), seqs(all))
		byID := make(map[string]int64, total)
		for _, m := range all {
			byID[m.ID] = m.Seq
		}
		for i := range msgs {
			for j, m := range msgs[i] {
				require.Equal(t, gotSeqs[i][j], byID[m.ID], "message %s", m.ID)
			}
		}
	})

	s.run(t, "ConcurrentRetriesAppendOnce", func(t *testing.T, f *fixture) {
		const n = 32
		c := f.conversation()
		ben := attendance.BeneficiaryPrincipal(c.BeneficiaryID)
		// Each retry carries its own message ID, as a fresh attempt would.
		tries := make([]attendance.Message, n)
		for i := range tries {
			tries[i] = f.text(c.ID, ben, "olá", "retry-key")
		}
		got := make([]attendance.Message, n)
		created := make([]bool, n)
		errs := race(n, func(i int) error {
			var err error
			got[i], created[i], err = f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: tries[i], States: openStates})
			return err
		})
		winners := 0
		for i, err := range errs {
			require.NoError(t, err, "retry %d", i)
			if created[i] {
				winners++
			}
		}
		require.Equal(t, 1, winners, "exactly one retry creates the message")
		for i := range got {
			requireMessage(t, got[0], got[i])
		}
		require.Equal(t, int64(2), got[0].Seq)
		require.Len(t, f.messages(c.ID), 2)
		require.Equal(t, int64(2), f.get(c.ID).LastSeq)
	})

	s.run(t, "AppendsAndTransitionsShareSeqs", func(t *testing.T, f *fixture) {
		// Writers append while one goroutine moves the conversation back and
		// forth between a queue and an agent: Seqs stay gap-free.
		const writers, each, moves = 16, 20, 10
		a := f.onlineAgent(1)
		c := f.activate(f.conversation().ID, a.ID)
		ben := attendance.BeneficiaryPrincipal(c.BeneficiaryID)
		msgs := make([][]attendance.Message, writers)
		for i := range msgs {
			for range each {
				msgs[i] = append(msgs[i], f.text(c.ID, ben, "x", ""))
			}
		}
		steps := make([]attendance.TransitionParams, moves)
		for i := range steps {
			if i%2 == 0 {
				steps[i] = attendance.TransitionParams{
					ConversationID: c.ID, From: []attendance.State{attendance.StateActive}, ExpectAgentID: a.ID,
					To: attendance.StateQueued, At: at(100 + i), Message: sysMsg(attendance.EventTransferred, "", at(100+i)),
				}
			} else {
				steps[i] = attendance.TransitionParams{
					ConversationID: c.ID, From: []attendance.State{attendance.StateQueued},
					To: attendance.StateActive, AgentID: a.ID, At: at(100 + i), Message: sysMsg(attendance.EventAutoAccepted, a.ID, at(100+i)),
				}
			}
		}
		errs := race(writers+1, func(i int) error {
			if i == writers {
				for _, p := range steps {
					if _, _, err := f.s.Transition(f.ctx, p); err != nil {
						return err
					}
				}
				return nil
			}
			for _, m := range msgs[i] {
				if _, _, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: m, States: openStates}); err != nil {
					return err
				}
			}
			return nil
		})
		for i, err := range errs {
			require.NoError(t, err, "goroutine %d", i)
		}
		const total = 3 + writers*each + moves // opened, offer, accept
		got := f.get(c.ID)
		require.Equal(t, int64(total), got.LastSeq)
		require.Equal(t, int64(2+moves), got.Version)
		require.Equal(t, attendance.StateActive, got.State)
		require.Equal(t, 1, f.load(a.ID))
		require.Equal(t, seqRange(1, total), seqs(f.messages(c.ID)))
	})
}
