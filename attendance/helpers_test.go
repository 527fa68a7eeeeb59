package attendance_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
)

// fakeClock is a settable clock; offer timeouts are tested by moving it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Tick moves the clock by one microsecond, so events get distinct times.
func (c *fakeClock) Tick() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Microsecond)
	return c.now
}

// testConfig is a small contact center: two queues, three subjects (one
// urgent), three finalize reasons.
func testConfig(clock *fakeClock) *attendance.Config {
	var n atomic.Int64
	return &attendance.Config{
		Queues: []attendance.Queue{
			{ID: "geral", Name: "Atendimento geral"},
			{ID: "financeiro", Name: "Financeiro"},
		},
		Subjects: []attendance.Subject{
			{ID: "duvida", Name: "Dúvidas", QueueID: "geral"},
			{ID: "urgente", Name: "Autorização urgente", QueueID: "geral", Priority: 10},
			{ID: "boleto", Name: "Segunda via de boleto", QueueID: "financeiro"},
		},
		FinalizeReasons: []attendance.FinalizeReason{
			{ID: "resolvido", Label: "Resolvido"},
			{ID: "sem_resposta", Label: "Beneficiário sem resposta"},
			{ID: "encaminhado", Label: "Encaminhado para ocorrência"},
		},
		DefaultOfferTimeout: 30 * time.Second,
		Now:                 clock.Tick,
		NewID:               func() string { return fmt.Sprintf("id-%06d", n.Add(1)) },
	}
}

type fixture struct {
	t      *testing.T
	ctx    context.Context
	clock  *fakeClock
	store  attendance.Store
	engine *attendance.Engine
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clock := newClock()
	store := memory.New()
	e, err := attendance.New(store, testConfig(clock))
	require.NoError(t, err)
	return &fixture{t: t, ctx: context.Background(), clock: clock, store: store, engine: e}
}

func agentP(id string) attendance.Principal { return attendance.AgentPrincipal(id) }
func benefP(id string) attendance.Principal { return attendance.BeneficiaryPrincipal(id) }

// agent registers an online agent serving queues with the given Min and Max.
func (f *fixture) agent(id string, min, max int, queues ...string) {
	f.t.Helper()
	if len(queues) == 0 {
		queues = []string{"geral"}
	}
	_, err := f.engine.UpsertAgent(f.ctx, attendance.AgentParams{ID: id, Name: id, Profile: attendance.Profile{Min: min, Max: max, Queues: queues}})
	require.NoError(f.t, err)
	_, err = f.engine.SetPresence(f.ctx, agentP(id), attendance.PresenceOnline)
	require.NoError(f.t, err)
}

func (f *fixture) open(beneficiary, subject string) attendance.Conversation {
	f.t.Helper()
	c, err := f.engine.Open(f.ctx, benefP(beneficiary), attendance.OpenParams{SubjectID: subject})
	require.NoError(f.t, err)
	return c
}

func (f *fixture) conv(id string) attendance.Conversation {
	f.t.Helper()
	c, err := f.store.GetConversation(f.ctx, id)
	require.NoError(f.t, err)
	return c
}

func (f *fixture) load(agentID string) int {
	f.t.Helper()
	a, err := f.store.GetAgent(f.ctx, agentID)
	require.NoError(f.t, err)
	return a.Load
}

func (f *fixture) events(convID string) []attendance.EventType {
	f.t.Helper()
	ms, err := f.store.ListMessages(f.ctx, attendance.ListMessagesFilter{ConversationID: convID})
	require.NoError(f.t, err)
	var out []attendance.EventType
	for _, m := range ms {
		if m.Event != nil {
			out = append(out, m.Event.Type)
		}
	}
	return out
}

// newStore is the store the engine tests run on.
func newStore() attendance.Store { return memory.New() }
