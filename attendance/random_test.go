package attendance_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// The randomized tests mix every operation, seeded and reproducible
// (MOSIA_SEED=n to replay one seed), and check the engine's invariants:
// sequentially after every step, and concurrently after every round of
// many goroutines.

func seeds(t *testing.T) []uint64 {
	if s := os.Getenv("MOSIA_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		return []uint64{n}
	}
	return []uint64{1, 2, 3}
}

func TestRandomizedSequential(t *testing.T) {
	for _, seed := range seeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			w := newWorld(t, seed, 1)
			rng := rand.New(rand.NewPCG(seed, 99))
			for step := range 2500 {
				w.step(rng)
				w.check(fmt.Sprintf("seed %d step %d", seed, step), step%100 == 0)
			}
		})
	}
}

func TestRandomizedConcurrent(t *testing.T) {
	const goroutines, rounds, perRound = 8, 40, 40 // 12,800 steps per seed
	for _, seed := range seeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			w := newWorld(t, seed, 1)
			for round := range rounds {
				var wg sync.WaitGroup
				for g := range goroutines {
					wg.Add(1)
					go func() {
						defer wg.Done()
						rng := rand.New(rand.NewPCG(seed, uint64(round*goroutines+g)))
						for range perRound {
							w.step(rng)
						}
					}()
				}
				wg.Wait()
				w.check(fmt.Sprintf("seed %d round %d", seed, round), true)
			}
		})
	}
}

// TestRandomizedSeveralEngines runs three engines over one store and one bus,
// operations spread across them.
func TestRandomizedSeveralEngines(t *testing.T) {
	const goroutines, rounds, perRound = 6, 30, 40
	w := newWorld(t, 7, 3)
	for round := range rounds {
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(7, uint64(round*goroutines+g)))
				for range perRound {
					w.step(rng)
				}
			}()
		}
		wg.Wait()
		w.settle()
		w.check(fmt.Sprintf("round %d", round), true)
	}
}

type world struct {
	t       *testing.T
	ctx     context.Context
	clock   *fakeClock
	store   attendance.Store
	engines []*attendance.Engine
	agents  []string
	benefs  []string
	queues  []string
	maxOf   map[string]int

	mu    sync.Mutex
	acked map[string]string // conversation/sender/key -> message ID
	errs  []error
}

