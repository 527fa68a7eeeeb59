package attendance_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
)

// hookStore runs code at chosen points of the store calls.
type hookStore struct {
	attendance.Store
	mu sync.Mutex
	// afterListBen runs once, after the next read of a beneficiary's
	// conversations (with what was read).
	afterListBen func(attendance.ListConversationsFilter)
	// afterListAgents runs once, after the next read of the agents.
	afterListAgents func()
	// failGetAfterOffer: after the next successful offer, the next read of
	// a conversation fails.
	failGetAfterOffer atomic.Bool
	failNextGet       atomic.Bool
	// beforeList and beforeAppend run once, just before the next
	// ListMessages or AppendMessage: something happening between a call's
	// check and its write or read.
	beforeList, beforeAppend func()
	// failAgents makes ListAgents fail (ErrUnavailable) while set.
	failAgents atomic.Bool
}

func (s *hookStore) take(h *func()) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := *h
	*h = nil
	return f
}

func (s *hookStore) ListConversations(ctx context.Context, f attendance.ListConversationsFilter) ([]attendance.Conversation, error) {
	cs, err := s.Store.ListConversations(ctx, f)
	if f.BeneficiaryID != "" {
		s.mu.Lock()
		h := s.afterListBen
		s.afterListBen = nil
		s.mu.Unlock()
		if h != nil {
			h(f)
		}
	}
	return cs, err
}

func (s *hookStore) ListMessages(ctx context.Context, f attendance.ListMessagesFilter) ([]attendance.Message, error) {
	if h := s.take(&s.beforeList); h != nil {
		h()
	}
	return s.Store.ListMessages(ctx, f)
}

func (s *hookStore) AppendMessage(ctx context.Context, p attendance.AppendMessageParams) (attendance.Message, attendance.Conversation, bool, error) {
	if h := s.take(&s.beforeAppend); h != nil {
		h()
	}
	return s.Store.AppendMessage(ctx, p)
}

func (s *hookStore) ListAgents(ctx context.Context, f attendance.ListAgentsFilter) ([]attendance.Agent, error) {
	if s.failAgents.Load() {
		return nil, attendance.ErrUnavailable
	}
	as, err := s.Store.ListAgents(ctx, f)
	if h := s.take(&s.afterListAgents); h != nil {
		h()
	}
	return as, err
}

func (s *hookStore) Transition(ctx context.Context, p attendance.TransitionParams) (attendance.Conversation, attendance.Message, error) {
	c, m, err := s.Store.Transition(ctx, p)
	if err == nil && p.To == attendance.StateOffered && s.failGetAfterOffer.CompareAndSwap(true, false) {
		s.failNextGet.Store(true)
	}
	return c, m, err
}

func (s *hookStore) GetConversation(ctx context.Context, id string) (attendance.Conversation, error) {
	if s.failNextGet.CompareAndSwap(true, false) {
		return attendance.Conversation{}, errors.New("transient read error")
	}
	return s.Store.GetConversation(ctx, id)
}

// hooked returns an engine over a hookStore on a memory store.
func hooked(t *testing.T, clock *fakeClock, mutate func(*attendance.Config)) (*hookStore, *attendance.Engine) {
	t.Helper()
	hs := &hookStore{Store: memory.New()}
	cfg := testConfig(clock)
	if mutate != nil {
		mutate(cfg)
	}
	e, err := attendance.New(hs, cfg)
	require.NoError(t, err)
	return hs, e
}

// online registers an agent with a profile and brings them online.
func online(t *testing.T, e *attendance.Engine, id string, p attendance.Profile) {
	t.Helper()
	ctx := context.Background()
	_, err := e.UpsertAgent(ctx, attendance.AgentParams{ID: id, Name: id, Profile: p})
	require.NoError(t, err)
	_, err = e.SetPresence(ctx, agentP(id), attendance.PresenceOnline)
	require.NoError(t, err)
}

