package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

// AuthenticateEvent is what the Authenticate hook receives: the HTTP request
// of a WebSocket handshake or of an attachment call.
type AuthenticateEvent struct {
	Request *http.Request
}

// AuthenticateReply is what the Authenticate hook returns: who the caller is.
type AuthenticateReply struct {
	// Principal is the caller: an agent, a supervisor or a beneficiary.
	Principal attendance.Principal
}

// AuthenticateFunc turns a request into a principal or refuses it by
// returning an error: the caller gets 401 and code "unauthenticated", and
// the Go client stops reconnecting (see client.Client.Err). An error
// matching attendance.ErrUnavailable says the host cannot tell now (its
// session store is down): the caller gets 503 "unavailable" and retries;
// so does one matching context.DeadlineExceeded or context.Canceled while
// the request itself is still alive (a lookup that timed out).
// It may be called concurrently and should honour ctx.
type AuthenticateFunc func(ctx context.Context, ev AuthenticateEvent) (AuthenticateReply, error)

// Config configures a Server. A nil *Config is not enough: Authenticate is
// required. Every other field has a default.
type Config struct {
	// Authenticate turns a request into a principal. Required.
	Authenticate AuthenticateFunc

	// OriginPatterns are the host patterns whose browser Origin may open a
	// WebSocket or upload an attachment, as in github.com/coder/websocket
	// AcceptOptions. Defaults to none: only same-host origins (and
	// non-browser clients, which send no Origin) are accepted; an upload
	// from another origin gets 403 forbidden.
	OriginPatterns []string

	// MaxFrameBytes is the largest client frame accepted; a bigger frame
	// closes the connection with status 1009 (message too big). Defaults to
	// 64 KiB.
	MaxFrameBytes int64
	// CommandsPerSecond is the sustained rate of client frames per
	// connection; frames above it get a rate_limited error. Defaults to 20.
	CommandsPerSecond float64
	// CommandBurst is how many frames may arrive at once above the rate.
	// Defaults to 40.
	CommandBurst int
	// MaxStrikes is how many rate-limited frames in a row close the
	// connection with status 1008 (policy violation). Defaults to 50.
	MaxStrikes int
	// MaxConnectionsPerPrincipal caps the simultaneous connections of one
	// principal; one more is refused with HTTP 429. Defaults to 8.
	MaxConnectionsPerPrincipal int
	// OutboundBuffer is how many server frames may wait for a slow reader;
	// when it is full the connection is closed with status 1008 and the
	// client resumes from its last sequence numbers. A backlog (after a
	// hello, or a watch) is queued only while fewer than half of it wait,
	// and continues as the client reads (see Drainer). Defaults to 512.
	OutboundBuffer int
	// WriteTimeout bounds one frame write; a write that takes longer closes
	// the connection. It is checked every WriteTimeout/4 (at least every
	// second, at most every 10ms), so a stuck write may last that much
	// longer. Defaults to 10s.
	WriteTimeout time.Duration
	// HeartbeatInterval is how often the server sends a heartbeat event and
	// a WebSocket ping. Defaults to 25s.
	HeartbeatInterval time.Duration
	// PongTimeout is how long a ping waits for its pong before the
	// connection is closed. Defaults to 10s.
	PongTimeout time.Duration
	// HandshakeTimeout is how long a connection may stay without a
	// successful hello before it is closed with status 1008. Defaults to 10s.
	HandshakeTimeout time.Duration
	// ReplyCache is how many recent replies a connection remembers; a
	// command whose ID is among them gets the same reply again without being
	// run twice. Defaults to 64.
	ReplyCache int
	// HistoryBatch is how many messages are read from the engine at a time
	// when catching a client up, and the cap of a history command.
	// Defaults to 200.
	HistoryBatch int
	// MaxResume caps the conversations named in one hello. Defaults to 1000.
	MaxResume int
	// Workers is how many goroutines read the engine for connections with
	// pending notifications. A worker whose catch-up waits for a slow
	// client (see OutboundBuffer) is replaced while it waits, so Workers
	// counts the ones that do not wait. Defaults to 4 * GOMAXPROCS.
	Workers int

	// Blobs stores attachments. Defaults to nil: the attachment handler
	// answers 404 and send commands with attachments are refused.
	Blobs BlobStore
	// MaxAttachmentBytes caps an upload. Defaults to 10 MiB.
	MaxAttachmentBytes int64
	// AllowedTypes are the content types an upload may have, as sniffed
	// from its first bytes (never from its name or headers). Defaults to
	// DefaultAllowedTypes.
	AllowedTypes []string
	// MaxConcurrentUploads caps the uploads one principal may have in
	// progress on this server; one more gets HTTP 429 too_many_uploads.
	// Defaults to 4.
	MaxConcurrentUploads int
	// UploadIdleTimeout is how long an upload's body may send nothing: the
	// connection's read deadline is moved to now + UploadIdleTimeout before
	// each read of the body, and a stalled upload fails with HTTP 408
	// upload_timeout, keeping nothing. It bounds stalls, not the length of
	// an upload (a trickle keeps one alive): hosts should still set
	// http.Server's ReadHeaderTimeout, ReadTimeout (never extended: an
	// upload's deadline stays within it, counted from the handler's
	// start), WriteTimeout and IdleTimeout. Without read deadlines
	// (http.ErrNotSupported) there is no idle timeout. Defaults to 30s.
	UploadIdleTimeout time.Duration
	// UnsentBlobTTL is how long an upload that no message references is
	// kept: when Blobs implements BlobSweeper (FSBlobStore does), the
	// server removes such uploads once they are this old, checking every
	// UnsentBlobTTL/2 (at least once an hour), and refuses to send one
	// older than UnsentBlobTTL/2 (not_found: upload it again), so that the
	// sweep never meets a send. Negative keeps every upload. Defaults to
	// 24h.
	UnsentBlobTTL time.Duration

	// Logger receives operational logs, never message bodies. Defaults to
	// discarding.
	Logger *slog.Logger
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// DefaultAllowedTypes are the attachment types accepted by default.
var DefaultAllowedTypes = []string{
	"application/pdf",
	"image/png",
	"image/jpeg",
	"image/gif",
	"image/webp",
	"text/plain; charset=utf-8",
}

func (c *Config) withDefaults() (Config, error) {
	if c == nil {
		return Config{}, fmt.Errorf("%w: nil config: Authenticate is required", attendance.ErrInvalidArgument)
	}
	d := *c
	if d.Authenticate == nil {
		return Config{}, fmt.Errorf("%w: Config.Authenticate is required", attendance.ErrInvalidArgument)
	}
	def(&d.MaxFrameBytes, 64<<10)
	def(&d.CommandsPerSecond, 20)
	def(&d.CommandBurst, 40)
	def(&d.MaxStrikes, 50)
	def(&d.MaxConnectionsPerPrincipal, 8)
	def(&d.OutboundBuffer, 512)
	def(&d.WriteTimeout, 10*time.Second)
	def(&d.HeartbeatInterval, 25*time.Second)
	def(&d.PongTimeout, 10*time.Second)
	def(&d.HandshakeTimeout, 10*time.Second)
	def(&d.ReplyCache, 64)
	def(&d.HistoryBatch, 200)
	def(&d.MaxResume, 1000)
	def(&d.Workers, 4*runtime.GOMAXPROCS(0))
	def(&d.MaxAttachmentBytes, 10<<20)
	def(&d.MaxConcurrentUploads, 4)
	def(&d.UploadIdleTimeout, 30*time.Second)
	def(&d.UnsentBlobTTL, 24*time.Hour)
	if d.AllowedTypes == nil {
		d.AllowedTypes = DefaultAllowedTypes
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	switch {
	case d.MaxFrameBytes < 256:
		return Config{}, fmt.Errorf("%w: Config.MaxFrameBytes must be at least 256", attendance.ErrInvalidArgument)
	case d.CommandsPerSecond < 0 || d.CommandBurst < 1 || d.MaxStrikes < 1:
		return Config{}, fmt.Errorf("%w: Config.CommandsPerSecond, CommandBurst and MaxStrikes must be positive", attendance.ErrInvalidArgument)
	case d.MaxConcurrentUploads < 1 || d.UploadIdleTimeout < 0:
		return d, fmt.Errorf("%w: MaxConcurrentUploads must be positive and UploadIdleTimeout not negative", attendance.ErrInvalidArgument)
	case d.MaxConnectionsPerPrincipal < 1 || d.OutboundBuffer < 8 || d.ReplyCache < 1 || d.HistoryBatch < 1 || d.MaxResume < 1 || d.Workers < 1:
		return Config{}, fmt.Errorf("%w: Config limits must be positive (OutboundBuffer at least 8)", attendance.ErrInvalidArgument)
	case d.WriteTimeout < 0 || d.HeartbeatInterval < 0 || d.PongTimeout < 0 || d.HandshakeTimeout < 0:
		return Config{}, fmt.Errorf("%w: Config durations must not be negative", attendance.ErrInvalidArgument)
	case d.MaxAttachmentBytes < 1:
		return Config{}, fmt.Errorf("%w: Config.MaxAttachmentBytes must be positive", attendance.ErrInvalidArgument)
	}
	return d, nil
}

func def[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Server connects clients to an attendance engine. It follows the engine's
// notifications once (not once per connection), routes them to the
// sessions concerned, and has a small pool of workers read the engine for
// each session that has something new. Create it with NewServer, Start it,
// mount Handler (WebSocket) and AttachmentHandler (HTTP) on a mux, and Stop
// it at shutdown. Its methods are safe for concurrent use.
type Server struct {
	eng *attendance.Engine
	cfg Config
	log *slog.Logger

	mu       sync.RWMutex
	started  bool
	closed   bool
	runCtx   context.Context
	cancel   context.CancelFunc
	sessions map[*Session]struct{}
	// The sessions by principal and by conversation streamed are short
	// lists (a principal has at most MaxConnectionsPerPrincipal; a
	// conversation's streamers are its participants and a few watchers),
	// which the relay and the dispatcher walk on every message: a slice
	// reads faster there than a map. A queue may have thousands waiting.
	byAgent  map[string][]*Session // agents and supervisors, by ID
	byBenef  map[string][]*Session
	byConv   map[string][]*Session            // sessions streaming a conversation
	byQueue  map[string]map[*Session]struct{} // beneficiary sessions waiting in a queue
	perPrinc map[attendance.Principal]int
	nextSess uint64
	sub      *attendance.Subscription
	runq     runQueue
	uploads  uploadGate // uploads in progress, by principal
	// spares counts the workers owed back after a wait (spareWorker).
	spares    atomic.Int64
	wg        sync.WaitGroup
	handlerWS http.Handler
}

// NewServer returns a server over eng. It validates cfg and applies the
// defaults; it starts no goroutine (see Start).
func NewServer(eng *attendance.Engine, cfg *Config) (*Server, error) {
	if eng == nil {
		return nil, fmt.Errorf("%w: nil engine", attendance.ErrInvalidArgument)
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		eng:      eng,
		cfg:      c,
		log:      c.Logger,
		sessions: make(map[*Session]struct{}),
		byAgent:  make(map[string][]*Session),
		byBenef:  make(map[string][]*Session),
		byConv:   make(map[string][]*Session),
		byQueue:  make(map[string]map[*Session]struct{}),
		perPrinc: make(map[attendance.Principal]int),
	}
	s.runq.cond = sync.NewCond(&s.runq.mu)
	s.handlerWS = &wsHandler{srv: s}
	return s, nil
}

// Start subscribes to the engine's notifications and starts the dispatcher
// and the workers. Until Start, the handlers answer 503. Calling Start twice
// is an error.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("%w: server already started", attendance.ErrInvalidArgument)
	}
	sub, err := s.eng.Subscribe(ctx, attendance.SystemPrincipal, attendance.SubscribeParams{})
	if err != nil {
		return fmt.Errorf("transport: subscribe to engine: %w", err)
	}
	s.sub = sub
	s.started = true
	s.runCtx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2 + s.cfg.Workers)
	go s.dispatch(s.runCtx)
	go s.watchWrites(s.runCtx)
	for range s.cfg.Workers {
		go s.work(s.runCtx)
	}
	if sw, ok := s.cfg.Blobs.(BlobSweeper); ok && s.cfg.UnsentBlobTTL > 0 {
		s.wg.Add(1)
		go s.sweepBlobs(s.runCtx, sw)
	}
	return nil
}

