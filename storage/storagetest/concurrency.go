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
		// For each of 8 offers, 32 goroutines race to resolve it: accept in
		// time, accept too late, expire, decline. All 256 run at once;
		// exactly one per offer wins.
		const offers, n = 8, 32
		agents := make([]string, offers)
		convs := make([]string, offers)
		params := make([]attendance.TransitionParams, offers*n)
		for o := range offers {
			agents[o] = f.onlineAgent(1).ID
			convs[o] = f.conversation().ID
			f.offer(convs[o], agents[o])
			for i := range n {
				var p attendance.TransitionParams
				switch i % 4 {
				case 0:
					p = acceptParams(convs[o], agents[o])
				case 1:
					p = acceptParams(convs[o], agents[o])
					p.OfferValidAt = at(3600)
				case 2:
					p = expireParams(convs[o], agents[o])
				case 3:
					p = declineParams(convs[o], agents[o])
				}
				params[o*n+i] = p
			}
		}
		results := make([]attendance.Conversation, offers*n)
		errs := race(offers*n, func(i int) error {
			var err error
			results[i], _, err = f.s.Transition(f.ctx, params[i])
			return err
		})

		for o := range offers {
			winner := -1
			for i := range n {
				err := errs[o*n+i]
				if err == nil {
					require.Equal(t, -1, winner, "offer %d: goroutines %d and %d both won", o, winner, i)
					winner = i
					continue
				}
				if !errors.Is(err, attendance.ErrConflict) && !errors.Is(err, attendance.ErrOfferExpired) {
					require.Failf(t, "unexpected error", "offer %d, goroutine %d: %v", o, i, err)
				}
				if i%4 != 1 {
					require.NotErrorIs(t, err, attendance.ErrOfferExpired, "offer %d: goroutine %d was in time", o, i)
				}
			}
			require.NotEqual(t, -1, winner, "offer %d: nobody won", o)
			require.NotEqual(t, 1, winner%4, "offer %d: a late accept won", o)

			got := f.get(convs[o])
			requireConversation(t, results[o*n+winner], got)
			require.Equal(t, int64(2), got.Version, "offer %d: exactly one transition after the offer", o)
			require.Equal(t, int64(3), got.LastSeq, "offer %d", o)
			require.Len(t, f.messages(convs[o]), 3, "offer %d", o)
			if winner%4 == 0 {
				require.Equal(t, attendance.StateActive, got.State, "offer %d", o)
				require.Equal(t, 1, f.load(agents[o]), "offer %d", o)
			} else {
				require.Equal(t, attendance.StateQueued, got.State, "offer %d", o)
				require.Equal(t, 0, f.load(agents[o]), "offer %d", o)
			}
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
				got, _, created, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: m, States: openStates})
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
		// 8 sends, each retried by 32 goroutines at once: each is stored
		// once, and every retry gets that one message.
		const keys, n = 8, 32
		c := f.conversation()
		ben := attendance.BeneficiaryPrincipal(c.BeneficiaryID)
		// Each retry carries its own message ID, as a fresh attempt would.
		tries := make([]attendance.Message, keys*n)
		for i := range tries {
			tries[i] = f.text(c.ID, ben, "olá", fmt.Sprintf("retry-%d", i/n))
		}
		got := make([]attendance.Message, keys*n)
		created := make([]bool, keys*n)
		errs := race(keys*n, func(i int) error {
			var err error
			got[i], _, created[i], err = f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: tries[i], States: openStates})
			return err
		})
		for i, err := range errs {
			require.NoError(t, err, "retry %d", i)
		}
		seen := map[int64]bool{}
		for k := range keys {
			winners := 0
			first := got[k*n]
			for i := k * n; i < (k+1)*n; i++ {
				if created[i] {
					winners++
					require.Equal(t, tries[i].ID, got[i].ID, "the created message is the winner's")
				}
				requireMessage(t, first, got[i])
			}
			require.Equal(t, 1, winners, "key %d: exactly one retry creates the message", k)
			require.False(t, seen[first.Seq], "key %d: seq %d reused", k, first.Seq)
			seen[first.Seq] = true
		}
		require.Equal(t, seqRange(1, 1+keys), seqs(f.messages(c.ID)))
		require.Equal(t, int64(1+keys), f.get(c.ID).LastSeq)
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
				if _, _, _, err := f.s.AppendMessage(f.ctx, attendance.AppendMessageParams{Message: m, States: openStates}); err != nil {
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