// pendingNow returns what a subscription holds, without waiting: a local bus
// delivers synchronously, so what an engine call announced is there when
// the call returns.
func pendingNow(t *testing.T, s *attendance.Subscription) []attendance.Notification {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ns, err := s.Next(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	require.NoError(t, err)
	return ns
}

// waitBlocked waits until n goroutines whose stack holds fn are blocked on
// a channel operation or a select (it does not measure time: it polls the
// goroutines' states), or until done is closed; it reports which.
func waitBlocked(t *testing.T, fn string, n int, done <-chan struct{}) (blocked bool) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for range 10000 {
		select {
		case <-done:
			return false
		default:
		}
		found := 0
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			header, _, _ := strings.Cut(g, "\n")
			if strings.Contains(g, fn) && (strings.Contains(header, "[select") || strings.Contains(header, "[chan")) {
				found++
			}
		}
		if found >= n {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d goroutines in %s never blocked", n, fn)
	return false
}

func hasNotification(ns []attendance.Notification, match func(attendance.Notification) bool) bool {
	for _, n := range ns {
		if match(n) {
			return true
		}
	}
	return false
}

// An offer is announced even when reading the conversation back after it
// fails: the agent hears of the offer they hold.
func TestOfferAnnouncedWhenTheIndexUpdateFails(t *testing.T) {
	ctx := context.Background()
	hs, e := hooked(t, newClock(), nil)
	online(t, e, "ana", attendance.Profile{Max: 2, Queues: []string{"geral"}})
	ana, err := e.Subscribe(ctx, agentP("ana"), attendance.SubscribeParams{})
	require.NoError(t, err)
	defer ana.Close()

	hs.failGetAfterOffer.Store(true)
	c, err := e.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	require.Equal(t, attendance.StateOffered, c.State)
	require.Equal(t, "ana", c.AgentID)
	require.False(t, hs.failNextGet.Load(), "the read after the offer failed")

	ns := pendingNow(t, ana)
	require.True(t, hasNotification(ns, func(n attendance.Notification) bool {
		return n.ConversationID == c.ID && n.State == attendance.StateOffered
	}), "ana holds an offer she was not told of: %+v", ns)
}

// A restarted engine knows who last passed on a waiting chat: it does not
// offer it straight back to the agent who declined it while another agent
// has room.
func TestRestartedEngineRemembersWhoDeclined(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	store := memory.New()
	e1, err := attendance.New(store, testConfig(clock))
	require.NoError(t, err)
	online(t, e1, "ana", attendance.Profile{Min: 1, Max: 2, Queues: []string{"geral"}})
	c, err := e1.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	require.Equal(t, "ana", c.AgentID)
	// bia comes online with room; ana declines and e1 stops right after the
	// write (both are written straight to the store, as e1 would).
	_, err = store.UpsertAgent(ctx, attendance.UpsertAgentParams{ID: "bia", Profile: attendance.Profile{Max: 2, Queues: []string{"geral"}}, At: clock.Now()})
	require.NoError(t, err)
	_, err = store.SetPresence(ctx, attendance.SetPresenceParams{AgentID: "bia", Presence: attendance.PresenceOnline, At: clock.Now()})
	require.NoError(t, err)
	_, _, err = store.Transition(ctx, attendance.TransitionParams{ConversationID: c.ID, From: []attendance.State{attendance.StateOffered}, ExpectAgentID: "ana",
		To: attendance.StateQueued, At: clock.Now(), Message: attendance.Message{ID: "decl", Kind: attendance.KindSystem, Sender: attendance.SystemPrincipal, CreatedAt: clock.Now(),
			Event: &attendance.Event{Type: attendance.EventDeclined, AgentID: "ana"}}})
	require.NoError(t, err)

	e2, err := attendance.New(store, testConfig(clock)) // the restarted engine
	require.NoError(t, err)
	_, err = e2.ExpireOffers(ctx) // builds its index and routes
	require.NoError(t, err)
	got, err := store.GetConversation(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "bia", got.AgentID, "ana just declined it (and is below Min) and bia has room")
}

// A full resync keeps who passed on the chats offered at that moment.
func TestResyncKeepsWhoPassedOnOfferedChats(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(newClock())
	bus := attendance.NewLocalBus()
	cfg.Bus = bus
	e, err := attendance.New(memory.New(), cfg)
	require.NoError(t, err)
	online(t, e, "ana", attendance.Profile{Min: 1, Max: 2, Queues: []string{"geral"}})
	x, err := e.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	require.Equal(t, "ana", x.AgentID)
	online(t, e, "bia", attendance.Profile{Max: 2, Queues: []string{"geral"}})
	online(t, e, "caio", attendance.Profile{Max: 2, Queues: []string{"geral"}})
	x, err = e.Decline(ctx, agentP("ana"), x.ID)
	require.NoError(t, err)
	require.Equal(t, "bia", x.AgentID)

	require.NoError(t, bus.Publish(ctx, attendance.Notification{Kind: attendance.NotifyResync, Origin: "other"}))
	_, err = e.ExpireOffers(ctx) // reloads the index
	require.NoError(t, err)

	x, err = e.Decline(ctx, agentP("bia"), x.ID)
	require.NoError(t, err)
	require.Equal(t, "caio", x.AgentID, "ana and bia both passed on it; caio has room")
}

// What another engine changes while an engine builds its index for the
// first time is applied, not dropped until the next resync.
func TestFirstIndexBuildKeepsWhatOthersChangeMeanwhile(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	bus := attendance.NewLocalBus()
	cfg := testConfig(clock)
	cfg.Bus = bus
	hs := &hookStore{Store: memory.New()}
	e1, err := attendance.New(hs.Store, cfg)
	require.NoError(t, err)
	online(t, e1, "ana", attendance.Profile{Max: 1, Queues: []string{"geral"}})
	x, err := e1.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	_, err = e1.Accept(ctx, agentP("ana"), x.ID)
	require.NoError(t, err)

	e2, err := attendance.New(hs, cfg)
	require.NoError(t, err)
	hs.afterListAgents = func() { // e1 finalizes while e2 reads its first index
		_, err := e1.Finalize(ctx, agentP("ana"), attendance.FinalizeParams{ConversationID: x.ID, Reason: "resolvido"})
		require.NoError(t, err)
	}
	_, err = e2.ExpireOffers(ctx) // e2's first build
	require.NoError(t, err)
	y, err := e2.Open(ctx, benefP("joao"), attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	require.Equal(t, attendance.StateOffered, y.State, "ana is online with room; e2 still thinks she is full")
	require.Equal(t, "ana", y.AgentID)
}

// countingBus counts the calls of each handler and the handlers subscribed.
type countingBus struct {
	*attendance.LocalBus
	live  atomic.Int64
	mu    sync.Mutex
	calls []*atomic.Int64
}

func (b *countingBus) Subscribe(h func(attendance.Notification)) (func(), error) {
	n := new(atomic.Int64)
	b.mu.Lock()
	b.calls = append(b.calls, n)
	b.mu.Unlock()
	unsub, err := b.LocalBus.Subscribe(func(x attendance.Notification) { n.Add(1); h(x) })
	b.live.Add(1)
	return func() { b.live.Add(-1); unsub() }, err
}

func (b *countingBus) handler(i int) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[i].Load()
}

// Stop takes the engine off the bus; its methods keep working on the store
// (without the bus, each reloads the index), Subscribe is refused, and
// Start puts it back on the bus.
func TestStopLeavesTheBusAndStartComesBack(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	bus := &countingBus{LocalBus: attendance.NewLocalBus()}
	cfg := testConfig(newClock())
	cfg.Bus = bus
	stopped, err := attendance.New(store, cfg) // handler 0
	require.NoError(t, err)
	live, err := attendance.New(store, cfg) // handler 1
	require.NoError(t, err)
	require.NoError(t, stopped.Start(ctx))
	require.NoError(t, stopped.Stop(ctx))
	require.Equal(t, int64(1), bus.live.Load(), "the stopped engine left the bus")

	for i := range 3 {
		_, err := live.Open(ctx, benefP(fmt.Sprintf("b%d", i)), attendance.OpenParams{SubjectID: "boleto"})
		require.NoError(t, err)
	}
	online(t, live, "ana", attendance.Profile{Max: 5, Queues: []string{"geral"}})
	require.Zero(t, bus.handler(0), "the stopped engine still hears the bus")
	_, err = stopped.Subscribe(ctx, agentP("ana"), attendance.SubscribeParams{})
	require.ErrorIs(t, err, attendance.ErrClosed)

	// Unheard, ana's coming online is read from the store.
	c, err := stopped.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	require.Equal(t, "ana", c.AgentID)

	require.NoError(t, stopped.Start(ctx))
	defer stopped.Stop(ctx)
	require.Equal(t, int64(2), bus.live.Load())
	sub, err := stopped.Subscribe(ctx, agentP("ana"), attendance.SubscribeParams{})
	require.NoError(t, err)
	defer sub.Close()
	d, err := live.Open(ctx, benefP("joao"), attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	require.True(t, hasNotification(pendingNow(t, sub), func(n attendance.Notification) bool { return n.ConversationID == d.ID }),
		"the restarted engine hears the bus again")
}

// Subscribe registers before it reads a beneficiary's waiting chats: a chat
// that goes back to its queue in between is followed (its queue's moves
// are announced), and a stale notification arriving in between is not
// taken for news.
func TestSubscribeSnapshotAndNotificationsMeanwhile(t *testing.T) {
	queueMoved := func(n attendance.Notification) bool {
		return n.Kind == attendance.NotifyQueue && n.QueueID == "geral"
	}
	t.Run("back to the queue in between", func(t *testing.T) {
		ctx := context.Background()
		hs, e := hooked(t, newClock(), nil)
		online(t, e, "ana", attendance.Profile{Max: 1, Queues: []string{"geral"}})
		x, err := e.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
		require.NoError(t, err)
		require.Equal(t, attendance.StateOffered, x.State)
		hs.afterListBen = func(attendance.ListConversationsFilter) { // x goes back to the queue
			_, err := e.SetPresence(ctx, agentP("ana"), attendance.PresenceAway)
			require.NoError(t, err)
		}
		sub, err := e.Subscribe(ctx, benefP("maria"), attendance.SubscribeParams{})
		require.NoError(t, err)
		defer sub.Close()
		require.Equal(t, attendance.StateQueued, fixtureConv(t, hs, x.ID).State)
		pendingNow(t, sub)

		_, err = e.Open(ctx, benefP("joao"), attendance.OpenParams{SubjectID: "urgente"}) // ahead of maria
		require.NoError(t, err)
		st, err := e.QueueStatus(ctx, benefP("maria"), x.ID)
		require.NoError(t, err)
		require.Equal(t, 2, st.Position)
		require.True(t, hasNotification(pendingNow(t, sub), queueMoved), "maria's place changed and she was not told")
	})
	t.Run("a stale notification in between", func(t *testing.T) {
		ctx := context.Background()
		bus := attendance.NewLocalBus()
		hs, e := hooked(t, newClock(), func(c *attendance.Config) { c.Bus = bus })
		online(t, e, "ana", attendance.Profile{Max: 1, Queues: []string{"geral"}})
		x, err := e.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
		require.NoError(t, err)
		require.Equal(t, attendance.StateOffered, x.State)
		hs.afterListBen = func(attendance.ListConversationsFilter) {
			// x's opening (queued at Seq 1) announced late, by a slow node.
			require.NoError(t, bus.Publish(ctx, attendance.Notification{Kind: attendance.NotifyConversation, ConversationID: x.ID,
				BeneficiaryID: "maria", QueueID: "geral", State: attendance.StateQueued, Seq: 1, Origin: "slow"}))
		}
		sub, err := e.Subscribe(ctx, benefP("maria"), attendance.SubscribeParams{})
		require.NoError(t, err)
		defer sub.Close()
		pendingNow(t, sub)

		_, err = e.Open(ctx, benefP("joao"), attendance.OpenParams{SubjectID: "urgente"})
		require.NoError(t, err)
		require.False(t, hasNotification(pendingNow(t, sub), queueMoved), "maria waits in no queue")
	})
}

func fixtureConv(t *testing.T, s attendance.Store, id string) attendance.Conversation {
	t.Helper()
	c, err := s.GetConversation(context.Background(), id)
	require.NoError(t, err)
	return c
}

// A beneficiary's subscription follows the newest transition of each chat
// whatever order the notifications arrive in.
func TestSubscriptionTracksTheNewestTransition(t *testing.T) {
	ctx := context.Background()
	bus := attendance.NewLocalBus()
	cfg := testConfig(newClock())
	cfg.Bus = bus
	e, err := attendance.New(memory.New(), cfg)
	require.NoError(t, err)
	sub, err := e.Subscribe(ctx, benefP("maria"), attendance.SubscribeParams{})
	require.NoError(t, err)
	defer sub.Close()
	conv := func(state attendance.State, seq int64) attendance.Notification {
		return attendance.Notification{Kind: attendance.NotifyConversation, ConversationID: "x", BeneficiaryID: "maria",
			QueueID: "geral", State: state, Seq: seq, Origin: "elsewhere"}
	}
	// x was in service (Seq 3), transferred to its queue (Seq 4) and
	// offered again (Seq 5) at once, by another node: the transfer's
	// notification comes last.
	require.NoError(t, bus.Publish(ctx, conv(attendance.StateActive, 3)))
	require.NoError(t, bus.Publish(ctx, conv(attendance.StateOffered, 5)))
	require.NoError(t, bus.Publish(ctx, conv(attendance.StateQueued, 4)))
	pendingNow(t, sub)
	require.NoError(t, bus.Publish(ctx, attendance.Notification{Kind: attendance.NotifyQueue, QueueID: "geral", Origin: "elsewhere"}))
	require.Empty(t, pendingNow(t, sub), "x is offered, not waiting")
}

// Close wakes every Next blocked on the subscription.
func TestCloseWakesEveryBlockedNext(t *testing.T) {
	f := newFixture(t)
	sub, err := f.engine.Subscribe(f.ctx, agentP("ana"), attendance.SubscribeParams{})
	require.NoError(t, err)
	// The deadline only keeps a failing test from hanging.
	ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := sub.Next(ctx); errs <- err }()
	}
	waitBlocked(t, "attendance.(*Subscription).Next", 2, nil)
	sub.Close()
	for range 2 {
		require.ErrorIs(t, <-errs, attendance.ErrClosed)
	}
}

