package storagetest

// RunEngines runs several engines, each on its own Store, on one database,
// and checks the engine invariants in the rows. It is for the backends
// whose Stores share a database (storage/sqlite, storage/postgres).

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// Clock is a shared, settable clock for engines under test; each reading
// is one microsecond after the previous one so that events get distinct
// times. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock whose first reading is one microsecond after
// start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the next reading.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Microsecond)
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// EngineConfig is the configuration RunEngines and RunCrash give their
// engines, a small contact center: two queues ("geral", "financeiro"),
// three subjects ("duvida", "urgente" with priority 10, "boleto"), two
// finalize reasons and a 30s offer timeout, with the given clock and bus
// (nil for none).
func EngineConfig(now func() time.Time, bus attendance.Bus) *attendance.Config {
	return &attendance.Config{
		Queues: []attendance.Queue{{ID: "geral", Name: "Geral"}, {ID: "financeiro", Name: "Financeiro"}},
		Subjects: []attendance.Subject{
			{ID: "duvida", Name: "Dúvida", QueueID: "geral"},
			{ID: "urgente", Name: "Urgente", QueueID: "geral", Priority: 10},
			{ID: "boleto", Name: "Boleto", QueueID: "financeiro"},
		},
		FinalizeReasons:     []attendance.FinalizeReason{{ID: "resolvido", Label: "Resolvido"}, {ID: "sem_resposta", Label: "Sem resposta"}},
		DefaultOfferTimeout: 30 * time.Second,
		Now:                 now,
		Bus:                 bus,
	}
}

// Cluster is several engines, each on its own Store over one database (or
// one Store shared by all), driven by random operations. RunEngines uses it
// for the SQL backends; the engine's own randomized tests use it on the
// memory store.
type Cluster struct {
	t       *testing.T
	ctx     context.Context
	clock   *Clock
	stores  []attendance.Store
	engines []*attendance.Engine
	agents  []string
	maxOf   map[string]int
	benefs  []string

	mu       sync.Mutex
	acked    map[string]string // conversation/sender/key -> message ID
	expired  int               // offers ExpireOffers reported expired
	failures []error
}

// NewCluster opens n Stores with open and puts an engine on each; seed
// decides the agents' profiles. The engines share a LocalBus, standing in
// for the bus of a real deployment: it only rings the doorbell, the database
// decides.
func NewCluster(t *testing.T, n int, seed uint64, open func(t *testing.T) attendance.Store) *Cluster {
	c := &Cluster{
		t: t, ctx: t.Context(), maxOf: map[string]int{}, acked: map[string]string{},
		clock: NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)),
	}
	bus := attendance.NewLocalBus()
	for range n {
		s := open(t)
		e, err := attendance.New(s, EngineConfig(c.clock.Now, bus))
		require.NoError(t, err)
		c.stores = append(c.stores, s)
		c.engines = append(c.engines, e)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range 6 {
		id := fmt.Sprintf("agent%d", i)
		maxLoad := 1 + rng.IntN(3)
		queues := [][]string{{"geral"}, {"financeiro"}, {"geral", "financeiro"}}[i%3]
		p := attendance.Profile{Min: rng.IntN(maxLoad + 1), Max: maxLoad, Queues: queues, AutoAcceptBelowMin: i%3 == 0}
		// Each agent is registered through a different engine.
		_, err := c.engines[i%n].UpsertAgent(c.ctx, attendance.AgentParams{ID: id, Profile: p})
		require.NoError(t, err)
		c.agents = append(c.agents, id)
		c.maxOf[id] = maxLoad
	}
	for i := range 16 {
		c.benefs = append(c.benefs, fmt.Sprintf("benef%d", i))
	}
	return c
}

// acceptable reports whether err is an outcome a racing caller may see.
func acceptable(err error) bool {
	for _, ok := range []error{attendance.ErrConflict, attendance.ErrForbidden, attendance.ErrInvalidTransition,
		attendance.ErrOfferExpired, attendance.ErrAgentAtCapacity, attendance.ErrAgentUnavailable, attendance.ErrLimit} {
		if errors.Is(err, ok) {
			return true
		}
	}
	return err == nil
}

func (c *Cluster) record(op string, err error) {
	if !acceptable(err) {
		c.mu.Lock()
		c.failures = append(c.failures, fmt.Errorf("%s: %w", op, err))
		c.mu.Unlock()
	}
}

func (c *Cluster) conversationOf(rng *rand.Rand, e *attendance.Engine, p attendance.Principal, states ...attendance.State) (attendance.Conversation, bool) {
	cs, err := e.Conversations(c.ctx, p, attendance.ConversationsFilter{States: states})
	c.record("list conversations", err)
	if len(cs) == 0 {
		return attendance.Conversation{}, false
	}
	return cs[rng.IntN(len(cs))], true
}

