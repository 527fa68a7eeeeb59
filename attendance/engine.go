package attendance

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mosiachat/mosiachat/queue"
)

// Config configures an Engine. A nil *Config is not enough: Queues,
// Subjects and FinalizeReasons must name at least one each.
type Config struct {
	// Queues where conversations wait. Required.
	Queues []Queue
	// Subjects a beneficiary may pick; each names one of Queues. Required.
	Subjects []Subject
	// FinalizeReasons an agent may close a conversation with. Required.
	FinalizeReasons []FinalizeReason
	// MaxMessageBytes caps a message body. Defaults to 4096.
	MaxMessageBytes int
	// MaxNoteBytes caps transfer and finalize notes. Defaults to 1024.
	MaxNoteBytes int
	// MaxOpenPerBeneficiary caps a beneficiary's conversations that are not
	// finalized or abandoned (ErrLimit beyond), counted by the store as it
	// creates one, so several engines keep it too. Defaults to 3.
	MaxOpenPerBeneficiary int
	// DefaultOfferTimeout applies to profiles without an OfferTimeout.
	// Defaults to 30s.
	DefaultOfferTimeout time.Duration
	// DefaultHandleTime seeds the per-queue average service time used for the
	// estimated wait. Defaults to 5m.
	DefaultHandleTime time.Duration
	// SweepInterval is how often a started engine expires offers and applies
	// other engines' changes. Defaults to 1s.
	SweepInterval time.Duration
	// ResyncInterval is how often a started engine reloads its routing index
	// from the store, catching changes whose notification it missed.
	// Defaults to 30s.
	ResyncInterval time.Duration
	// Bus carries notifications between engines. Defaults to a new LocalBus
	// (this engine alone).
	Bus Bus
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// NewID makes conversation and message IDs. Defaults to random
	// (version 4) UUIDs from crypto/rand; uuid.SetRand does not apply to
	// them, so set NewID where IDs must be deterministic (tests, replays).
	NewID func() string
	// Logger receives operational logs, never message bodies nor documents.
	// Defaults to discarding.
	Logger *slog.Logger
}

// Engine runs attendance: every state change goes through it. Create it with
// New; its methods are safe for concurrent use.
type Engine struct {
	store   Store
	cfg     Config
	id      string
	queues  map[string]Queue
	subject map[string]Subject
	reasons map[string]FinalizeReason
	log     *slog.Logger

	// mu guards the routing index below; it is never held while publishing.
	mu       sync.Mutex
	loaded   bool // the index was built
	router   *queue.Router
	agents   map[string]Agent
	declined map[string]map[string]bool // conversation -> agents who passed
	handle   map[string]time.Duration   // queue -> average service time

	// dirtyMu guards the changes other engines announced that the index
	// has yet to apply.
	dirtyMu    sync.Mutex
	dirtyConvs map[string]bool
	dirtyAgent map[string]bool
	resync     bool
	// tracking: dirty marks are recorded. It is set when the first build
	// of the index begins (until then the build reads everything anyway)
	// and cleared by Stop.
	tracking bool

	subsMu sync.Mutex
	subs   map[*Subscription]bool

	// detached: Stop unsubscribed the engine from the bus and no Start has
	// subscribed it again. Written with both dirtyMu and subsMu held (in
	// that order), read with either.
	detached bool

	runMu       sync.Mutex // guards unsubscribe, stop and done
	unsubscribe func()
	stop        context.CancelFunc
	done        chan struct{}
}

// New returns an engine over store. It validates cfg, applies defaults and
// subscribes to the bus; it starts no goroutine (see Start).
func New(store Store, cfg *Config) (*Engine, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidArgument)
	}
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil config: queues, subjects and finalize reasons are required", ErrInvalidArgument)
	}
	c := *cfg
	c.Queues = slices.Clone(c.Queues)
	c.Subjects = slices.Clone(c.Subjects)
	c.FinalizeReasons = slices.Clone(c.FinalizeReasons)
	setDefault(&c.MaxMessageBytes, 4096)
	setDefault(&c.MaxNoteBytes, 1024)
	setDefault(&c.MaxOpenPerBeneficiary, 3)
	setDefault(&c.DefaultOfferTimeout, 30*time.Second)
	setDefault(&c.DefaultHandleTime, 5*time.Minute)
	setDefault(&c.SweepInterval, time.Second)
	setDefault(&c.ResyncInterval, 30*time.Second)
	if c.Bus == nil {
		c.Bus = NewLocalBus()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = newRandomID
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Engine{
		store:      store,
		cfg:        c,
		id:         uuid.NewString(),
		queues:     make(map[string]Queue),
		subject:    make(map[string]Subject),
		reasons:    make(map[string]FinalizeReason),
		log:        c.Logger,
		router:     queue.NewRouter(),
		agents:     make(map[string]Agent),
		declined:   make(map[string]map[string]bool),
		handle:     make(map[string]time.Duration),
		dirtyConvs: make(map[string]bool),
		dirtyAgent: make(map[string]bool),
		subs:       make(map[*Subscription]bool),
	}
	if err := e.loadCatalog(); err != nil {
		return nil, err
	}
	if err := e.subscribe(); err != nil {
		return nil, err
	}
	return e, nil
}

