package client

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
)

// Config configures a Client. A nil *Config uses every default.
type Config struct {
	// Header returns the HTTP headers of each handshake, typically the
	// credentials. It is called before every connection, so a token can be
	// refreshed. Defaults to no headers.
	Header func(ctx context.Context) (http.Header, error)
	// HTTPClient makes the handshakes. Defaults to http.DefaultClient.
	HTTPClient *http.Client
	// MinBackoff is the first wait before a reconnection. Defaults to 100ms.
	MinBackoff time.Duration
	// MaxBackoff caps the wait between reconnections. Defaults to 5s.
	MaxBackoff time.Duration
	// EventBuffer is the capacity of the Events channel. While it is full
	// the client stops reading the socket, replies included: a command
	// whose reply is awaited on the goroutine that reads Events can then
	// wait until its ctx ends (see the package doc). If that lasts, the
	// server closes the connection as a slow reader and the client
	// resumes. Defaults to 1024.
	EventBuffer int
	// MaxFrameBytes caps a server frame. The largest the server sends is a
	// history reply: up to Config.HistoryBatch messages (200 by default)
	// of up to the engine's MaxMessageBytes each, escaped. Defaults to
	// 16 MiB.
	MaxFrameBytes int64
	// Resume seeds the cursors (conversation ID -> last sequence seen), for
	// a client that kept them across restarts. Defaults to none.
	Resume map[string]int64
	// Logger receives connection logs. Defaults to discarding.
	Logger *slog.Logger
}

// Event is one server event (any frame that is not a reply).
type Event struct {
	Type           string
	ConversationID string
	Seq            int64
	Data           json.RawMessage
}

// Decode unmarshals the event's data into v.
func (e Event) Decode(v any) error { return json.Unmarshal(e.Data, v) }

// Message decodes a message event's data.
func (e Event) Message() (attendance.Message, error) {
	var m attendance.Message
	err := e.Decode(&m)
	return m, err
}

// Error is an error reply from the server.
type Error struct {
	Code         transport.Code
	Message      string
	RetryAfterMS int64
}

func (e *Error) Error() string { return "client: " + string(e.Code) + ": " + e.Message }

// Errors of the client.
var (
	// ErrConnectionLost: the connection dropped before a command that is
	// not safe to repeat got its reply; it may or may not have run.
	ErrConnectionLost = errors.New("client: connection lost before the reply")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("client: closed")
)

// Stats counts what the client saw.
type Stats struct {
	// Connects counts successful hellos.
	Connects int
	// Duplicates counts message events at or below the cursor (dropped).
	Duplicates int
	// Gaps counts message events that skipped a sequence number.
	Gaps int
}

// Client speaks the protocol to a transport.Server, reconnecting with
// backoff and resuming from the last sequence number seen in each
// conversation. Its methods are safe for concurrent use.
type Client struct {
	url string
	cfg Config
	log *slog.Logger

	events  chan Event
	closing chan struct{}
	done    chan struct{}
	closeMu sync.Once

	mu        sync.Mutex
	cur       *conn
	connected chan struct{} // closed while cur is ready
	pending   map[string]*request
	cursors   map[string]int64
	// sends are the IDs of send commands written on the current
	// connection: their result carries the message, which the server does
	// not send again as an event to this connection.
	sends map[string]bool
	// held are own messages (from send results) waiting for the events
	// before them, per conversation and seq.
	held map[string]map[int64]json.RawMessage
	// early are own messages delivered from their send result that the
	// server may still echo (it raced the result); such an echo is dropped
	// without counting as a duplicate. Pruned by the next event.
	early map[string][]int64
	// ended holds, per conversation a snapshot said was finalized or
	// abandoned, that snapshot's seq: the cursor goes once it gets there.
	ended     map[string]int64
	principal attendance.Principal
	stats     Stats
	nextID    uint64

	// refused carries the refusal of the first hello to Dial.
	refused chan error
	// stopped is why the client stopped on its own (see Err).
	stopped error
}

type conn struct {
	ws    *websocket.Conn
	ready bool
}

type request struct {
	n      uint64 // order of creation
	id     string
	typ    string
	frame  []byte
	retry  bool
	sentOn *conn
	reply  chan transport.ServerFrame
	err    error
}