// sweepBlobs removes, every UnsentBlobTTL/2 (at least hourly, at most
// every 10ms), the uploads no message came to reference within
// UnsentBlobTTL.
func (s *Server) sweepBlobs(ctx context.Context, sw BlobSweeper) {
	defer s.wg.Done()
	t := time.NewTicker(max(min(s.cfg.UnsentBlobTTL/2, time.Hour), 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := sw.Sweep(ctx, s.cfg.Now().Add(-s.cfg.UnsentBlobTTL))
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("transport: sweeping unsent uploads failed", "removed", n, "err", err)
		case n > 0:
			s.log.Info("transport: removed unsent uploads", "removed", n, "older_than", s.cfg.UnsentBlobTTL)
		}
	}
}

// Stop closes every connection with status 1001 (going away), stops the
// dispatcher and the workers, and waits for them or for ctx.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.started || s.closed {
		s.closed = true
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	sessions := make([]*Session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.fail(CloseGoingAway, "server stopping")
	}
	s.cancel()
	s.sub.Close()
	s.runq.close()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Handler returns the WebSocket handler, to be mounted on the host's mux.
// Every request is authenticated with Config.Authenticate; agents,
// supervisors and beneficiaries share it (the principal's role decides
// what they may do).
func (s *Server) Handler() http.Handler { return s.handlerWS }