func newWorld(t *testing.T, seed uint64, engines int) *world {
	clock := newClock()
	store := newStore()
	bus := attendance.NewLocalBus()
	w := &world{t: t, ctx: context.Background(), clock: clock, store: store, queues: []string{"geral", "financeiro"},
		maxOf: map[string]int{}, acked: map[string]string{}}
	for range engines {
		cfg := testConfig(clock)
		cfg.Bus = bus
		base := cfg.NewID
		n := len(w.engines)
		cfg.NewID = func() string { return fmt.Sprintf("e%d-%s", n, base()) }
		e, err := attendance.New(store, cfg)
		require.NoError(t, err)
		w.engines = append(w.engines, e)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range 6 {
		id := fmt.Sprintf("agent%d", i)
		max := 1 + rng.IntN(3)
		queues := [][]string{{"geral"}, {"financeiro"}, {"geral", "financeiro"}}[rng.IntN(3)]
		p := attendance.Profile{Min: rng.IntN(max + 1), Max: max, Queues: queues, AutoAcceptBelowMin: rng.IntN(3) == 0}
		_, err := w.engines[0].UpsertAgent(w.ctx, attendance.AgentParams{ID: id, Profile: p})
		require.NoError(t, err)
		w.agents = append(w.agents, id)
		w.maxOf[id] = max
	}
	for i := range 20 {
		w.benefs = append(w.benefs, fmt.Sprintf("benef%d", i))
	}
	return w
}

func (w *world) engine(rng *rand.Rand) *attendance.Engine { return w.engines[rng.IntN(len(w.engines))] }

// expected reports whether err is an outcome a racing caller may see.
func expected(err error) bool {
	for _, ok := range []error{attendance.ErrConflict, attendance.ErrForbidden, attendance.ErrInvalidTransition,
		attendance.ErrOfferExpired, attendance.ErrAgentAtCapacity, attendance.ErrAgentUnavailable, attendance.ErrLimit} {
		if errors.Is(err, ok) {
			return true
		}
	}
	return err == nil
}

func (w *world) record(op string, err error) {
	if !expected(err) {
		w.mu.Lock()
		w.errs = append(w.errs, fmt.Errorf("%s: %w", op, err))
		w.mu.Unlock()
	}
}

// pick returns a random conversation of the agent in one of the states.
func (w *world) agentConv(rng *rand.Rand, e *attendance.Engine, agent string, state attendance.State) (attendance.Conversation, bool) {
	cs, err := e.Conversations(w.ctx, agentP(agent), attendance.ConversationsFilter{States: []attendance.State{state}})
	w.record("list agent conversations", err)
	if len(cs) == 0 {
		return attendance.Conversation{}, false
	}
	return cs[rng.IntN(len(cs))], true
}

func (w *world) step(rng *rand.Rand) {
	e := w.engine(rng)
	agent := w.agents[rng.IntN(len(w.agents))]
	benef := w.benefs[rng.IntN(len(w.benefs))]
	switch op := rng.IntN(100); {
	case op < 15:
		subject := []string{"duvida", "urgente", "boleto"}[rng.IntN(3)]
		_, err := e.Open(w.ctx, benefP(benef), attendance.OpenParams{SubjectID: subject})
		w.record("open", err)
	case op < 25:
		presence := []attendance.Presence{attendance.PresenceOnline, attendance.PresenceOnline, attendance.PresenceAway, attendance.PresenceOffline}[rng.IntN(4)]
		_, err := e.SetPresence(w.ctx, agentP(agent), presence)
		w.record("presence", err)
	case op < 40:
		if c, ok := w.agentConv(rng, e, agent, attendance.StateOffered); ok {
			_, err := e.Accept(w.ctx, agentP(agent), c.ID)
			w.record("accept", err)
		}
	case op < 45:
		if c, ok := w.agentConv(rng, e, agent, attendance.StateOffered); ok {
			_, err := e.Decline(w.ctx, agentP(agent), c.ID)
			w.record("decline", err)
		}
	case op < 50:
		w.clock.Advance(time.Duration(rng.IntN(40)) * time.Second)
		_, err := e.ExpireOffers(w.ctx)
		w.record("expire", err)
	case op < 55:
		if c, ok := w.agentConv(rng, e, agent, attendance.StateActive); ok {
			p := attendance.TransferParams{ConversationID: c.ID, Note: "transferindo"}
			if rng.IntN(2) == 0 {
				p.QueueID = w.queues[rng.IntN(len(w.queues))]
			} else {
				p.AgentID = w.agents[rng.IntN(len(w.agents))]
			}
			_, err := e.Transfer(w.ctx, agentP(agent), p)
			if errors.Is(err, attendance.ErrInvalidArgument) && p.AgentID == agent {
				err = nil // transfer to oneself is refused, as it should be
			}
			w.record("transfer", err)
		}
	case op < 65:
		if c, ok := w.agentConv(rng, e, agent, attendance.StateActive); ok {
			_, err := e.Finalize(w.ctx, agentP(agent), attendance.FinalizeParams{ConversationID: c.ID, Reason: "resolvido"})
			w.record("finalize", err)
		}
	case op < 70:
		cs, err := e.Conversations(w.ctx, benefP(benef), attendance.ConversationsFilter{States: []attendance.State{attendance.StateQueued, attendance.StateOffered}})
		w.record("list beneficiary conversations", err)
		if len(cs) > 0 {
			_, err := e.Leave(w.ctx, benefP(benef), cs[rng.IntN(len(cs))].ID)
			w.record("leave", err)
		}
	default:
		w.send(rng, e, agent, benef)
	}
}

// send writes from a random side, sometimes retrying with the same key, and
// remembers what was acknowledged.
func (w *world) send(rng *rand.Rand, e *attendance.Engine, agent, benef string) {
	var p attendance.Principal
	var c attendance.Conversation
	if rng.IntN(2) == 0 {
		cs, err := e.Conversations(w.ctx, benefP(benef), attendance.ConversationsFilter{States: []attendance.State{attendance.StateQueued, attendance.StateOffered, attendance.StateActive}})
		w.record("list", err)
		if len(cs) == 0 {
			return
		}
		p, c = benefP(benef), cs[rng.IntN(len(cs))]
	} else {
		var ok bool
		if c, ok = w.agentConv(rng, e, agent, attendance.StateActive); !ok {
			return
		}
		p = agentP(agent)
	}
	key := fmt.Sprintf("k%d", rng.IntN(1000000))
	for range 1 + rng.IntN(2) {
		m, err := e.Send(w.ctx, p, attendance.SendParams{ConversationID: c.ID, Body: "mensagem " + key, IdempotencyKey: key})
		w.record("send", err)
		if err != nil {
			return
		}
		id := c.ID + "/" + p.ID + "/" + key
		w.mu.Lock()
		if first, ok := w.acked[id]; ok && first != m.ID {
			w.errs = append(w.errs, fmt.Errorf("retried send %s returned %s, first was %s", id, m.ID, first))
		}
		w.acked[id] = m.ID
		w.mu.Unlock()
	}
}

// settle lets every engine apply the others' changes and route, as the
// periodic sweep would.
func (w *world) settle() {
	for range 2 {
		for _, e := range w.engines {
			_, err := e.ExpireOffers(w.ctx)
			require.NoError(w.t, err)
		}
	}
}

// check verifies the invariants against the store; the message log (the
// costly part) only when messages is true.
func (w *world) check(where string, messages bool) {
	t := w.t
	t.Helper()
	w.mu.Lock()
	errs := w.errs
	w.mu.Unlock()
	require.Empty(t, errs, "%s: unexpected errors", where)

	agents, err := w.store.ListAgents(w.ctx, attendance.ListAgentsFilter{})
	require.NoError(t, err)
	convs, err := w.store.ListConversations(w.ctx, attendance.ListConversationsFilter{})
	require.NoError(t, err)

	held := map[string]int{}
	waiting := map[string]int{}
	for _, c := range convs {
		require.True(t, c.State.Valid(), "%s: conversation %s in state %q", where, c.ID, c.State)
		require.Equal(t, c.State.HoldsAgent(), c.AgentID != "", "%s: %s is %s with owner %q", where, c.ID, c.State, c.AgentID)
		require.Equal(t, c.State == attendance.StateOffered, !c.OfferDeadline.IsZero(), "%s: %s deadline", where, c.ID)
		if c.AgentID != "" {
			held[c.AgentID]++
		}
		if c.State == attendance.StateQueued {
			waiting[c.QueueID]++
		}
	}
	for _, c := range convs {
		if c.State != attendance.StateQueued {
			continue
		}
		for i, e := range w.engines {
			st, err := e.QueueStatus(w.ctx, attendance.SystemPrincipal, c.ID)
			require.NoError(t, err)
			require.Positive(t, st.Position, "%s: queued %s is missing from engine %d's index", where, c.ID, i)
		}
	}
	for _, a := range agents {
		require.LessOrEqual(t, a.Load, w.maxOf[a.ID], "%s: agent %s above Max", where, a.ID)
		require.Equal(t, held[a.ID], a.Load, "%s: agent %s load is not its offered+active count", where, a.ID)
		if a.Presence == attendance.PresenceOnline && a.Load < a.Profile.Max {
			for _, q := range a.Profile.Queues {
				require.Zero(t, waiting[q], "%s: %d waiting in %s while %s has room", where, waiting[q], q, a.ID)
			}
		}
	}

	if !messages {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]string{}
	for _, c := range convs {
		ms, err := w.store.ListMessages(w.ctx, attendance.ListMessagesFilter{ConversationID: c.ID})
		require.NoError(t, err)
		require.Len(t, ms, int(c.LastSeq), "%s: %s message count", where, c.ID)
		for i, m := range ms {
			require.Equal(t, int64(i+1), m.Seq, "%s: %s sequence gap or duplicate", where, c.ID)
			if m.IdempotencyKey != "" {
				id := c.ID + "/" + m.Sender.ID + "/" + m.IdempotencyKey
				_, dup := seen[id]
				require.False(t, dup, "%s: %s stored twice", where, id)
				seen[id] = m.ID
			}
		}
	}
	for id, msgID := range w.acked {
		require.Equal(t, msgID, seen[id], "%s: acknowledged message %s lost", where, id)
	}
}