// Dial connects to url (ws:// or wss://), sends the hello and returns once
// it is accepted; from then on the client keeps the connection up by
// itself until Close. A refused first connection is returned as an error
// (an *Error with CodeUnauthenticated for bad credentials).
func Dial(ctx context.Context, url string, cfg *Config) (*Client, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.HTTPClient == nil {
		c.HTTPClient = http.DefaultClient
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = 1024
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = 16 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cl := &Client{
		url:       url,
		cfg:       c,
		log:       c.Logger,
		events:    make(chan Event, c.EventBuffer),
		closing:   make(chan struct{}),
		done:      make(chan struct{}),
		connected: make(chan struct{}),
		pending:   make(map[string]*request),
		cursors:   make(map[string]int64),
		sends:     make(map[string]bool),
		held:      make(map[string]map[int64]json.RawMessage),
		early:     make(map[string][]int64),
		ended:     make(map[string]int64),
		refused:   make(chan error, 1),
	}
	for k, v := range c.Resume {
		cl.cursors[k] = v
	}
	ws, err := cl.connect(ctx)
	if err != nil {
		return nil, err
	}
	first := cl.connected // serve replaces it (under mu) after a drop
	go cl.run(ws)
	select {
	case <-first:
		return cl, nil
	case err := <-cl.refused:
		cl.Close()
		return nil, err
	case <-cl.done:
		// The first connection dropped before its hello's reply, and the
		// reconnection was refused: the client stopped (see Err).
		if err := cl.Err(); err != nil {
			return nil, err
		}
		return nil, ErrClosed
	case <-ctx.Done():
		cl.Close()
		return nil, ctx.Err()
	}
}

// Events returns the channel of server events, in the order received.
// Message events arrive per conversation in sequence order with no gap and
// no duplicate, across reconnections. The client's own messages are among
// them: the server does not echo them, the client delivers them from the
// send results, in their place in the sequence. Read it continuously.
func (c *Client) Events() <-chan Event { return c.events }

// Principal returns who the server says the client is (after the first
// hello).
func (c *Client) Principal() attendance.Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.principal
}

// Cursors returns, per conversation, the last sequence number the client
// put on Events (which the application may not have handled yet: save it
// after handling when persisting it for Config.Resume). Conversations that
// ended (finalized, abandoned) or were removed are not in it.
func (c *Client) Cursors() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.cursors))
	for k, v := range c.cursors {
		out[k] = v
	}
	return out
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Err returns why the client stopped on its own: the server refused its
// credentials when it reconnected (an *Error with CodeUnauthenticated, or
// CodeForbidden), which trying again would not change. The client then
// fails its pending and later commands with that error and closes Events;
// the application signs in again and dials a new client. Err is nil while
// the client runs and when Close ended it. Config.Header is called before
// every connection, so a token that can be refreshed is refreshed there.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// refusedForGood reports whether err is a refusal of the credentials.
func refusedForGood(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == transport.CodeUnauthenticated || e.Code == transport.CodeForbidden)
}

// Close ends the connection and stops reconnecting. Pending commands fail
// with ErrClosed; the Events channel is closed.
func (c *Client) Close() error {
	c.closeMu.Do(func() { close(c.closing) })
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	if cur != nil {
		cur.ws.Close(websocket.StatusNormalClosure, "bye")
	}
	<-c.done
	return nil
}

// Drop cuts the current connection without a close handshake, as a network
// failure would; the client reconnects and resumes. For tests and drills.
func (c *Client) Drop() {
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	if cur != nil {
		cur.ws.CloseNow()
	}
}

func (c *Client) connect(ctx context.Context) (*websocket.Conn, error) {
	var h http.Header
	if c.cfg.Header != nil {
		var err error
		if h, err = c.cfg.Header(ctx); err != nil {
			return nil, fmt.Errorf("client: header: %w", err)
		}
	}
	ws, resp, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{
		HTTPClient:   c.cfg.HTTPClient,
		HTTPHeader:   h,
		Subprotocols: []string{transport.Subprotocol},
	})
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			var body transport.ErrorBody
			if resp.Body != nil {
				_ = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&body)
			}
			if body.Code == "" {
				body.Code = transport.CodeUnavailable
			}
			return nil, &Error{Code: body.Code, Message: fmt.Sprintf("handshake refused with HTTP %d: %s", resp.StatusCode, body.Message)}
		}
		return nil, err
	}
	ws.SetReadLimit(c.cfg.MaxFrameBytes)
	return ws, nil
}