// running returns the run context, or false when the server does not run.
func (s *Server) running() (context.Context, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.runCtx, s.started && !s.closed
}

// dispatch follows the engine's notifications and marks the sessions they
// concern. It never blocks on a session.
func (s *Server) dispatch(ctx context.Context) {
	defer s.wg.Done()
	for {
		ns, err := s.sub.Next(ctx)
		if err != nil {
			if !errors.Is(err, attendance.ErrClosed) && ctx.Err() == nil {
				s.log.Warn("transport: notifications stopped", "err", err)
			}
			if errors.Is(err, attendance.ErrClosed) && ctx.Err() == nil {
				// The engine stopped: nothing more will be announced.
				go s.Stop(context.Background())
			}
			return
		}
		var typing []attendance.Notification
		s.mu.RLock()
		for _, n := range ns {
			if n.Kind == attendance.NotifyTyping {
				typing = append(typing, n)
				continue
			}
			s.route(n)
		}
		s.mu.RUnlock()
		for _, n := range typing {
			s.deliverTyping(n)
		}
	}
}

// deliverTyping sends a typing indicator (from any node, this one's
// included) to the sessions of this node that stream its conversation:
// not to the typist's own, and to an agent only while the conversation is
// theirs (n.AgentIDs; a session may still be indexed for a chat that just
// left it). It may drop the indicator for a connection whose buffer is
// full. Called without s.mu, since a failed delivery closes a session.
func (s *Server) deliverTyping(n attendance.Notification) {
	if n.Typing == nil {
		return
	}
	var b []byte
	for _, peer := range s.peers(n.ConversationID) {
		if peer.p == n.Typing.From || peer.p.Role == attendance.RoleAgent && !slices.Contains(n.AgentIDs, peer.p.ID) {
			continue
		}
		if b == nil {
			b = encodeFrame(ServerFrame{Type: EventTyping, ConversationID: n.ConversationID, Data: rawJSON(TypingInfo{From: n.Typing.From, Active: n.Typing.Active})})
		}
		peer.deliver(b, true)
	}
}