// cancelAfterPresence cancels the caller's context right after the
// presence is written.
type cancelAfterPresence struct {
	attendance.Store
	cancel context.CancelFunc
}

func (s *cancelAfterPresence) SetPresence(ctx context.Context, p attendance.SetPresenceParams) (attendance.Agent, error) {
	a, err := s.Store.SetPresence(ctx, p)
	if s.cancel != nil {
		s.cancel()
	}
	return a, err
}

// Going away succeeds once the presence is written, and takes back the
// agent's offers even if the caller's context is cancelled meanwhile.
func TestAwayWithACancelledContextTakesBackOffers(t *testing.T) {
	ctx := context.Background()
	st := &cancelAfterPresence{Store: memory.New()}
	e, err := attendance.New(st, testConfig(newClock()))
	require.NoError(t, err)
	online(t, e, "ana", attendance.Profile{Max: 2, Queues: []string{"geral"}})
	online(t, e, "bia", attendance.Profile{Max: 2, Queues: []string{"geral"}})
	x, err := e.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	owner, other := x.AgentID, "bia"
	if owner == "bia" {
		other = "ana"
	}
	sub, err := e.Subscribe(ctx, agentP(other), attendance.SubscribeParams{})
	require.NoError(t, err)
	defer sub.Close()

	cctx, cancel := context.WithCancel(ctx)
	st.cancel = cancel
	a, err := e.SetPresence(cctx, agentP(owner), attendance.PresenceAway)
	st.cancel = nil
	require.NoError(t, err, "the presence changed")
	require.Equal(t, attendance.PresenceAway, a.Presence)
	require.Zero(t, a.Load)
	got := fixtureConv(t, st, x.ID)
	require.Equal(t, other, got.AgentID, "%s is away and still holds the offer (%s)", owner, got.State)
	require.True(t, hasNotification(pendingNow(t, sub), func(n attendance.Notification) bool {
		return n.ConversationID == x.ID && n.State == attendance.StateOffered
	}), "%s was not told of the offer", other)
}