// run keeps a connection up until Close.
func (c *Client) run(ws *websocket.Conn) {
	defer close(c.done)
	defer close(c.events)
	backoff := c.cfg.MinBackoff
	for {
		if ws != nil {
			start := time.Now()
			// The backoff starts over only after a connection that
			// lasted: one the server accepts and then closes at once (a
			// slow reader, a failing engine) must not be retried in a
			// tight loop.
			if c.serve(ws) && time.Since(start) >= c.cfg.MaxBackoff {
				backoff = c.cfg.MinBackoff
			}
		}
		c.mu.Lock()
		stopped := c.stopped
		c.mu.Unlock()
		if stopped != nil {
			c.log.Warn("client: credentials refused; not reconnecting", "err", stopped)
			c.failPending(stopped, true)
			return
		}
		select {
		case <-c.closing:
			c.failPending(ErrClosed, true)
			return
		default:
		}
		wait := time.Duration(rand.Int64N(int64(backoff)) + 1)
		backoff = min(backoff*2, c.cfg.MaxBackoff)
		select {
		case <-c.closing:
			c.failPending(ErrClosed, true)
			return
		case <-time.After(wait):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		go func() {
			select {
			case <-c.closing: // Close does not wait for a dial to time out
				cancel()
			case <-ctx.Done():
			}
		}()
		var err error
		ws, err = c.connect(ctx)
		cancel()
		if err != nil {
			c.log.Info("client: reconnect failed", "err", err)
			ws = nil
			if refusedForGood(err) {
				c.stop(err)
			}
		}
	}
}

// serve speaks on one connection until it drops; it reports whether the
// hello succeeded.
func (c *Client) serve(ws *websocket.Conn) (helloed bool) {
	cn := &conn{ws: ws}
	c.mu.Lock()
	c.cur = cn
	resume := make(map[string]int64, len(c.cursors))
	for k, v := range c.cursors {
		resume[k] = v
	}
	c.nextID++
	helloID := "hello-" + strconv.FormatUint(c.nextID, 10)
	c.mu.Unlock()
	defer func() {
		ws.CloseNow()
		c.mu.Lock()
		c.cur = nil
		clear(c.sends)
		if cn.ready {
			c.connected = make(chan struct{})
		}
		c.mu.Unlock()
		select {
		case <-c.closing:
			c.failPending(ErrClosed, true)
		default:
			c.failPending(ErrConnectionLost, false)
		}
	}()

	hello, _ := json.Marshal(transport.ClientFrame{Type: transport.CmdHello, ID: helloID, Data: mustJSON(transport.HelloParams{Protocol: transport.ProtocolVersion, Resume: resume})})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	alive := watch(ws, c.closing)
	defer alive.stop()
	if err := c.write(ctx, ws, hello); err != nil {
		return false
	}
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			c.log.Info("client: connection ended", "err", err)
			return helloed
		}
		alive.heard()
		var f transport.ServerFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.log.Warn("client: unreadable frame", "err", err)
			continue
		}
		switch f.Type {
		case transport.FrameResult, transport.FrameError:
			if f.ID == helloID {
				if f.Type == transport.FrameError {
					c.helloRefused(f.Error)
					return false
				}
				var hr transport.HelloResult
				_ = json.Unmarshal(f.Data, &hr)
				helloed = true
				alive.expect(time.Duration(hr.HeartbeatMS) * time.Millisecond)
				c.ready(cn, hr)
				continue
			}
			if !c.reply(ctx, f) {
				return helloed
			}
		default:
			if !c.event(ctx, f) {
				return helloed
			}
		}
	}
}