// Step does one random operation through a random engine. It may be called
// from several goroutines at once.
func (c *Cluster) Step(rng *rand.Rand) {
	e := c.engines[rng.IntN(len(c.engines))]
	agent := attendance.AgentPrincipal(c.agents[rng.IntN(len(c.agents))])
	benef := attendance.BeneficiaryPrincipal(c.benefs[rng.IntN(len(c.benefs))])
	switch op := rng.IntN(100); {
	case op < 15:
		_, err := e.Open(c.ctx, benef, attendance.OpenParams{SubjectID: []string{"duvida", "urgente", "boleto"}[rng.IntN(3)]})
		c.record("open", err)
	case op < 25:
		presence := []attendance.Presence{attendance.PresenceOnline, attendance.PresenceOnline, attendance.PresenceAway, attendance.PresenceOffline}[rng.IntN(4)]
		_, err := e.SetPresence(c.ctx, agent, presence)
		c.record("presence", err)
	case op < 40:
		if conv, ok := c.conversationOf(rng, e, agent, attendance.StateOffered); ok {
			_, err := e.Accept(c.ctx, agent, conv.ID)
			c.record("accept", err)
		}
	case op < 45:
		if conv, ok := c.conversationOf(rng, e, agent, attendance.StateOffered); ok {
			_, err := e.Decline(c.ctx, agent, conv.ID)
			c.record("decline", err)
		}
	case op < 50:
		c.clock.Advance(time.Duration(rng.IntN(40)) * time.Second)
		n, err := e.ExpireOffers(c.ctx)
		c.record("expire", err)
		c.mu.Lock()
		c.expired += n
		c.mu.Unlock()
	case op < 55:
		if conv, ok := c.conversationOf(rng, e, agent, attendance.StateActive); ok {
			p := attendance.TransferParams{ConversationID: conv.ID, Note: "transferindo"}
			if rng.IntN(2) == 0 {
				p.QueueID = []string{"geral", "financeiro"}[rng.IntN(2)]
			} else {
				p.AgentID = c.agents[rng.IntN(len(c.agents))]
			}
			_, err := e.Transfer(c.ctx, agent, p)
			if errors.Is(err, attendance.ErrInvalidArgument) && p.AgentID == agent.ID {
				err = nil // a transfer to oneself is refused
			}
			c.record("transfer", err)
		}
	case op < 63:
		if conv, ok := c.conversationOf(rng, e, agent, attendance.StateActive); ok {
			_, err := e.Finalize(c.ctx, agent, attendance.FinalizeParams{ConversationID: conv.ID, Reason: "resolvido"})
			c.record("finalize", err)
		}
	case op < 67:
		if conv, ok := c.conversationOf(rng, e, benef, attendance.StateQueued, attendance.StateOffered); ok {
			_, err := e.Leave(c.ctx, benef, conv.ID)
			c.record("leave", err)
		}
	default:
		p := benef
		states := []attendance.State{attendance.StateQueued, attendance.StateOffered, attendance.StateActive}
		if rng.IntN(2) == 0 {
			p, states = agent, []attendance.State{attendance.StateActive}
		}
		conv, ok := c.conversationOf(rng, e, p, states...)
		if !ok {
			return
		}
		key := fmt.Sprintf("k%d", rng.Uint64())
		// Sometimes the send is retried, through another engine.
		for range 1 + rng.IntN(2) {
			m, err := c.engines[rng.IntN(len(c.engines))].Send(c.ctx, p, attendance.SendParams{ConversationID: conv.ID, Body: "oi " + key, IdempotencyKey: key})
			c.record("send", err)
			if err != nil {
				return
			}
			id := conv.ID + "/" + p.ID + "/" + key
			c.mu.Lock()
			if first, ok := c.acked[id]; ok && first != m.ID {
				c.failures = append(c.failures, fmt.Errorf("retried send %s returned %s, first was %s", id, m.ID, first))
			}
			c.acked[id] = m.ID
			c.mu.Unlock()
		}
	}
}

// Settle lets every engine apply the others' changes and route, as the
// periodic sweep would.
func (c *Cluster) Settle() {
	for range 2 {
		for _, e := range c.engines {
			n, err := e.ExpireOffers(c.ctx)
			require.NoError(c.t, err)
			c.mu.Lock()
			c.expired += n
			c.mu.Unlock()
		}
	}
}