// route hands n to the sessions it concerns. Called with s.mu read-held.
func (s *Server) route(n attendance.Notification) {
	switch n.Kind {
	case attendance.NotifyConversation:
		// The sessions streaming the conversation, then the principals'
		// other sessions (each session once: notifying it twice would
		// only cost a second look).
		streaming := s.byConv[n.ConversationID]
		for _, ss := range streaming {
			ss.notifyConversation(n)
		}
		for _, ss := range s.byBenef[n.BeneficiaryID] {
			if !slices.Contains(streaming, ss) {
				ss.notifyConversation(n)
			}
		}
		for _, a := range n.AgentIDs {
			for _, ss := range s.byAgent[a] {
				if !slices.Contains(streaming, ss) {
					ss.notifyConversation(n)
				}
			}
		}
	case attendance.NotifyQueue:
		for ss := range s.byQueue[n.QueueID] {
			ss.notifyQueue(n.QueueID)
		}
	case attendance.NotifyAgent:
		for _, a := range n.AgentIDs {
			for _, ss := range s.byAgent[a] {
				ss.notifyAgent()
			}
		}
	case attendance.NotifyResync:
		// Notifications may have been lost (a bus reconnected): every
		// session re-reads everything it follows.
		for ss := range s.sessions {
			ss.notifyResync()
		}
	}
}