// helloRefused handles an error reply to the hello. A cursor the server
// cannot honour (invalid_sequence) is dropped, that conversation starting
// over, and the client tries again; any other refusal of the first hello
// ends Dial with it, and a later one is retried with backoff.
func (c *Client) helloRefused(body *transport.ErrorBody) {
	if body == nil {
		body = &transport.ErrorBody{Code: transport.CodeInternal, Message: "hello refused without a reason"}
	}
	c.log.Warn("client: hello refused", "code", body.Code, "message", body.Message)
	c.mu.Lock()
	defer c.mu.Unlock()
	if body.Code == transport.CodeInvalidSequence {
		if id := body.ConversationID; id != "" {
			delete(c.cursors, id)
			delete(c.held, id)
			delete(c.early, id)
		} else {
			clear(c.cursors) // a server that does not name the conversation
		}
		return
	}
	err := &Error{Code: body.Code, Message: body.Message}
	if c.stats.Connects == 0 {
		select {
		case c.refused <- err:
		default:
		}
	} else if refusedForGood(err) {
		c.stopLocked(err)
	}
}

// stop records why the client stops on its own; run then fails every
// pending command and returns. Commands after it fail at once (do).
func (c *Client) stop(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked(err)
}

func (c *Client) stopLocked(err error) {
	select {
	case <-c.closing: // Close came first: Err stays nil
	default:
		if c.stopped == nil {
			c.stopped = err
		}
	}
}

// liveness watches a connection. It cuts it when nothing has been heard
// for two heartbeat intervals (the server sends one every interval, see the
// hello result), or for helloTimeout before the hello's reply, so that a
// link that died without a word (a NAT that forgot it, a hung proxy) is
// noticed and replaced; and it closes it normally when the client closes.
type liveness struct {
	last  atomic.Int64 // unix nanoseconds of the last frame heard
	limit atomic.Int64 // nanoseconds of silence tolerated
	rearm chan struct{}
	done  chan struct{}
}

// helloTimeout is how long a connection may wait for the hello's reply.
const helloTimeout = 20 * time.Second

// watch starts the liveness goroutine of ws, which ends with stop.
func watch(ws *websocket.Conn, closing <-chan struct{}) *liveness {
	l := &liveness{rearm: make(chan struct{}, 1), done: make(chan struct{})}
	l.last.Store(time.Now().UnixNano())
	l.limit.Store(int64(helloTimeout))
	go func() {
		// Looks a few times per limit: a silence is noticed within 1.25
		// limits.
		t := time.NewTimer(helloTimeout / 4)
		defer t.Stop()
		for {
			select {
			case <-l.done:
				return
			case <-closing:
				ws.Close(websocket.StatusNormalClosure, "bye")
				return
			case <-l.rearm:
			case <-t.C:
			}
			limit := time.Duration(l.limit.Load())
			if time.Since(time.Unix(0, l.last.Load())) > limit {
				ws.CloseNow()
				return
			}
			t.Reset(max(limit/4, 10*time.Millisecond))
		}
	}()
	return l
}

// heard records a frame.
func (l *liveness) heard() { l.last.Store(time.Now().UnixNano()) }

// expect sets the tolerated silence from the server's heartbeat interval.
func (l *liveness) expect(heartbeat time.Duration) {
	if heartbeat > 0 {
		l.limit.Store(int64(2 * heartbeat))
		select {
		case l.rearm <- struct{}{}:
		default:
		}
	}
}

func (l *liveness) stop() { close(l.done) }

func (c *Client) write(ctx context.Context, ws *websocket.Conn, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return ws.Write(ctx, websocket.MessageText, b)
}

// ready marks the connection usable and (re)sends the pending commands.
func (c *Client) ready(cn *conn, hr transport.HelloResult) {
	c.mu.Lock()
	cn.ready = true
	c.principal = hr.Principal
	c.stats.Connects++
	for _, id := range hr.Removed {
		c.forget(id)
	}
	var resend []*request
	for _, r := range c.pending {
		if r.sentOn != cn {
			r.sentOn = cn
			if r.typ == transport.CmdSend {
				c.sends[r.id] = true
			}
			resend = append(resend, r)
		}
	}
	// In the order they were first given: sends to one conversation keep
	// their order.
	slices.SortFunc(resend, func(a, b *request) int { return cmp.Compare(a.n, b.n) })
	close(c.connected)
	c.mu.Unlock()
	for _, r := range resend {
		_ = c.write(context.Background(), cn.ws, r.frame)
	}
}

