package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mosiachat/mosiachat/attendance"
)

var _ attendance.Bus = (*Bus)(nil)

// maxPayloadBytes is the largest NOTIFY payload PostgreSQL accepts in its
// default build: it must be shorter than 8000 bytes.
const maxPayloadBytes = 7999

// attemptTimeout bounds one reconnection attempt (connect and LISTEN), a
// ping of the listener's connection and its close.
const attemptTimeout = 30 * time.Second

// BusConfig tunes a Bus. A nil *BusConfig means all defaults.
type BusConfig struct {
	// Schema is the Config.Schema of the Stores whose engines talk on this
	// bus: buses given the same schema hear each other, and only them. The
	// channel's name is derived from it (see Bus.Channel). Defaults to
	// "mosiachat", like Config.Schema.
	Schema string
	// MaxConns caps the connection pool Publish uses. Defaults to the DSN's
	// pool_max_conns, or else pgxpool's default (4 or the number of CPUs,
	// whichever is more). The listener has one more connection of its own.
	MaxConns int32
	// PingInterval is how long the listener waits without hearing anything
	// before it checks that its connection is still alive. Defaults to 30s.
	PingInterval time.Duration
	// MinReconnectDelay is the wait before the first attempt to reconnect a
	// lost listener; each failed attempt doubles it, up to
	// MaxReconnectDelay. Defaults to 100ms.
	MinReconnectDelay time.Duration
	// MaxReconnectDelay caps the wait between reconnection attempts.
	// Defaults to 10s.
	MaxReconnectDelay time.Duration
	// Logger receives operational messages (a lost or restored listener, a
	// trimmed notification). Defaults to discarding.
	Logger *slog.Logger
}

func (c *BusConfig) withDefaults() (BusConfig, error) {
	var out BusConfig
	if c != nil {
		out = *c
	}
	if out.Schema == "" {
		out.Schema = "mosiachat"
	}
	if out.PingInterval == 0 {
		out.PingInterval = 30 * time.Second
	}
	if out.MinReconnectDelay == 0 {
		out.MinReconnectDelay = 100 * time.Millisecond
	}
	if out.MaxReconnectDelay == 0 {
		out.MaxReconnectDelay = 10 * time.Second
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case len(out.Schema) > 63:
		return out, fmt.Errorf("postgres: BusConfig.Schema %q is longer than 63 bytes: %w", out.Schema, attendance.ErrInvalidArgument)
	case strings.ContainsRune(out.Schema, 0):
		return out, fmt.Errorf("postgres: BusConfig.Schema contains a NUL byte: %w", attendance.ErrInvalidArgument)
	case out.MaxConns < 0:
		return out, fmt.Errorf("postgres: BusConfig.MaxConns must not be negative, got %d: %w", out.MaxConns, attendance.ErrInvalidArgument)
	case out.PingInterval < 0:
		return out, fmt.Errorf("postgres: BusConfig.PingInterval must not be negative, got %s: %w", out.PingInterval, attendance.ErrInvalidArgument)
	case out.MinReconnectDelay < 0:
		return out, fmt.Errorf("postgres: BusConfig.MinReconnectDelay must not be negative, got %s: %w", out.MinReconnectDelay, attendance.ErrInvalidArgument)
	case out.MaxReconnectDelay < out.MinReconnectDelay:
		return out, fmt.Errorf("postgres: BusConfig.MaxReconnectDelay (%s) must not be less than MinReconnectDelay (%s): %w", out.MaxReconnectDelay, out.MinReconnectDelay, attendance.ErrInvalidArgument)
	}
	return out, nil
}