// watchWrites closes the connections whose frame write has been in
// progress for longer than Config.WriteTimeout. One goroutine checking
// every connection a few times per timeout replaces a timer per frame.
func (s *Server) watchWrites(ctx context.Context) {
	defer s.wg.Done()
	every := min(max(s.cfg.WriteTimeout/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	var stuck []*wsConn
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := clock()
		stuck = stuck[:0]
		s.mu.RLock()
		for ss := range s.sessions {
			if w, ok := ss.conn.(*wsConn); ok && w.stuck(now) {
				stuck = append(stuck, w)
			}
		}
		s.mu.RUnlock()
		for _, w := range stuck {
			w.abort()
		}
	}
}

// index helpers; each takes s.mu.
func addTo(m map[string]map[*Session]struct{}, k string, ss *Session) {
	set := m[k]
	if set == nil {
		set = make(map[*Session]struct{})
		m[k] = set
	}
	set[ss] = struct{}{}
}

func removeFrom(m map[string]map[*Session]struct{}, k string, ss *Session) {
	if set := m[k]; set != nil {
		delete(set, ss)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

func addToList(m map[string][]*Session, k string, ss *Session) {
	if l := m[k]; !slices.Contains(l, ss) {
		m[k] = append(l, ss)
	}
}

func removeFromList(m map[string][]*Session, k string, ss *Session) {
	l := m[k]
	i := slices.Index(l, ss)
	switch {
	case i < 0: // not there
	case len(l) == 1:
		delete(m, k)
	default:
		m[k] = slices.Delete(l, i, i+1) // readers copy or walk it under s.mu
	}
}

// mark adds k to a session's list of index keys, or removes it.
func mark(keys *[]string, k string, on bool) {
	i := slices.Index(*keys, k)
	switch {
	case on && i < 0:
		*keys = append(*keys, k)
	case !on && i >= 0:
		*keys = slices.Delete(*keys, i, i+1)
	}
}

func (s *Server) indexConversation(ss *Session, convID string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	on = on && !ss.isClosed()
	if on {
		addToList(s.byConv, convID, ss)
	} else {
		removeFromList(s.byConv, convID, ss)
	}
	mark(&ss.indexedConvs, convID, on)
}

func (s *Server) indexQueue(ss *Session, queueID string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	on = on && !ss.isClosed()
	if on {
		addTo(s.byQueue, queueID, ss)
	} else {
		removeFrom(s.byQueue, queueID, ss)
	}
	mark(&ss.indexedQueues, queueID, on)
}

// relay brings the sessions of this node that stream m's conversation up
// to date with m, a new message, on the calling goroutine
// (Session.catchUp). That includes the sender's own session, whose cursor
// moves past the message its send result carried, unless skip is that
// session, already past m (Session.advanceOwn). Sessions on other nodes,
// and busy ones here, hear of it from the message's doorbell. data is m
// encoded.
func (s *Server) relay(m *attendance.Message, data json.RawMessage, skip *Session) {
	var buf [4]*Session
	s.mu.RLock()
	ctx, peers := s.runCtx, buf[:0]
	peers = append(peers, s.byConv[m.ConversationID]...)
	s.mu.RUnlock()
	var event []byte // encoded once, for the first session that needs it
	encoded := func() []byte {
		if event == nil {
			event = encodeFrame(ServerFrame{Type: EventMessage, ConversationID: m.ConversationID, Seq: m.Seq, Data: data})
		}
		return event
	}
	for _, ss := range peers {
		if ss != skip {
			ss.catchUp(ctx, m, encoded)
		}
	}
}

// peers returns the sessions that stream convID.
func (s *Server) peers(convID string) []*Session {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.byConv[convID])
}

// Attach starts a session for p over conn: the seam where a wire
// (WebSocket here; Server-Sent Events or a messaging adapter later) meets
// the protocol. The wire passes each client frame to Session.Handle, and
// calls Session.Close when the connection ends. Attach fails with
// ErrServerClosed when the server does not run and ErrTooManyConnections
// when p is at Config.MaxConnectionsPerPrincipal.
func (s *Server) Attach(ctx context.Context, p attendance.Principal, conn Conn) (*Session, error) {
	if conn == nil {
		return nil, fmt.Errorf("%w: nil conn", attendance.ErrInvalidArgument)
	}
	if err := checkPrincipal(p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.closed {
		return nil, ErrServerClosed
	}
	if s.perPrinc[p] >= s.cfg.MaxConnectionsPerPrincipal {
		return nil, fmt.Errorf("%w: %s %s has %d", ErrTooManyConnections, p.Role, p.ID, s.perPrinc[p])
	}
	s.nextSess++
	ss := newSession(s, p, conn, fmt.Sprintf("s%d", s.nextSess))
	s.perPrinc[p]++
	s.sessions[ss] = struct{}{}
	if p.Role == attendance.RoleBeneficiary {
		addToList(s.byBenef, p.ID, ss)
	} else {
		addToList(s.byAgent, p.ID, ss)
	}
	ss.startTimers()
	return ss, nil
}

func checkPrincipal(p attendance.Principal) error {
	if p.ID == "" {
		return fmt.Errorf("%w: principal without ID", ErrUnauthenticated)
	}
	switch p.Role {
	case attendance.RoleAgent, attendance.RoleSupervisor, attendance.RoleBeneficiary:
		return nil
	}
	return fmt.Errorf("%w: role %q cannot connect", attendance.ErrForbidden, p.Role)
}

// detach removes ss from every index. Called once per session.
func (s *Server) detach(ss *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[ss]; !ok {
		return
	}
	delete(s.sessions, ss)
	if s.perPrinc[ss.p]--; s.perPrinc[ss.p] <= 0 {
		delete(s.perPrinc, ss.p)
	}
	removeFromList(s.byBenef, ss.p.ID, ss)
	removeFromList(s.byAgent, ss.p.ID, ss)
	for _, c := range ss.indexedConvs {
		removeFromList(s.byConv, c, ss)
	}
	for _, q := range ss.indexedQueues {
		removeFrom(s.byQueue, q, ss)
	}
	ss.indexedConvs, ss.indexedQueues = nil, nil
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	Connections int
}

// Stats returns the number of attached sessions.
func (s *Server) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Stats{Connections: len(s.sessions)}
}

// runQueue is the FIFO of sessions with pending work. A session is in it at
// most once (Session.scheduled).
type runQueue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	items  []*Session
	head   int
	closed bool
}

func (q *runQueue) push(ss *Session) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, ss)
		q.cond.Signal()
	}
	q.mu.Unlock()
}