// reply hands a reply to the command waiting for it. The result of a send
// also delivers its message as an event, in sequence order: the server does
// not echo a message to the connection that sent it. False when closing.
func (c *Client) reply(ctx context.Context, f transport.ServerFrame) bool {
	c.mu.Lock()
	r := c.pending[f.ID]
	delete(c.pending, f.ID)
	send := c.sends[f.ID]
	delete(c.sends, f.ID)
	c.mu.Unlock()
	ok := true
	if send && f.Type == transport.FrameResult {
		var m struct {
			ConversationID string `json:"conversation_id"`
			Seq            int64  `json:"seq"`
		}
		if json.Unmarshal(f.Data, &m) == nil && m.ConversationID != "" && m.Seq > 0 {
			ok = c.own(ctx, m.ConversationID, m.Seq, f.Data)
		}
	}
	if r != nil {
		r.reply <- f
	}
	return ok
}

// own delivers a message this connection sent, from its send result: at
// once when it is next in its conversation, otherwise once the events
// before it have arrived. A seq already delivered is ignored.
func (c *Client) own(ctx context.Context, conv string, seq int64, data json.RawMessage) bool {
	c.mu.Lock()
	if seq <= c.cursors[conv] {
		c.mu.Unlock()
		return true
	}
	h := c.held[conv]
	if h == nil {
		h = make(map[int64]json.RawMessage)
		c.held[conv] = h
	}
	h[seq] = data
	c.mu.Unlock()
	return c.release(ctx, conv)
}

// release delivers the held own messages that come next in conv.
func (c *Client) release(ctx context.Context, conv string) bool {
	for {
		c.mu.Lock()
		h := c.held[conv]
		next := c.cursors[conv] + 1
		data, ok := h[next]
		if ok {
			delete(h, next)
		}
		if h != nil && len(h) == 0 {
			delete(c.held, conv)
		}
		c.mu.Unlock()
		if !ok {
			return true
		}
		if !c.push(ctx, Event{Type: transport.EventMessage, ConversationID: conv, Seq: next, Data: data}) {
			return false
		}
		c.mu.Lock()
		c.cursors[conv] = next
		if e := c.early[conv]; len(e) < 64 {
			c.early[conv] = append(e, next)
		}
		c.forgetEnded(conv)
		c.mu.Unlock()
	}
}

func (c *Client) push(ctx context.Context, ev Event) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.closing:
		return false
	case <-ctx.Done():
		return false
	}
}

// event delivers one event, keeping the cursors; false when closing.
func (c *Client) event(ctx context.Context, f transport.ServerFrame) bool {
	ev := Event{Type: f.Type, ConversationID: f.ConversationID, Seq: f.Seq, Data: f.Data}
	if f.Type == transport.EventMessage {
		c.mu.Lock()
		cur, known := c.cursors[f.ConversationID]
		if known && f.Seq <= cur {
			if e := c.early[f.ConversationID]; slices.Contains(e, f.Seq) {
				c.early[f.ConversationID] = slices.DeleteFunc(e, func(s int64) bool { return s <= f.Seq })
			} else {
				c.stats.Duplicates++
			}
			c.mu.Unlock()
			return true
		}
		delete(c.early, f.ConversationID)
		if f.Seq != cur+1 {
			c.stats.Gaps++
		}
		c.mu.Unlock()
	}
	if !c.push(ctx, ev) {
		return false
	}
	c.mu.Lock()
	switch f.Type {
	case transport.EventMessage:
		c.cursors[f.ConversationID] = f.Seq
		if h := c.held[f.ConversationID]; h != nil {
			for s := range h {
				if s <= f.Seq {
					delete(h, s)
				}
			}
		}
		c.forgetEnded(f.ConversationID)
	case transport.EventRemoved:
		c.forget(f.ConversationID)
	case transport.EventConversation:
		// A finalized or abandoned conversation gets nothing more after
		// the snapshot's seq (its messages up to it may still be on their
		// way: a snapshot can run ahead of them): its cursor goes once it
		// gets there, so that the cursors (and the next hello's resume
		// map, capped by the server's MaxResume) do not grow for ever.
		var snap struct {
			State attendance.State `json:"state"`
		}
		if json.Unmarshal(f.Data, &snap) == nil && snap.State.Terminal() {
			c.ended[f.ConversationID] = f.Seq
			c.forgetEnded(f.ConversationID)
		}
	}
	c.mu.Unlock()
	if f.Type == transport.EventMessage {
		return c.release(ctx, f.ConversationID)
	}
	return true
}