// Bus is an attendance.Bus over PostgreSQL's LISTEN/NOTIFY, so that engine
// nodes sharing one database hear each other's changes at once. Create it
// with OpenBus and release it with Close; a *Bus is safe for concurrent use.
//
// Publish sends a notification with pg_notify on a small pool. A dedicated
// connection LISTENs on the schema's channel and one goroutine calls the
// handlers, one notification at a time, in the order the server delivers
// them. That connection hears this Bus's own notifications too, so Publish
// reaches every subscriber, this node's included, the way LocalBus does.
type Bus struct {
	pool    *pgxpool.Pool
	connCfg *pgx.ConnConfig
	cfg     BusConfig
	channel string
	target  string // user@host:port/db, for messages

	mu       sync.RWMutex
	next     int
	handlers map[int]func(attendance.Notification)

	pid    atomic.Uint32 // the listener's backend, for tests and diagnostics
	pings  atomic.Int64  // liveness checks of the listener's connection
	closed chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// OpenBus connects to the database named by dsn (as Open accepts it),
// LISTENs on the channel of cfg.Schema and starts the goroutine that calls
// the handlers; Close stops it.
//
// ctx bounds the first connection only. OpenBus fails, naming the problem,
// when the DSN does not parse (ErrInvalidArgument), when the server cannot
// be reached or refuses the login or the database, and when cfg is invalid.
// Once it has returned, a lost listener connection is restored in the
// background (see Bus).
func OpenBus(ctx context.Context, dsn string, cfg *BusConfig) (*Bus, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(dsn) == "" {
		return nil, fmt.Errorf("postgres: open bus: empty DSN: %w", attendance.ErrInvalidArgument)
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open bus: bad DSN: %w (%w)", err, attendance.ErrInvalidArgument)
	}
	if c.MaxConns > 0 {
		pc.MaxConns = c.MaxConns
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	connCfg := pc.ConnConfig.Copy()
	if connCfg.RuntimeParams == nil {
		connCfg.RuntimeParams = map[string]string{}
	}
	if connCfg.RuntimeParams["application_name"] == "" {
		connCfg.RuntimeParams["application_name"] = "mosiachat bus"
	}
	b := &Bus{
		connCfg:  connCfg,
		cfg:      c,
		channel:  busChannel(c.Schema),
		target:   fmt.Sprintf("%s@%s:%d/%s", pc.ConnConfig.User, pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database),
		handlers: make(map[int]func(attendance.Notification)),
		closed:   make(chan struct{}),
		done:     make(chan struct{}),
	}
	conn, err := b.listen(ctx)
	if err != nil {
		return nil, connectError(ctx, b.target, err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("postgres: open bus %s: %w", b.target, err)
	}
	b.pool = pool
	runCtx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go b.run(runCtx, conn)
	return b, nil
}

// busChannel derives the channel's name from the schema. A channel is an
// identifier, so it is kept within 63 bytes: a long schema name is replaced
// by a hash of it, under a prefix that no short name can produce.
func busChannel(schema string) string {
	if name := "mosiachat_bus:" + schema; len(name) <= 63 {
		return name
	}
	sum := sha256.Sum256([]byte(schema))
	return "mosiachat_bus#" + hex.EncodeToString(sum[:16])
}

// Channel returns the name of the channel the bus NOTIFYs and LISTENs on.
func (b *Bus) Channel() string { return b.channel }

// listen opens the listener's connection and LISTENs on the channel.
func (b *Bus) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, b.connCfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{b.channel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, err
	}
	b.pid.Store(conn.PgConn().PID())
	return conn, nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), attemptTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}

// run is the listener goroutine: it waits for notifications and hands them
// to the handlers, and restores a lost connection.
func (b *Bus) run(ctx context.Context, conn *pgx.Conn) {
	defer close(b.done)
	for {
		n, err := b.wait(ctx, conn)
		if ctx.Err() != nil {
			closeConn(conn)
			return
		}
		if err != nil {
			b.cfg.Logger.Warn("postgres: bus listener lost its connection; reconnecting", "channel", b.channel, "err", err)
			closeConn(conn)
			if conn = b.reconnect(ctx); conn == nil {
				return
			}
			b.cfg.Logger.Info("postgres: bus listener reconnected; asking engines to resync", "channel", b.channel)
			b.deliver(attendance.Notification{Kind: attendance.NotifyResync})
			continue
		}
		b.receive(n.Payload)
	}
}

// wait returns the next notification. After PingInterval of silence it
// checks the connection, so that a connection that died without a word is
// noticed.
func (b *Bus) wait(ctx context.Context, conn *pgx.Conn) (*pgconn.Notification, error) {
	for {
		waitCtx, cancel := context.WithTimeout(ctx, b.cfg.PingInterval)
		n, err := conn.WaitForNotification(waitCtx)
		timedOut := waitCtx.Err() != nil
		cancel()
		switch {
		case n != nil:
			return n, nil // an error, if any, comes back on the next wait
		case err == nil:
			continue
		case ctx.Err() != nil || !timedOut || !pgconn.Timeout(err):
			return nil, err
		}
		pingCtx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err = conn.Ping(pingCtx)
		cancel()
		b.pings.Add(1)
		if err != nil {
			return nil, err
		}
	}
}

// reconnect retries listen with growing delays until it succeeds, or
// returns nil when ctx ends.
func (b *Bus) reconnect(ctx context.Context) *pgx.Conn {
	delay := b.cfg.MinReconnectDelay
	for {
		// Wait between half the delay and the whole of it, so that nodes
		// that lost the server together do not all return at once.
		t := time.NewTimer(delay/2 + rand.N(delay/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		attemptCtx, cancel := context.WithTimeout(ctx, attemptTimeout)
		conn, err := b.listen(attemptCtx)
		cancel()
		if err == nil {
			return conn
		}
		if ctx.Err() != nil {
			return nil
		}
		b.cfg.Logger.Warn("postgres: bus listener cannot reconnect yet", "channel", b.channel, "target", b.target, "err", err, "retry_in", delay)
		delay = min(2*delay, b.cfg.MaxReconnectDelay)
	}
}

// wireNotification is a notification as it travels in a NOTIFY payload.
// Trimmed says that the sender dropped fields to fit PostgreSQL's limit.
type wireNotification struct {
	attendance.Notification
	Trimmed bool `json:"trimmed,omitempty"`
}

// receive decodes a payload and delivers it. A payload that was trimmed,
// or that cannot be read, may hide changes: a resync follows it.
func (b *Bus) receive(payload string) {
	var w wireNotification
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		b.cfg.Logger.Warn("postgres: bus received an unreadable notification; asking engines to resync", "channel", b.channel, "bytes", len(payload), "err", err)
		b.deliver(attendance.Notification{Kind: attendance.NotifyResync})
		return
	}
	b.deliver(w.Notification)
	if w.Trimmed && w.Kind != attendance.NotifyResync {
		b.deliver(attendance.Notification{Kind: attendance.NotifyResync, Origin: w.Origin})
	}
}

// deliver calls every handler with n, holding no lock meanwhile, so that a
// handler may subscribe or unsubscribe.
func (b *Bus) deliver(n attendance.Notification) {
	b.mu.RLock()
	handlers := make([]func(attendance.Notification), 0, len(b.handlers))
	for _, h := range b.handlers {
		handlers = append(handlers, h)
	}
	b.mu.RUnlock()
	for _, h := range handlers {
		h(n)
	}
}

// Publish sends n to every subscriber of every Bus on this schema, this one
// included; they hear it asynchronously, from their listener goroutine. It
// is safe for concurrent use, and ctx bounds the NOTIFY.
//
// A notification whose JSON would not fit in a NOTIFY payload (8000 bytes)
// is trimmed rather than refused: agent IDs are dropped from the end until
// it fits, then everything but its kind, conversation and origin, and as a
// last resort it becomes a NotifyResync; a typing indicator, the one
// notification that carries its own news, is refused instead
// (ErrInvalidArgument) and nothing is sent. Receivers deliver a trimmed
// notification as it arrived and then a NotifyResync, so engines reload
// what it could not name; a subscription that it could no longer name
// misses it. Trimming is logged.
//
// Errors name the channel and match ctx's error, or attendance.ErrClosed
// after Close; a failed NOTIFY is returned, never dropped.
func (b *Bus) Publish(ctx context.Context, n attendance.Notification) error {
	select {
	case <-b.closed:
		return fmt.Errorf("postgres: bus publish on %s: %w", b.channel, attendance.ErrClosed)
	default:
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: bus publish on %s: %w", b.channel, err)
	}
	payload, trimmed, err := encodeNotification(n, maxPayloadBytes)
	if err != nil {
		return fmt.Errorf("postgres: bus publish on %s: %w", b.channel, err)
	}
	if trimmed && n.Kind == attendance.NotifyTyping {
		// Trimmed, it would name no typist and make every engine resync
		// for an indicator: it is dropped, and said so.
		return fmt.Errorf("postgres: bus publish on %s: typing indicator too large for NOTIFY, dropped: %w", b.channel, attendance.ErrInvalidArgument)
	}
	if trimmed {
		b.cfg.Logger.Warn("postgres: bus notification too large for NOTIFY; sent trimmed, receivers resync", "channel", b.channel, "kind", n.Kind, "conversation", n.ConversationID, "agents", len(n.AgentIDs))
	}
	if _, err := b.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, b.channel, payload); err != nil {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			return fmt.Errorf("postgres: bus publish on %s: %w (%w)", b.channel, ctx.Err(), err)
		}
		return fmt.Errorf("postgres: bus publish on %s: %w", b.channel, err)
	}
	return nil
}