// Concurrent Opens by one beneficiary keep MaxOpenPerBeneficiary, through
// one engine and through several on one store (the store counts and
// inserts in one step; storagetest checks each backend).
func TestConcurrentOpensKeepTheLimit(t *testing.T) {
	ctx := context.Background()
	store := newStore()
	var engines []*attendance.Engine
	for k := range 3 {
		cfg := testConfig(newClock())
		cfg.MaxOpenPerBeneficiary = 2
		var n atomic.Int64
		cfg.NewID = func() string { return fmt.Sprintf("e%d-%06d", k, n.Add(1)) } // distinct across engines
		e, err := attendance.New(store, cfg)
		require.NoError(t, err)
		engines = append(engines, e)
	}
	var wg sync.WaitGroup
	var opened, limited atomic.Int64
	for i := range 12 {
		wg.Go(func() {
			_, err := engines[i%len(engines)].Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
			switch {
			case err == nil:
				opened.Add(1)
			case errors.Is(err, attendance.ErrLimit):
				limited.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int64(2), opened.Load())
	require.Equal(t, int64(10), limited.Load())
	cs, err := store.ListConversations(ctx, attendance.ListConversationsFilter{BeneficiaryID: "maria"})
	require.NoError(t, err)
	require.Len(t, cs, 2, "the limit is 2")
}

// Coalescing orders states by the transitions that set them, not by the
// sequence number of a message merged in.
func TestCoalesceOrdersStatesByTheirTransition(t *testing.T) {
	conv := func(state attendance.State, queue string, seq int64) attendance.Notification {
		return attendance.Notification{Kind: attendance.NotifyConversation, ConversationID: "x", State: state, QueueID: queue, Seq: seq}
	}
	offered := conv(attendance.StateOffered, "geral", 2)
	msg := conv("", "geral", 4)
	active := conv(attendance.StateActive, "geral", 3)

	got := attendance.Coalesce(attendance.Coalesce(offered, msg), active)
	require.Equal(t, attendance.StateActive, got.State)
	require.Equal(t, int64(4), got.Seq)
	require.Equal(t, int64(3), got.StateSeq)
	got = attendance.Coalesce(attendance.Coalesce(active, msg), offered) // the offer comes late
	require.Equal(t, attendance.StateActive, got.State)
	require.Equal(t, int64(3), got.StateSeq)
	got = attendance.Coalesce(active, conv(attendance.StateQueued, "financeiro", 4)) // transferred
	require.Equal(t, attendance.Notification{Kind: attendance.NotifyConversation, ConversationID: "x", State: attendance.StateQueued, QueueID: "financeiro", Seq: 4}, got)
	// The queue goes with the state it was announced with.
	got = attendance.Coalesce(conv(attendance.StateQueued, "financeiro", 5), conv("", "geral", 6))
	require.Equal(t, attendance.StateQueued, got.State)
	require.Equal(t, "financeiro", got.QueueID)
}

// A profile lists each queue once.
func TestProfileRefusesARepeatedQueue(t *testing.T) {
	p := attendance.Profile{Max: 1, Queues: []string{"geral", "financeiro", "geral"}}
	require.ErrorIs(t, p.Validate(), attendance.ErrInvalidArgument)
	f := newFixture(t)
	_, err := f.engine.UpsertAgent(f.ctx, attendance.AgentParams{ID: "ana", Profile: p})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
}