// subscribe puts the engine on the bus. Called from New or with e.runMu
// held.
func (e *Engine) subscribe() error {
	unsub, err := e.cfg.Bus.Subscribe(e.onNotification)
	if err != nil {
		return fmt.Errorf("attendance: subscribe to bus: %w", err)
	}
	if unsub == nil { // non-nil means subscribed (Start and Stop test it)
		unsub = func() {}
	}
	e.unsubscribe = unsub
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (e *Engine) loadCatalog() error {
	c := e.cfg
	if len(c.Queues) == 0 || len(c.Subjects) == 0 || len(c.FinalizeReasons) == 0 {
		return fmt.Errorf("%w: config needs at least one queue, subject and finalize reason", ErrInvalidArgument)
	}
	if c.MaxMessageBytes < 0 || c.MaxNoteBytes < 0 || c.MaxOpenPerBeneficiary < 0 || c.DefaultOfferTimeout < 0 || c.DefaultHandleTime < 0 || c.SweepInterval < 0 || c.ResyncInterval < 0 {
		return fmt.Errorf("%w: config limits and intervals must not be negative", ErrInvalidArgument)
	}
	for _, q := range c.Queues {
		if q.ID == "" || e.queues[q.ID].ID != "" {
			return fmt.Errorf("%w: queue ID %q is empty or repeated", ErrInvalidArgument, q.ID)
		}
		e.queues[q.ID] = q
	}
	for _, s := range c.Subjects {
		if s.ID == "" || e.subject[s.ID].ID != "" {
			return fmt.Errorf("%w: subject ID %q is empty or repeated", ErrInvalidArgument, s.ID)
		}
		if _, ok := e.queues[s.QueueID]; !ok {
			return fmt.Errorf("%w: subject %q names unknown queue %q", ErrInvalidArgument, s.ID, s.QueueID)
		}
		e.subject[s.ID] = s
	}
	for _, r := range c.FinalizeReasons {
		if r.ID == "" || e.reasons[r.ID].ID != "" {
			return fmt.Errorf("%w: finalize reason ID %q is empty or repeated", ErrInvalidArgument, r.ID)
		}
		e.reasons[r.ID] = r
	}
	return nil
}

// Queues returns the configured queues.
func (e *Engine) Queues() []Queue { return append([]Queue(nil), e.cfg.Queues...) }

// Subjects returns the configured subjects.
func (e *Engine) Subjects() []Subject { return append([]Subject(nil), e.cfg.Subjects...) }

// FinalizeReasons returns the configured finalize reasons.
func (e *Engine) FinalizeReasons() []FinalizeReason {
	return append([]FinalizeReason(nil), e.cfg.FinalizeReasons...)
}

// Store returns the store the engine runs on.
func (e *Engine) Store() Store { return e.store }

// Start loads the routing index, expires overdue offers, routes what waits,
// and runs the periodic sweep until Stop. Calling Start twice is an error;
// Start after Stop subscribes the engine to the bus again and reloads the
// index.
func (e *Engine) Start(ctx context.Context) error {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	if e.stop != nil {
		return fmt.Errorf("%w: engine already started", ErrInvalidArgument)
	}
	resumed := e.unsubscribe == nil // stopped before
	if resumed {
		if err := e.subscribe(); err != nil {
			return err
		}
		e.setDetached(false)
	}
	if err := e.tick(ctx, true); err != nil { // true: what was missed is reloaded
		if resumed {
			// Stay stopped: off the bus, recording nothing.
			e.unsubscribe()
			e.unsubscribe = nil
			for _, s := range e.setDetached(true) {
				s.Close()
			}
		}
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	e.done = make(chan struct{})
	go e.run(runCtx, e.done)
	return nil
}

// Stop ends the sweep started by Start and waits for it, or for ctx. It
// closes every subscription and unsubscribes the engine from the bus (also
// when it was never started): a stopped engine hears no other engine, and
// its Subscribe returns ErrClosed. Its other methods keep working on the
// store, each reloading the routing index it can no longer keep current.
// Start resumes it.
func (e *Engine) Stop(ctx context.Context) error {
	e.runMu.Lock()
	cancel, done := e.stop, e.done
	e.stop, e.done = nil, nil
	if e.unsubscribe != nil {
		e.unsubscribe()
		e.unsubscribe = nil
	}
	subs := e.setDetached(true)
	e.runMu.Unlock()
	for _, s := range subs {
		s.Close()
	}
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// setDetached records whether the engine is off the bus. Detaching forgets
// the dirty marks (every use reloads the index) and returns the
// subscriptions, to be closed. Called with e.runMu held.
func (e *Engine) setDetached(detached bool) []*Subscription {
	e.dirtyMu.Lock()
	defer e.dirtyMu.Unlock()
	e.subsMu.Lock()
	defer e.subsMu.Unlock()
	e.detached = detached
	if !detached {
		e.resync = true // what was announced meanwhile went unheard
		return nil
	}
	e.tracking = false
	clear(e.dirtyConvs)
	clear(e.dirtyAgent)
	subs := make([]*Subscription, 0, len(e.subs))
	for s := range e.subs {
		subs = append(subs, s)
	}
	return subs
}

func (e *Engine) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	sweep := time.NewTicker(e.cfg.SweepInterval)
	defer sweep.Stop()
	resync := time.NewTicker(e.cfg.ResyncInterval)
	defer resync.Stop()
	for {
		full := false
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
		case <-resync.C:
			full = true
		}
		if err := e.tick(ctx, full); err != nil && ctx.Err() == nil {
			e.log.Warn("attendance: sweep failed", "err", err)
		}
	}
}

// tick expires offers, applies pending remote changes (or reloads the index
// when full) and routes.
func (e *Engine) tick(ctx context.Context, full bool) error {
	if full {
		e.markResync()
	}
	_, err := e.ExpireOffers(ctx)
	return err
}

// ensureLoaded builds the routing index from the store on first use, when
// a resync was asked for or when the engine is off the bus (stopped), and
// applies the changes other engines announced. Called with e.mu held.
func (e *Engine) ensureLoaded(ctx context.Context) error { return e.loadIndex(ctx, true) }

// catchUp is ensureLoaded for a caller that has loaded the index under its
// current hold of e.mu: a stopped engine does not reload it again. Called
// with e.mu held.
func (e *Engine) catchUp(ctx context.Context) error { return e.loadIndex(ctx, false) }

func (e *Engine) loadIndex(ctx context.Context, reloadOffBus bool) error {
	e.dirtyMu.Lock()
	full := e.resync || !e.loaded || e.detached && reloadOffBus
	e.resync = false
	// From the first build on, what other engines change is recorded: a
	// change announced while the build reads the store may be one it did
	// not read, and is applied right after it.
	e.tracking = !e.detached
	e.dirtyMu.Unlock()
	if full {
		e.takeDirty() // the reload reads all of it
		if err := e.reload(ctx); err != nil {
			e.markResync()
			return err
		}
		e.loaded = true
	}
	convs, agents := e.takeDirty()
	for id := range agents {
		if err := e.refreshAgent(ctx, id); err != nil {
			e.markResync() // the rest of the dirty set is reloaded whole
			return err
		}
	}
	for id := range convs {
		if err := e.refreshConversation(ctx, id); err != nil {
			e.markResync()
			return err
		}
	}
	return nil
}

// takeDirty returns the conversations and agents marked dirty since the
// last call, and forgets them.
func (e *Engine) takeDirty() (convs, agents map[string]bool) {
	e.dirtyMu.Lock()
	defer e.dirtyMu.Unlock()
	if len(e.dirtyConvs) > 0 { // else nil: the empty map stays in use
		convs, e.dirtyConvs = e.dirtyConvs, make(map[string]bool)
	}
	if len(e.dirtyAgent) > 0 {
		agents, e.dirtyAgent = e.dirtyAgent, make(map[string]bool)
	}
	return convs, agents
}

// reload rebuilds the index from the store. It keeps who passed on the
// conversations still waiting or offered, and adds the last holder of each
// waiting one, as refreshConversation does: so a restarted engine does not
// offer a chat straight back to the agent who just declined it. Called with
// e.mu held.
func (e *Engine) reload(ctx context.Context) error {
	agents, err := e.store.ListAgents(ctx, ListAgentsFilter{})
	if err != nil {
		return fmt.Errorf("attendance: load agents: %w", err)
	}
	open, err := e.store.ListConversations(ctx, ListConversationsFilter{States: []State{StateQueued, StateOffered}})
	if err != nil {
		return fmt.Errorf("attendance: load queues: %w", err)
	}
	e.router = queue.NewRouter()
	e.agents = make(map[string]Agent, len(agents))
	declined := e.declined
	e.declined = make(map[string]map[string]bool)
	for _, a := range agents {
		e.setAgent(a)
	}
	for _, c := range open {
		if d, ok := declined[c.ID]; ok {
			e.declined[c.ID] = d
		}
		if c.State == StateQueued {
			e.passedBy(c)
			e.enqueue(c)
		}
	}
	return nil
}

// passedBy records that the last holder of a conversation back in its queue
// passed on it (declined it, let the offer expire, went away or transferred
// it away). Called with e.mu held.
func (e *Engine) passedBy(c Conversation) {
	if c.LastAgentID == "" {
		return
	}
	if e.declined[c.ID] == nil {
		e.declined[c.ID] = make(map[string]bool)
	}
	e.declined[c.ID][c.LastAgentID] = true
}

// setAgent records an agent in the index. Called with e.mu held.
func (e *Engine) setAgent(a Agent) {
	e.agents[a.ID] = a
	e.router.SetAgent(queue.AgentState{
		ID:           a.ID,
		Online:       a.Presence == PresenceOnline,
		Load:         a.Load,
		Min:          a.Profile.Min,
		Max:          a.Profile.Max,
		LastAssigned: a.LastAssignedAt.UnixNano(),
		Queues:       a.Profile.Queues,
	})
}

// enqueue puts a queued conversation in the index. Called with e.mu held.
func (e *Engine) enqueue(c Conversation) {
	e.router.Enqueue(c.QueueID, queue.Item{ID: c.ID, Priority: c.Priority, Arrival: c.ArrivedAt.UnixNano()})
}

func (e *Engine) refreshAgent(ctx context.Context, id string) error {
	a, err := e.store.GetAgent(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		delete(e.agents, id)
		e.router.RemoveAgent(id)
		return nil
	case err != nil:
		return err
	}
	e.setAgent(a)
	return nil
}

// refreshConversation re-reads a conversation and puts it in, or takes it
// out of, the index. It also keeps the set of agents who passed on it: the
// last holder of a conversation back in a queue declined it, let the offer
// expire or transferred it away. Called with e.mu held.
func (e *Engine) refreshConversation(ctx context.Context, id string) error {
	c, err := e.store.GetConversation(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		e.router.Dequeue(id)
		delete(e.declined, id)
		return nil
	case err != nil:
		return err
	}
	switch c.State {
	case StateQueued:
		e.enqueue(c)
		e.passedBy(c)
	case StateOffered:
		e.router.Dequeue(id)
	default:
		e.router.Dequeue(id)
		delete(e.declined, id)
	}
	return nil
}

// onNotification is the bus handler. It never blocks: remote changes are
// marked dirty (a NotifyResync marks the whole index) and applied by the
// next operation or sweep. Until the index is first built nothing is
// marked: the build reads everything.
func (e *Engine) onNotification(n Notification) {
	if n.Origin != e.id && n.Kind != NotifyTyping {
		e.dirtyMu.Lock()
		if e.tracking {
			if n.Kind == NotifyResync {
				e.resync = true
			}
			if n.ConversationID != "" {
				e.dirtyConvs[n.ConversationID] = true
			}
			for _, a := range n.AgentIDs {
				e.dirtyAgent[a] = true
			}
		}
		e.dirtyMu.Unlock()
	}
	e.subsMu.Lock()
	defer e.subsMu.Unlock()
	for s := range e.subs {
		s.deliver(n)
	}
}

// publish sends notifications after a change; never called with e.mu held.
func (e *Engine) publish(ctx context.Context, ns ...Notification) {
	for _, n := range ns {
		n.Origin = e.id
		if err := e.cfg.Bus.Publish(ctx, n); err != nil {
			e.log.Warn("attendance: publish failed", "err", err, "conversation", n.ConversationID)
		}
	}
}

// changed returns the notifications for a conversation change: the
// conversation itself and, when it entered or left a queue, that queue.
func changed(before, after Conversation) []Notification {
	agents := concerned(before, after)
	ns := []Notification{{
		Kind:           NotifyConversation,
		ConversationID: after.ID,
		BeneficiaryID:  after.BeneficiaryID,
		QueueID:        after.QueueID,
		State:          after.State,
		Seq:            after.LastSeq,
		AgentIDs:       agents,
	}}
	if before.State == StateQueued && (after.State != StateQueued || after.QueueID != before.QueueID) {
		ns = append(ns, Notification{Kind: NotifyQueue, QueueID: before.QueueID})
	}
	if after.State == StateQueued && (before.State != StateQueued || after.QueueID != before.QueueID) {
		ns = append(ns, Notification{Kind: NotifyQueue, QueueID: after.QueueID})
	}
	return ns
}

// Subscribe follows the notifications that concern p. ctx bounds only the
// initial lookup: the subscription lives until Close or Stop. An agent
// following one conversation hears of it only while it is theirs. A stopped
// engine refuses with ErrClosed.
func (e *Engine) Subscribe(ctx context.Context, p Principal, params SubscribeParams) (*Subscription, error) {
	if err := validPrincipal(p); err != nil {
		return nil, err
	}
	// The subscription is registered before the lookup: a change made after
	// the lookup read the store is then announced to it. A notification
	// arriving in between is ordered against what the lookup read by
	// sequence number (Subscription.prime).
	s := newSubscription(p, params)
	s.release = func() {
		e.subsMu.Lock()
		delete(e.subs, s)
		e.subsMu.Unlock()
	}
	e.subsMu.Lock()
	if e.detached {
		e.subsMu.Unlock()
		return nil, fmt.Errorf("%w: engine stopped", ErrClosed)
	}
	e.subs[s] = true
	e.subsMu.Unlock()
	var seen []Conversation
	switch {
	case params.ConversationID != "":
		c, err := e.conversationFor(ctx, p, params.ConversationID, false)
		if err != nil {
			s.Close()
			return nil, err
		}
		seen = append(seen, c)
	case p.Role == RoleBeneficiary:
		// Every open chat, not only the queued ones: what was read orders
		// the notifications that arrive later (a stale "queued" one for a
		// chat read as offered is then ignored).
		cs, err := e.store.ListConversations(ctx, ListConversationsFilter{BeneficiaryID: p.ID, States: []State{StateQueued, StateOffered, StateActive}})
		if err != nil {
			s.Close()
			return nil, err
		}
		seen = cs
	}
	if p.Role == RoleBeneficiary {
		if err := s.prime(ctx, seen, e.store.GetConversation); err != nil {
			s.Close()
			return nil, err
		}
	}
	if s.isClosed() { // Stop closed it meanwhile
		return nil, fmt.Errorf("%w: engine stopped", ErrClosed)
	}
	return s, nil
}

func validPrincipal(p Principal) error {
	if strings.TrimSpace(p.ID) == "" {
		return fmt.Errorf("%w: principal without ID", ErrForbidden)
	}
	if strings.IndexByte(p.ID, 0) >= 0 {
		return fmt.Errorf("%w: principal ID with a NUL byte", ErrForbidden)
	}
	switch p.Role {
	case RoleAgent, RoleSupervisor, RoleBeneficiary, RoleSystem:
		return nil
	}
	return fmt.Errorf("%w: unknown role %q", ErrForbidden, p.Role)
}

// noNUL refuses text with a NUL byte, which PostgreSQL cannot store and no
// chat needs; what names the field.
func noNUL(what string, texts ...string) error {
	for _, t := range texts {
		if strings.IndexByte(t, 0) >= 0 {
			return fmt.Errorf("%w: %s with a NUL byte", ErrInvalidArgument, what)
		}
	}
	return nil
}

// newRandomID returns a random (version 4) UUID. uuid.NewString reads its
// bytes through an io.Reader, which moves them to the heap; this costs one
// allocation, the string, on a path every message takes.
func newRandomID() string {
	var u uuid.UUID
	_, _ = rand.Read(u[:])  // never fails (crypto/rand.Read)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}