// encodeNotification returns n's payload, trimmed to at most limit bytes
// if it must be. The payload is ASCII (JSON escapes the rest), so its size
// is the same in any server encoding.
func encodeNotification(n attendance.Notification, limit int) (string, bool, error) {
	full, err := marshalASCII(wireNotification{Notification: n})
	if err != nil || len(full) <= limit {
		return string(full), false, err
	}
	fits := func(w wireNotification) ([]byte, bool) {
		b, err := marshalASCII(w)
		return b, err == nil && len(b) <= limit
	}
	// Keep the most agent IDs that fit: keeping fewer never makes the
	// payload larger, so the first count that does not fit is found by
	// bisection (all of them do not).
	w := wireNotification{Notification: n, Trimmed: true}
	keep := sort.Search(len(n.AgentIDs)+1, func(k int) bool {
		w.AgentIDs = n.AgentIDs[:k]
		_, ok := fits(w)
		return !ok
	}) - 1
	if keep >= 0 {
		w.AgentIDs = n.AgentIDs[:keep]
		if b, ok := fits(w); ok {
			return string(b), true, nil
		}
	}
	short := wireNotification{Trimmed: true, Notification: attendance.Notification{Kind: n.Kind, ConversationID: n.ConversationID, Origin: n.Origin}}
	if b, ok := fits(short); ok {
		return string(b), true, nil
	}
	b, err := marshalASCII(wireNotification{Notification: attendance.Notification{Kind: attendance.NotifyResync}})
	return string(b), true, err
}