// pop returns the next session, waiting for one; it returns false when the
// queue is closed, or when retire, asked before each wait, says the
// calling worker is one too many.
func (q *runQueue) pop(retire func() bool) (*Session, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.items) && !q.closed {
		if retire() {
			return nil, false
		}
		q.cond.Wait()
	}
	if q.closed {
		return nil, false
	}
	ss := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		q.items, q.head = q.items[:n], 0
	}
	return ss, true
}

// wakeOne wakes a waiting worker, if any, to see whether it should retire.
func (q *runQueue) wakeOne() {
	q.mu.Lock()
	q.cond.Signal()
	q.mu.Unlock()
}

func (q *runQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

func (s *Server) work(ctx context.Context) {
	defer s.wg.Done()
	for {
		ss, ok := s.runq.pop(s.retire)
		if !ok {
			return
		}
		ss.run(ctx)
		if s.retire() {
			return
		}
	}
}

// spareWorker starts a worker in place of the calling one, which is about
// to wait for a slow connection (Session.pace), and returns the function
// to call when the wait ends: then the first worker found idle or done
// with a pass retires, so the pool keeps Config.Workers goroutines that do
// not wait.
func (s *Server) spareWorker(ctx context.Context) (waited func()) {
	s.wg.Add(1)
	go s.work(ctx)
	return func() {
		s.spares.Add(1)
		s.runq.wakeOne()
	}
}

// retire reports whether the calling worker should end, one spare being
// owed back.
func (s *Server) retire() bool {
	for {
		n := s.spares.Load()
		if n == 0 {
			return false
		}
		if s.spares.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// Disconnect closes every connection of p with WebSocket status 1013 (try
// again later) and returns how many it closed. Clients that reconnect are
// authenticated again and resume where they were; a host revoking access
// refuses them in Authenticate.
func (s *Server) Disconnect(p attendance.Principal) int {
	s.mu.RLock()
	var list []*Session
	for ss := range s.sessions {
		if ss.p == p {
			list = append(list, ss)
		}
	}
	s.mu.RUnlock()
	for _, ss := range list {
		ss.fail(CloseTryAgain, "disconnected by the server")
	}
	return len(list)
}