// Check verifies the invariants in the database, through the first store:
// an owner exactly when the state holds one, each agent's Load equal to its
// offered and active conversations and at most its Max, nobody waiting while
// an online agent serving the queue has room, every queued conversation in
// every engine's routing index; and, when logs is true (the costly part),
// every log replaying to its row's state with no gap in the sequence
// numbers, no offer expired twice, every acknowledged send stored once. Call
// it when no Step runs.
func (c *Cluster) Check(where string, logs bool) {
	t := c.t
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Empty(t, c.failures, "%s: unexpected errors", where)
	s := c.stores[0]

	agents, err := s.ListAgents(c.ctx, attendance.ListAgentsFilter{})
	require.NoError(t, err)
	convs, err := s.ListConversations(c.ctx, attendance.ListConversationsFilter{})
	require.NoError(t, err)
	held := map[string]int{}
	waiting := map[string]int{}
	expiredEvents := 0
	seen := map[string]string{}
	for _, conv := range convs {
		require.Equal(t, conv.State.HoldsAgent(), conv.AgentID != "", "%s: %s is %s with owner %q", where, conv.ID, conv.State, conv.AgentID)
		if conv.AgentID != "" {
			held[conv.AgentID]++
		}
		if conv.State == attendance.StateQueued {
			waiting[conv.QueueID]++
		}
		if conv.State == attendance.StateQueued {
			for i, e := range c.engines {
				st, err := e.QueueStatus(c.ctx, attendance.SystemPrincipal, conv.ID)
				require.NoError(t, err)
				require.Positive(t, st.Position, "%s: queued %s is missing from engine %d's index", where, conv.ID, i)
			}
		}
		if !logs {
			continue
		}
		// Replay the log: every transition starts where the previous one
		// ended, so no conversation was offered twice at once and no offer
		// expired twice; sequence numbers have no gap and no repeat.
		ms, err := s.ListMessages(c.ctx, attendance.ListMessagesFilter{ConversationID: conv.ID})
		require.NoError(t, err)
		require.Len(t, ms, int(conv.LastSeq), "%s: %s message count", where, conv.ID)
		state := attendance.State("")
		for i, m := range ms {
			require.Equal(t, int64(i+1), m.Seq, "%s: %s sequence", where, conv.ID)
			if m.Kind == attendance.KindSystem && m.Event != nil {
				if m.Event.Type != attendance.EventOpened {
					require.Equal(t, state, m.Event.From, "%s: %s seq %d: %s from %s, but it was %s", where, conv.ID, m.Seq, m.Event.Type, m.Event.From, state)
				}
				state = m.Event.To
				if m.Event.Type == attendance.EventOfferExpired {
					expiredEvents++
				}
			}
			if m.IdempotencyKey != "" {
				id := conv.ID + "/" + m.Sender.ID + "/" + m.IdempotencyKey
				_, dup := seen[id]
				require.False(t, dup, "%s: %s stored twice", where, id)
				seen[id] = m.ID
			}
		}
		require.Equal(t, conv.State, state, "%s: %s log ends in %s, row says %s", where, conv.ID, state, conv.State)
	}
	for _, a := range agents {
		require.LessOrEqual(t, a.Load, c.maxOf[a.ID], "%s: agent %s above Max", where, a.ID)
		require.Equal(t, held[a.ID], a.Load, "%s: agent %s load is not its offered+active count", where, a.ID)
		if a.Presence == attendance.PresenceOnline && a.Load < a.Profile.Max {
			for _, q := range a.Profile.Queues {
				require.Zero(t, waiting[q], "%s: %d waiting in %s while %s has room", where, waiting[q], q, a.ID)
			}
		}
	}
	if !logs {
		return
	}
	// ExpireOffers counts what it expired; a late Accept expires offers too.
	require.LessOrEqual(t, c.expired, expiredEvents, "%s: offers expired by ExpireOffers are in the logs", where)
	for id, msgID := range c.acked {
		require.Equal(t, msgID, seen[id], "%s: acknowledged message %s lost", where, id)
	}
}

// RunEngines runs three engines on three Stores over one database, with
// six goroutines acting through random engines, and checks the invariants
// in the rows after each round: an owner exactly when the state holds one,
// each agent's Load equal to its offered and active conversations and at
// most its Max, nobody waiting in a queue while an online agent serving it
// has room, every log replaying to its row's state with no gap in the
// sequence numbers, no offer expired twice, and every acknowledged send
// stored exactly once, also when it was retried through another engine.
//
// open is called three times and must return a new Store on the same
// database each time, closed with t.Cleanup.
func RunEngines(t *testing.T, open func(t *testing.T) attendance.Store) {
	t.Helper()
	const engines, goroutines, rounds, perRound = 3, 6, 12, 25
	c := NewCluster(t, engines, 11, open)
	for round := range rounds {
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				for range perRound {
					c.Step(rng)
				}
			})
		}
		wg.Wait()
		c.Settle()
		c.Check(fmt.Sprintf("round %d", round), true)
	}
	convs, err := c.stores[0].ListConversations(c.ctx, attendance.ListConversationsFilter{})
	require.NoError(t, err)
	t.Logf("%d conversations, %d acknowledged sends, %d offers expired", len(convs), len(c.acked), c.expired)
}