// forget drops what the client keeps for a conversation. Called with c.mu
// held.
func (c *Client) forget(id string) {
	delete(c.cursors, id)
	delete(c.held, id)
	delete(c.early, id)
	delete(c.ended, id)
}

// forgetEnded forgets an ended conversation once its cursor has reached
// the seq of the snapshot that said it ended. Called with c.mu held.
func (c *Client) forgetEnded(id string) {
	if end, ok := c.ended[id]; ok && c.cursors[id] >= end {
		c.forget(id)
	}
}

// failPending fails the commands that cannot be repeated (all of them when
// all is true) and keeps the rest for the next connection.
func (c *Client) failPending(err error, all bool) {
	c.mu.Lock()
	var failed []*request
	for id, r := range c.pending {
		// A command not written yet (sentOn nil) waits for the next
		// connection: it cannot have run.
		if all || !r.retry && r.sentOn != nil {
			delete(c.pending, id)
			failed = append(failed, r)
		} else {
			r.sentOn = nil
		}
	}
	c.mu.Unlock()
	for _, r := range failed {
		r.err = err
		close(r.reply)
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the protocol's own types are marshalled here
	}
	return b
}

// retryable are the commands safe to send again after a reconnection:
// they change nothing, or a repeat returns the first result.
var retryable = map[string]bool{
	transport.CmdPing: true, transport.CmdRead: true, transport.CmdTyping: true,
	transport.CmdHistory: true, transport.CmdQueueStatus: true, transport.CmdConversations: true,
	transport.CmdWatch: true, transport.CmdPresence: true,
}

// Do sends a command and waits for its reply, decoding a result into out
// (which may be nil). An error reply is returned as *Error. While the
// client is reconnecting, Do waits. Commands safe to repeat (reads, typing,
// presence, and send with an idempotency key) are sent again after a
// reconnection; others fail with ErrConnectionLost if the connection drops
// before their reply. A rate_limited reply (the command did not run) is
// retried after the delay the server asks for, until ctx ends.
func (c *Client) Do(ctx context.Context, typ string, params any, out any) error {
	for {
		err := c.do(ctx, typ, params, out)
		var e *Error
		if !errors.As(err, &e) || e.Code != transport.CodeRateLimited {
			return err
		}
		wait := max(time.Duration(e.RetryAfterMS)*time.Millisecond, 10*time.Millisecond)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (c *Client) do(ctx context.Context, typ string, params any, out any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("client: encode %s: %w", typ, err)
	}
	retry := retryable[typ]
	if typ == transport.CmdSend {
		var sp transport.SendParams
		_ = json.Unmarshal(data, &sp)
		retry = sp.IdempotencyKey != ""
	}
	c.mu.Lock()
	c.nextID++
	id := "c" + strconv.FormatUint(c.nextID, 10)
	frame, _ := json.Marshal(transport.ClientFrame{Type: typ, ID: id, Data: data})
	r := &request{n: c.nextID, id: id, typ: typ, frame: frame, retry: retry, reply: make(chan transport.ServerFrame, 1)}
	select {
	case <-c.closing:
		c.mu.Unlock()
		return ErrClosed
	default:
	}
	if c.stopped != nil {
		c.mu.Unlock()
		return c.stopped
	}
	c.pending[id] = r
	cur := c.cur
	if cur != nil && cur.ready {
		r.sentOn = cur
		if typ == transport.CmdSend {
			c.sends[id] = true
		}
	} else {
		cur = nil
	}
	c.mu.Unlock()
	if cur != nil {
		// Not with ctx: a write whose ctx ends closes the connection, for
		// every command on it. A failed write shows up as a dropped
		// connection.
		_ = c.write(context.Background(), cur.ws, frame)
	}
	select {
	case f, ok := <-r.reply:
		if !ok {
			return r.err
		}
		if f.Type == transport.FrameError {
			e := &Error{Code: transport.CodeInternal, Message: "error without body"}
			if f.Error != nil {
				e = &Error{Code: f.Error.Code, Message: f.Error.Message, RetryAfterMS: f.Error.RetryAfterMS}
			}
			return e
		}
		if out != nil && len(f.Data) > 0 {
			return json.Unmarshal(f.Data, out)
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return ctx.Err()
	}
}