// marshalASCII is json.Marshal with every non-ASCII character escaped.
func marshalASCII(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return b, nil
	}
	out := make([]byte, 0, len(b)+len(b)/2)
	for _, r := range string(b) {
		switch {
		case r < utf8.RuneSelf:
			out = append(out, byte(r))
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
	}
	return out, nil
}

// Subscribe registers handler until the returned function is called. It is
// safe for concurrent use, from a handler too. Handlers are called one at a
// time from the listener goroutine, never while the bus holds a lock; a
// handler that blocks holds up every other. A notification already being
// delivered when unsubscribe is called may still reach the handler;
// none published after that will. Subscribe returns an error matching
// attendance.ErrClosed after Close.
func (b *Bus) Subscribe(handler func(attendance.Notification)) (func(), error) {
	if handler == nil {
		return nil, fmt.Errorf("postgres: bus subscribe: nil handler: %w", attendance.ErrInvalidArgument)
	}
	select {
	case <-b.closed:
		return nil, fmt.Errorf("postgres: bus subscribe on %s: %w", b.channel, attendance.ErrClosed)
	default:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	b.handlers[id] = handler
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.handlers, id)
	}, nil
}

// Close stops the listener, waits for its goroutine to return (after the
// handler it may be running) and closes the pool. No handler is called
// after Close returns. Close is idempotent; it must not be called from a
// handler.
func (b *Bus) Close() error {
	b.once.Do(func() {
		close(b.closed)
		b.cancel()
		<-b.done
		b.pool.Close()
	})
	return nil
}
