package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

// CloseReason says why a session ends its connection. A wire maps it to
// its own vocabulary (WebSocket close statuses here).
type CloseReason int

const (
	// CloseNormal: the session ended normally (WebSocket 1000).
	CloseNormal CloseReason = iota
	// ClosePolicy: the client broke a limit: a slow reader whose outbound
	// buffer filled, a command flood, no hello in time (WebSocket 1008).
	ClosePolicy
	// CloseGoingAway: the server is stopping (WebSocket 1001).
	CloseGoingAway
	// CloseTryAgain: the engine failed to serve the session; reconnect and
	// resume (WebSocket 1013).
	CloseTryAgain
)

// Conn is the wire under a Session: what WebSocket offers here, and what a
// Server-Sent Events stream or a messaging adapter would offer later.
//
// Deliver and Close are called from several goroutines and must be safe for
// concurrent use; neither may block on the network.
type Conn interface {
	// Deliver queues one encoded server frame (a JSON object, see
	// docs/protocol.md). When the connection's bounded buffer is full it
	// drops a droppable frame (typing, heartbeat) and returns nil, and
	// returns ErrSlowConsumer for any other frame; the session then closes
	// the connection with ClosePolicy.
	Deliver(frame []byte, droppable bool) error
	// Close ends the connection, telling the peer why when the wire can.
	// It returns at once; later Deliver calls are ignored.
	Close(reason CloseReason, message string)
}

// Drainer is an optional interface of a Conn that lets a session pace a
// catch-up (a resume, a first connection, a watch) by what the client
// actually reads: the history is sent while fewer than half of
// Config.OutboundBuffer frames wait, and continues once the connection has
// written them down to a quarter or less. Over a Conn without it, a history longer
// than the buffer that the client cannot take as fast as the store yields
// it closes the connection as a slow reader, and each reconnection gets a
// little further.
type Drainer interface {
	// Queued returns how many frames wait to be written.
	Queued() int
	// OnDrained calls f once, from any goroutine and without blocking
	// the caller: when fewer than n frames wait (at once if that is
	// already so), or when the connection closes. It may call it later
	// than the first moment that is true (the WebSocket Conn looks between
	// the batches it writes). A session has at most one f waiting at a
	// time.
	OnDrained(n int, f func())
}

// Pinger is an optional interface of a Conn whose wire has its own liveness
// probe (WebSocket ping). The session calls it with every heartbeat, in a
// goroutine of its own, and closes the connection when it fails.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Session is one connected principal speaking the protocol over a Conn.
// Handle (and HandleBinary) must be called by one goroutine at a time, in
// the order frames arrive; the rest is safe for concurrent use.
type Session struct {
	srv  *Server
	p    attendance.Principal
	id   string
	conn Conn

	// Command side: used only by the goroutine calling Handle.
	replies replyCache
	bucket  tokenBucket
	strikes int
	hello   bool

	mu        sync.Mutex
	closed    bool
	ready     bool
	scheduled bool
	pending   map[string]attendance.Notification
	reads     map[string]bool
	queues    map[string]bool
	agent     bool
	watch     map[string]int64
	synced    bool
	resync    bool // re-read every conversation followed (NotifyResync)
	timers    []*time.Timer
	// wake ends a paced catch-up's wait for the connection to drain (see
	// pace); set only while one waits.
	wake func()
	// own holds, per conversation, the seqs of messages this connection
	// sent whose send result has been queued to it: the result carries the
	// message, so the worker does not send it again as an event (see
	// docs/protocol.md, "send"). Ascending; at most maxOwn per conversation.
	own map[string][]int64
	// upTo holds, per conversation streamed, the sequence number up to
	// which the client has been sent everything (the worker side's cursor,
	// published): a doorbell announcing only messages at or below it is
	// dropped on arrival.
	upTo map[string]int64

	// Index side: guarded by srv.mu. The conversations and queues the
	// server has indexed this session under, so that detaching it does not
	// scan every index.
	indexedConvs  []string
	indexedQueues []string

	// Worker side: used by whoever holds the session (one at a time, see
	// scheduled: a worker, or catchUp on a sender's goroutine), and by
	// advanceOwn under mu while no one holds it.
	convs  map[string]*convState
	queued map[string]string // queue ID -> conversation waiting there (indexed)
}

type convState struct {
	// mine: the session's principal is the conversation's beneficiary,
	// who reads it for good (an agent's right moves with transfers).
	mine    bool
	seq     int64
	version int64
	offered int64 // version whose offer was announced
	state   attendance.State
	queueID string
	queue   QueueInfo
	reads   map[attendance.Principal]int64
}

func newSession(srv *Server, p attendance.Principal, conn Conn, id string) *Session {
	return &Session{
		srv:     srv,
		p:       p,
		id:      id,
		conn:    conn,
		replies: newReplyCache(srv.cfg.ReplyCache),
		bucket:  tokenBucket{rate: srv.cfg.CommandsPerSecond, burst: float64(srv.cfg.CommandBurst), tokens: float64(srv.cfg.CommandBurst)},
		pending: make(map[string]attendance.Notification),
		reads:   make(map[string]bool),
		queues:  make(map[string]bool),
		watch:   make(map[string]int64),
		convs:   make(map[string]*convState),
		queued:  make(map[string]string),
		upTo:    make(map[string]int64),
	}
}

// helloDone reports whether a hello was accepted; like Handle, it is for
// the goroutine handling the frames.
func (ss *Session) helloDone() bool { return ss.hello }

// Principal returns who the session belongs to.
func (ss *Session) Principal() attendance.Principal { return ss.p }

// ID returns the session's ID, unique within the server.
func (ss *Session) ID() string { return ss.id }

func (ss *Session) isClosed() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.closed
}

// startTimers arms the handshake deadline and the heartbeat.
func (ss *Session) startTimers() {
	cfg := ss.srv.cfg
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.timers = append(ss.timers, time.AfterFunc(cfg.HandshakeTimeout, func() {
		ss.mu.Lock()
		ready := ss.ready
		ss.mu.Unlock()
		if !ready {
			ss.fail(ClosePolicy, "no hello within the handshake timeout")
		}
	}))
	var beat *time.Timer
	beat = time.AfterFunc(cfg.HeartbeatInterval, func() {
		if ss.isClosed() {
			return
		}
		ss.emit(ServerFrame{Type: EventHeartbeat, Data: rawJSON(HeartbeatInfo{Time: ss.srv.cfg.Now().UTC()})}, true)
		if pg, ok := ss.conn.(Pinger); ok {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), cfg.PongTimeout)
				defer cancel()
				if err := pg.Ping(ctx); err != nil && !ss.isClosed() {
					ss.fail(ClosePolicy, "no pong")
				}
			}()
		}
		beat.Reset(cfg.HeartbeatInterval)
	})
	ss.timers = append(ss.timers, beat)
}

// Close ends the session: the wire calls it when its connection is gone.
// It is idempotent.
func (ss *Session) Close() {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.closed = true
	for _, t := range ss.timers {
		t.Stop()
	}
	clear(ss.pending)
	if ss.wake != nil {
		ss.wake()
	}
	ss.mu.Unlock()
	// The worker side may still run once; it checks closed before indexing.
	ss.srv.detach(ss)
}

// fail closes the connection with reason and ends the session.
func (ss *Session) fail(reason CloseReason, msg string) {
	ss.conn.Close(reason, msg)
	ss.Close()
}

// emit delivers a frame; a full buffer closes the connection.
func (ss *Session) emit(f ServerFrame, droppable bool) bool {
	return ss.deliver(encodeFrame(f), droppable)
}

func (ss *Session) deliver(b []byte, droppable bool) bool {
	if err := ss.conn.Deliver(b, droppable); err != nil {
		if errors.Is(err, ErrSlowConsumer) {
			ss.fail(ClosePolicy, "slow reader: outbound buffer full")
		} else {
			ss.Close()
		}
		return false
	}
	return true
}

// HandleBinary answers a binary frame, which the protocol does not use, with
// a binary_frame error. It counts against the command rate.
func (ss *Session) HandleBinary(ctx context.Context) {
	if !ss.admit() {
		return
	}
	ss.emit(ServerFrame{Type: FrameError, Error: &ErrorBody{Code: CodeBinaryFrame, Message: "binary frames are not part of the protocol; send JSON text frames"}}, false)
}

// admit applies the command rate; a frame above it gets rate_limited, and
// MaxStrikes of those in a row close the connection.
func (ss *Session) admit() bool {
	now := time.Now()
	if ss.bucket.take(now) {
		ss.strikes = 0
		return true
	}
	ss.strikes++
	if ss.strikes >= ss.srv.cfg.MaxStrikes {
		ss.fail(ClosePolicy, "command flood")
		return false
	}
	return false
}

// Handle runs one client frame and delivers exactly one reply: the result
// or error of the command, or an error for a frame that is not a command.
func (ss *Session) Handle(ctx context.Context, data []byte) {
	if ss.isClosed() {
		return
	}
	if !ss.admit() {
		if ss.isClosed() {
			return
		}
		id := ""
		if f, err := DecodeClientFrame(data); err == nil {
			id = f.ID
		}
		wait := int64(1000 / max(ss.srv.cfg.CommandsPerSecond, 1))
		ss.emit(ServerFrame{Type: FrameError, ID: id, Error: &ErrorBody{Code: CodeRateLimited, Message: "too many commands; slow down", RetryAfterMS: wait}}, false)
		return
	}
	var f ClientFrame
	var err error
	var send SendParams // a send command's data, when fastSend read it
	fast := false
	if id, sp, ok := fastSend(data); ok {
		f, send, fast = ClientFrame{Type: CmdSend, ID: id}, sp, true
	} else {
		f, err = DecodeClientFrame(data)
	}
	if err != nil {
		var fe *ProtocolError
		errors.As(err, &fe)
		ss.emit(ServerFrame{Type: FrameError, ID: fe.ID, Error: errorBody(err)}, false)
		return
	}
	if b, ok := ss.replies.get(f.ID); ok {
		ss.deliver(b, false)
		return
	}
	var after func()
	var result any
	var sent *attendance.Message
	var sentJSON json.RawMessage // sent, encoded
	if f.Type == CmdSend && ss.hello {
		// The hot path, kept out of exec: no closure, no interface.
		if !fast {
			send, err = decode[SendParams](f)
		}
		if err == nil {
			sent, err = ss.send(ctx, send)
		}
	} else {
		result, err = ss.exec(ctx, f, &after)
	}
	var reply ServerFrame
	switch {
	case err != nil:
		code, _ := CodeOf(err)
		if code == CodeInternal {
			ss.srv.log.Error("transport: command failed", "type", f.Type, "session", ss.id, "err", err)
		}
		reply = ServerFrame{Type: FrameError, ID: f.ID, Error: errorBody(err)}
	case sent != nil:
		// The message is encoded once, for the result and for the events
		// relay sends.
		scratch := messageBuffers.Get().(*[]byte)
		defer putMessageBuffer(scratch)
		*scratch = appendMessage((*scratch)[:0], sent)
		sentJSON = *scratch
		reply = ServerFrame{Type: FrameResult, ID: f.ID, Data: sentJSON}
	default:
		reply = ServerFrame{Type: FrameResult, ID: f.ID, Data: rawJSON(result)}
		if reply.Data == nil {
			reply.Data = json.RawMessage("{}")
		}
	}
	b := encodeFrame(reply)
	if err == nil || remembered(f.Type, reply.Error.Code) {
		ss.replies.put(f.ID, b)
	}
	if !ss.deliver(b, false) {
		return
	}
	switch {
	case sent != nil:
		// Only once the result (which carries the message) is queued: an
		// event after it may then skip the message, never one before it.
		self := ss.advanceOwn(sent.ConversationID, sent.Seq)
		if self == nil {
			ss.markOwn(sent.ConversationID, sent.Seq)
		}
		ss.srv.relay(sent, sentJSON, self)
	case after != nil:
		after()
	}
}

// remembered reports whether an error reply goes into the reply cache, so
// that the same request ID gets it again. Not when the command did not run
// and may be sent again with the same ID once the cause is gone: a failed
// hello (fixed and retried), a command before the hello, a frame that
// could not be read as the command, a transient failure of the engine.
func remembered(typ string, code Code) bool {
	switch code {
	case CodeHelloRequired, CodeMalformedFrame, CodeUnavailable:
		return false
	}
	return typ != CmdHello
}

// messageBuffers hold a sent message's encoding while Handle replies and
// relays it.
var messageBuffers = sync.Pool{New: func() any { return new([]byte) }}

func putMessageBuffer(b *[]byte) {
	if cap(*b) <= 16<<10 { // a rare big message does not stay in the pool
		messageBuffers.Put(b)
	}
}

// send runs a send command.
func (ss *Session) send(ctx context.Context, a SendParams) (*attendance.Message, error) {
	sp := attendance.SendParams{ConversationID: a.ConversationID, Body: a.Body, IdempotencyKey: a.IdempotencyKey}
	if a.Attachment != nil {
		att, err := ss.srv.attachmentFor(ctx, ss.p, a.ConversationID, a.Attachment.BlobID)
		if err != nil {
			return nil, err
		}
		sp.Attachment = &att
	}
	m, err := ss.srv.eng.Send(ctx, ss.p, sp)
	if sp.Attachment != nil {
		ss.srv.markSent(ctx, sp.Attachment.BlobID, err)
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func decode[T any](f ClientFrame) (T, error) {
	var v T
	if len(f.Data) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(f.Data, &v); err != nil {
		return v, &ProtocolError{Code: CodeMalformedFrame, ID: f.ID, Message: "data does not fit the " + f.Type + " command: " + trimErr(err)}
	}
	return v, nil
}

// exec runs a decoded command. after, when set, runs once the reply is
// delivered.
func (ss *Session) exec(ctx context.Context, f ClientFrame, after *func()) (any, error) {
	eng := ss.srv.eng
	p := ss.p
	if f.Type == CmdHello {
		return ss.doHello(ctx, f, after)
	}
	if !ss.hello {
		return nil, &ProtocolError{Code: CodeHelloRequired, ID: f.ID, Message: "send hello first"}
	}
	switch f.Type { // send is Handle's own (see Session.send)
	case CmdPing:
		return PingResult{Time: ss.srv.cfg.Now().UTC()}, nil
	case CmdOpen:
		a, err := decode[OpenParams](f)
		if err != nil {
			return nil, err
		}
		return eng.Open(ctx, p, attendance.OpenParams{SubjectID: a.SubjectID, Channel: a.Channel})
	case CmdAccept, CmdDecline, CmdLeave, CmdQueueStatus:
		a, err := decode[ConversationParams](f)
		if err != nil {
			return nil, err
		}
		switch f.Type {
		case CmdAccept:
			return eng.Accept(ctx, p, a.ConversationID)
		case CmdDecline:
			return eng.Decline(ctx, p, a.ConversationID)
		case CmdLeave:
			return eng.Leave(ctx, p, a.ConversationID)
		default:
			st, err := eng.QueueStatus(ctx, p, a.ConversationID)
			if err != nil {
				return nil, err
			}
			return queueInfo(st), nil
		}
	case CmdTransfer:
		a, err := decode[TransferParams](f)
		if err != nil {
			return nil, err
		}
		return eng.Transfer(ctx, p, attendance.TransferParams{ConversationID: a.ConversationID, QueueID: a.QueueID, AgentID: a.AgentID, Note: a.Note})
	case CmdFinalize:
		a, err := decode[FinalizeParams](f)
		if err != nil {
			return nil, err
		}
		return eng.Finalize(ctx, p, attendance.FinalizeParams{ConversationID: a.ConversationID, Reason: a.Reason, Note: a.Note})
	case CmdPresence:
		a, err := decode[PresenceParams](f)
		if err != nil {
			return nil, err
		}
		return eng.SetPresence(ctx, p, a.Presence)
	case CmdRead:
		a, err := decode[ReadParams](f)
		if err != nil {
			return nil, err
		}
		m, err := eng.MarkRead(ctx, p, a.ConversationID, a.Seq)
		if err != nil {
			return nil, err
		}
		// Local peers learn at once; see docs/protocol.md on read marks.
		for _, peer := range ss.srv.peers(a.ConversationID) {
			peer.notifyReads(a.ConversationID)
		}
		return m, nil
	case CmdTyping:
		a, err := decode[TypingParams](f)
		if err != nil {
			return nil, err
		}
		return struct{}{}, ss.typing(ctx, a)
	case CmdHistory:
		a, err := decode[HistoryParams](f)
		if err != nil {
			return nil, err
		}
		limit := ss.srv.cfg.HistoryBatch
		if a.Limit > 0 && a.Limit < limit {
			limit = a.Limit
		}
		ms, err := eng.Messages(ctx, p, a.ConversationID, a.AfterSeq, limit)
		if err != nil {
			return nil, err
		}
		if ms == nil {
			ms = []attendance.Message{}
		}
		return HistoryResult{Messages: ms}, nil
	case CmdWatch:
		a, err := decode[WatchParams](f)
		if err != nil {
			return nil, err
		}
		// Conversation, not AuthorizeView: the result goes to the client,
		// and a beneficiary must not see the agents' notes.
		c, err := eng.Conversation(ctx, p, a.ConversationID)
		if err != nil {
			return nil, err
		}
		if a.AfterSeq < 0 || a.AfterSeq > c.LastSeq {
			return nil, &SequenceError{ConversationID: c.ID, Seq: a.AfterSeq, Newest: c.LastSeq}
		}
		*after = func() {
			ss.mu.Lock()
			if _, ok := ss.watch[c.ID]; !ok {
				ss.watch[c.ID] = a.AfterSeq
			}
			ss.mu.Unlock()
			ss.schedule()
		}
		return c, nil
	case CmdConversations:
		a, err := decode[ConversationsParams](f)
		if err != nil {
			return nil, err
		}
		cs, err := eng.Conversations(ctx, p, attendance.ConversationsFilter{States: a.States, Limit: a.Limit})
		if err != nil {
			return nil, err
		}
		if cs == nil {
			cs = []attendance.Conversation{}
		}
		return ConversationsResult{Conversations: cs}, nil
	}
	return nil, &ProtocolError{Code: CodeUnknownType, ID: f.ID, Message: "unknown command type"}
}

func queueInfo(st attendance.QueueStatus) QueueInfo {
	return QueueInfo{QueueID: st.QueueID, Position: st.Position, Waiting: st.Waiting, EstimatedWaitMS: st.EstimatedWait.Milliseconds()}
}

var openStates = []attendance.State{attendance.StateQueued, attendance.StateOffered, attendance.StateActive}

// doHello checks the version and the resume cursors, then (after the reply)
// starts streaming: every open conversation of the principal, and every
// resumed one it may still read, from the cursor given or from the start.
func (ss *Session) doHello(ctx context.Context, f ClientFrame, after *func()) (any, error) {
	if ss.hello {
		return nil, &ProtocolError{Code: CodeAlreadyHello, ID: f.ID, Message: "hello was already accepted on this connection"}
	}
	h, err := decode[HelloParams](f)
	if err != nil {
		return nil, err
	}
	if h.Protocol != ProtocolVersion {
		return nil, &ProtocolError{Code: CodeUnsupportedVersion, ID: f.ID, Message: fmt.Sprintf("protocol %d is not supported; this server speaks %d", h.Protocol, ProtocolVersion)}
	}
	if len(h.Resume) > ss.srv.cfg.MaxResume {
		return nil, fmt.Errorf("%w: hello resumes %d conversations, limit %d", attendance.ErrInvalidArgument, len(h.Resume), ss.srv.cfg.MaxResume)
	}
	eng := ss.srv.eng
	start := make(map[string]int64)
	var removed []string
	for id, seq := range h.Resume {
		if seq < 0 {
			return nil, &SequenceError{ConversationID: id, Seq: seq}
		}
		c, err := eng.AuthorizeView(ctx, ss.p, id)
		switch {
		case errors.Is(err, attendance.ErrForbidden), errors.Is(err, attendance.ErrNotFound), errors.Is(err, attendance.ErrInvalidArgument):
			removed = append(removed, id)
			continue
		case err != nil:
			return nil, err
		}
		if seq > c.LastSeq {
			return nil, &SequenceError{ConversationID: id, Seq: seq, Newest: c.LastSeq}
		}
		start[id] = seq
	}
	var open []attendance.Conversation
	if ss.p.Role == attendance.RoleSupervisor {
		all, err := eng.Conversations(ctx, ss.p, attendance.ConversationsFilter{States: []attendance.State{attendance.StateOffered, attendance.StateActive}})
		if err != nil {
			return nil, err
		}
		for _, c := range all {
			if c.AgentID == ss.p.ID {
				open = append(open, c)
			}
		}
	} else {
		cs, err := eng.Conversations(ctx, ss.p, attendance.ConversationsFilter{States: openStates})
		if err != nil {
			return nil, err
		}
		open = cs
	}
	for _, c := range open {
		if _, ok := start[c.ID]; !ok {
			start[c.ID] = 0
		}
	}
	ss.hello = true
	cfg := ss.srv.cfg
	*after = func() {
		ss.mu.Lock()
		ss.ready = true
		for id, seq := range start {
			ss.watch[id] = seq
		}
		ss.synced = true
		ss.mu.Unlock()
		ss.schedule()
	}
	return HelloResult{
		Protocol:    ProtocolVersion,
		Principal:   ss.p,
		Session:     ss.id,
		HeartbeatMS: cfg.HeartbeatInterval.Milliseconds(),
		Limits: LimitsInfo{
			MaxFrameBytes:     cfg.MaxFrameBytes,
			CommandsPerSecond: cfg.CommandsPerSecond,
			CommandBurst:      cfg.CommandBurst,
			OutboundBuffer:    cfg.OutboundBuffer,
		},
		Removed: removed,
	}, nil
}

// typing relays an indicator to the other sessions streaming the
// conversation. Nothing is stored.
func (ss *Session) typing(ctx context.Context, a TypingParams) error {
	// The engine checks the principal and announces it on the bus; every
	// node's dispatcher, this one's included, delivers it (deliverTyping).
	return ss.srv.eng.Typing(ctx, ss.p, a.ConversationID, a.Active)
}

// Notification intake, called by the dispatcher; none of these block.

func (ss *Session) notifyConversation(n attendance.Notification) {
	ss.mu.Lock()
	if ss.closed || n.State == "" && !n.Reads && n.Seq <= ss.upTo[n.ConversationID] {
		// Messages only, and the client has them already (most often
		// sent by relay before the doorbell came round).
		ss.mu.Unlock()
		return
	}
	if old, ok := ss.pending[n.ConversationID]; ok {
		n = attendance.Coalesce(old, n)
	}
	ss.pending[n.ConversationID] = n
	ss.mu.Unlock()
	ss.schedule()
}

func (ss *Session) notifyQueue(queueID string) {
	ss.mu.Lock()
	ss.queues[queueID] = true
	ss.mu.Unlock()
	ss.schedule()
}

func (ss *Session) notifyAgent() {
	ss.mu.Lock()
	ss.agent = true
	ss.mu.Unlock()
	ss.schedule()
}

func (ss *Session) notifyResync() {
	ss.mu.Lock()
	ss.resync = true
	ss.mu.Unlock()
	ss.schedule()
}

func (ss *Session) notifyReads(convID string) {
	ss.mu.Lock()
	ss.reads[convID] = true
	ss.mu.Unlock()
	ss.schedule()
}

// schedule puts the session on the run queue if it is ready, has work and
// is not queued or running already.
func (ss *Session) schedule() {
	ss.mu.Lock()
	run := !ss.closed && ss.ready && !ss.scheduled && ss.hasWork()
	if run {
		ss.scheduled = true
	}
	ss.mu.Unlock()
	if run {
		ss.srv.runq.push(ss)
	}
}

func (ss *Session) hasWork() bool {
	return len(ss.pending) > 0 || len(ss.reads) > 0 || len(ss.queues) > 0 || ss.agent || len(ss.watch) > 0 || ss.synced || ss.resync
}

// run is one pass of a worker over the session's pending work.
func (ss *Session) run(ctx context.Context) {
	ss.mu.Lock()
	if ss.closed {
		ss.scheduled = false
		ss.mu.Unlock()
		return
	}
	pending, reads, queues, agent, watch, synced, resync := ss.pending, ss.reads, ss.queues, ss.agent, ss.watch, ss.synced, ss.resync
	ss.pending = make(map[string]attendance.Notification)
	ss.reads = make(map[string]bool)
	ss.queues = make(map[string]bool)
	ss.watch = make(map[string]int64)
	ss.agent, ss.synced, ss.resync = false, false, false
	ss.mu.Unlock()
	var resyncs []string
	if resync {
		// Read every followed conversation after its cursor (a nil
		// notification: transitions show in the log as system messages),
		// its read marks, every queue position and the agent. Those with a
		// pending doorbell too: a lost notification may have announced
		// messages past that doorbell's Seq, which alone would not read
		// them.
		for id := range ss.convs {
			resyncs = append(resyncs, id)
			reads[id] = true
		}
		for q := range ss.queued {
			queues[q] = true
		}
		agent = true
	}

	ss.release(ss.pass(ctx, pending, resyncs, reads, queues, agent, watch, synced))
}

// release ends a pass over the session (see run and catchUp): the session
// goes back on the run queue when more work came meanwhile.
func (ss *Session) release(ok bool) {
	ss.mu.Lock()
	again := ok && !ss.closed && ss.hasWork()
	ss.scheduled = again
	ss.mu.Unlock()
	if again {
		ss.srv.runq.push(ss)
	}
}

// catchUp brings the client up to date on the conversation of m, a new
// message, on the calling goroutine, when the session has no other work and
// no worker holds it: the sender of a message runs it for every session of
// this node streaming the conversation (Server.relay), so that the message
// reaches them without waiting for the dispatcher and a worker. It does
// what a worker does for the message's doorbell, and that doorbell, when it
// arrives, is dropped (see upTo). When the session is busy it does
// nothing: the doorbell takes the usual way.
//
// event is m's message event, encoded; it is sent as is when m is the
// next message the client lacks and reads the same for every reader (no
// internal note to hide), once the session's principal is checked to
// still read the conversation (the engine is asked unless it is the
// conversation's beneficiary).
func (ss *Session) catchUp(ctx context.Context, m *attendance.Message, event func() []byte) {
	ss.mu.Lock()
	if ss.closed || !ss.ready || ss.scheduled || ss.hasWork() {
		ss.mu.Unlock()
		return
	}
	ss.scheduled = true // the worker side is this goroutine's until release
	ss.mu.Unlock()
	ss.release(ss.catchUpOn(ctx, m, event))
}

func (ss *Session) catchUpOn(ctx context.Context, m *attendance.Message, event func() []byte) bool {
	id := m.ConversationID
	cs := ss.convs[id]
	if cs == nil {
		return true
	}
	if cs.seq == m.Seq-1 && m.Event == nil {
		ss.skipOwn(id, cs) // the sender's own session: its result carried m
		if cs.seq >= m.Seq {
			// Own results carried m (and maybe later ones: m may be a
			// retried send returning an earlier message).
			return ss.published(id, cs)
		}
		var err error
		if !cs.mine {
			_, err = ss.srv.eng.AuthorizeView(ctx, ss.p, id)
		}
		switch {
		case err == nil:
			if !ss.deliver(event(), false) {
				return false
			}
			cs.seq = m.Seq
			return ss.published(id, cs)
		case !gone(err):
			return ss.engineFailed(err)
		}
		// No longer theirs: the general path below drops it.
	}
	if cs.seq >= m.Seq {
		return true
	}
	n := attendance.Notification{Kind: attendance.NotifyConversation, ConversationID: id, Seq: m.Seq}
	return ss.conversation(ctx, id, &n, 0, false, false)
}

// published makes the cursor of conversation id the one doorbells are
// checked against (upTo).
func (ss *Session) published(id string, cs *convState) bool {
	ss.mu.Lock()
	ss.upTo[id] = cs.seq
	ss.mu.Unlock()
	return true
}

func (ss *Session) pass(ctx context.Context, pending map[string]attendance.Notification, resyncs []string, reads, queues map[string]bool, agent bool, watch map[string]int64, synced bool) bool {
	for id, seq := range watch {
		if _, known := ss.convs[id]; known {
			continue
		}
		// Paced per conversation too (the snapshots and read marks of a
		// hello resuming many conversations), not only per message.
		if !ss.pace(ctx) || !ss.conversation(ctx, id, nil, seq, true, reads[id]) {
			return false
		}
		delete(pending, id)
		delete(reads, id)
	}
	if synced && !ss.emit(ServerFrame{Type: EventSynced}, false) {
		return false
	}
	for id, n := range pending {
		if !ss.conversation(ctx, id, &n, 0, false, reads[id]) {
			return false
		}
		delete(reads, id)
	}
	for _, id := range resyncs {
		if _, still := ss.convs[id]; still && !ss.conversation(ctx, id, nil, 0, false, true) {
			return false
		}
		delete(reads, id)
	}
	for id := range reads {
		if cs := ss.convs[id]; cs != nil && !ss.readMarks(ctx, id, cs) {
			return false
		}
	}
	for q := range queues {
		if id, ok := ss.queued[q]; ok {
			if cs := ss.convs[id]; cs != nil && !ss.queueStatus(ctx, id, cs) {
				return false
			}
		}
	}
	if agent {
		a, err := ss.srv.eng.Agent(ctx, ss.p, ss.p.ID)
		if err == nil {
			return ss.emit(ServerFrame{Type: EventAgent, Data: rawJSON(a)}, false)
		}
		if !errors.Is(err, attendance.ErrNotFound) && !errors.Is(err, attendance.ErrForbidden) {
			return ss.engineFailed(err)
		}
	}
	return true
}

// engineFailed closes the connection so the client reconnects and resumes:
// a transient engine error must not leave a gap.
func (ss *Session) engineFailed(err error) bool {
	if ctx, ok := ss.srv.running(); ok && ctx.Err() == nil {
		ss.srv.log.Warn("transport: engine read failed; closing connection for resume", "session", ss.id, "err", err)
	}
	ss.fail(CloseTryAgain, "temporary failure; reconnect and resume")
	return false
}

// conversation brings the client up to date on one conversation: messages
// after its cursor, then, when the state may have changed, the snapshot,
// offer and queue position, and read marks when asked.
func (ss *Session) conversation(ctx context.Context, id string, n *attendance.Notification, from int64, isWatch bool, reads bool) bool {
	eng := ss.srv.eng
	cs := ss.convs[id]
	isNew := cs == nil
	if isNew {
		cs = &convState{seq: from}
		// Index before reading, so no doorbell between the read and the
		// index can be missed.
		ss.srv.indexConversation(ss, id, true)
		if ss.isClosed() {
			return false
		}
		ss.convs[id] = cs
	}
	before := cs.seq
	own := ss.skipOwn(id, cs)
	// A doorbell for messages this connection sent itself (and got in their
	// results) needs no read.
	ownOnly := n != nil && n.Seq > before && n.Seq <= cs.seq
	fetch := isNew || n == nil || n.Seq > cs.seq
	snapshot := isNew
	if fetch {
		batch := ss.srv.cfg.HistoryBatch
		for first := true; ; first = false {
			if !first {
				// A send since the last batch (while the catch-up waited
				// for the client, say) is in this one: skip it too.
				own = ss.skipOwn(id, cs)
			}
			ms, err := eng.Messages(ctx, ss.p, id, cs.seq, batch)
			if err != nil {
				if gone(err) {
					return ss.drop(id, cs, n, isNew)
				}
				return ss.engineFailed(err)
			}
			for i := range ms {
				m := &ms[i]
				if len(own) > 0 && slices.Contains(own, m.Seq) {
					cs.seq = m.Seq // sent by this connection; its result carried it
					continue
				}
				if isWatch && !ss.pace(ctx) {
					return false
				}
				if !ss.emit(ServerFrame{Type: EventMessage, ConversationID: id, Seq: m.Seq, msg: m}, false) {
					return false
				}
				cs.seq = m.Seq
				if m.Kind == attendance.KindSystem {
					snapshot = true
				}
			}
			if len(ms) < batch {
				break
			}
		}
		if len(own) > 0 {
			ss.skipOwn(id, cs)
		}
	}
	if snapshot || (n != nil && n.State != "" && n.State != cs.state) {
		c, err := eng.Conversation(ctx, ss.p, id)
		if err != nil {
			if gone(err) {
				return ss.drop(id, cs, n, isNew)
			}
			return ss.engineFailed(err)
		}
		if !ss.snapshot(ctx, c, cs) {
			return false
		}
	}
	if isNew || reads || (n != nil && n.Reads) || (!fetch && !ownOnly) {
		if !ss.readMarks(ctx, id, cs) {
			return false
		}
	}
	return ss.published(id, cs)
}

// pace lets a backlog's catch-up go on only while fewer than half of the
// outbound buffer's frames wait (when the Conn is a Drainer). Otherwise it
// waits until the connection has written them down to a quarter or less,
// and a spare worker serves the other sessions meanwhile; the session
// stays held, so doorbells for it gather in pending. It returns false when
// the session closed, or when the server stopped (Server.Stop fails every
// session before it cancels ctx, so no live session is left half caught
// up). Called on a worker only (Server.work), never on a sender's
// goroutine (catchUp).
func (ss *Session) pace(ctx context.Context) bool {
	d, ok := ss.conn.(Drainer)
	high := max(ss.srv.cfg.OutboundBuffer/2, 1)
	if !ok || d.Queued() < high {
		return true
	}
	drained := make(chan struct{})
	var once sync.Once
	wake := func() { once.Do(func() { close(drained) }) }
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return false
	}
	ss.wake = wake
	ss.mu.Unlock()
	d.OnDrained(max(high/2, 1), wake)
	select {
	case <-drained: // already written meanwhile
	default:
		waited := ss.srv.spareWorker(ctx)
		select {
		case <-drained:
		case <-ctx.Done():
		}
		waited()
	}
	ss.mu.Lock()
	ss.wake = nil
	closed := ss.closed
	ss.mu.Unlock()
	return !closed && ctx.Err() == nil
}

// maxOwn caps the seqs remembered per conversation in Session.own; when it
// is passed the oldest is forgotten, and that message is simply sent as an
// event as well, which a client drops as already seen.
const maxOwn = 64

// advanceOwn moves the cursor of conversation id past seq, the message the
// send result just queued to this connection carries: what catchUp would
// do for the sender's own session, under one lock. It does so only when no
// one holds the session, no work is pending for it, no earlier own seq of
// the conversation is still to be skipped (a retried send may return one)
// and seq is the next message the client lacks. It returns the session
// when it did (relay then skips it) and nil otherwise (markOwn and relay's
// catchUp take the general way).
func (ss *Session) advanceOwn(id string, seq int64) *Session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	// With scheduled unset no worker holds the worker side, and none can
	// take it while ss.mu is held: convs may be read here.
	if ss.closed || !ss.ready || ss.scheduled || ss.hasWork() || len(ss.own[id]) > 0 {
		return nil
	}
	cs := ss.convs[id]
	if cs == nil || cs.seq != seq-1 {
		return nil
	}
	cs.seq = seq
	ss.upTo[id] = seq
	return ss
}

// markOwn records that the result of a send, carrying message seq of
// conversation id, has been queued to this connection.
func (ss *Session) markOwn(id string, seq int64) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return
	}
	if ss.own == nil {
		ss.own = make(map[string][]int64)
	}
	l := ss.own[id]
	i, found := slices.BinarySearch(l, seq)
	if found {
		return
	}
	l = slices.Insert(l, i, seq)
	if len(l) > maxOwn {
		l = l[1:]
	}
	ss.own[id] = l
}

// skipOwn forgets the own seqs at or below the cursor, moves the cursor
// over the own seqs that follow it, and returns a copy of those left (own
// messages beyond a gap, still to be skipped while reading).
func (ss *Session) skipOwn(id string, cs *convState) []int64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	l := ss.own[id]
	if len(l) == 0 {
		return nil
	}
	i := 0
	for i < len(l) && l[i] <= cs.seq+1 {
		if l[i] == cs.seq+1 {
			cs.seq++
		}
		i++
	}
	// Shifted down rather than resliced, and kept when empty: a sender's
	// list holds one seq at a time, and reusing its array spares an
	// allocation per message (drop forgets it with the conversation).
	l = l[:copy(l, l[i:])]
	ss.own[id] = l
	if len(l) == 0 {
		return nil
	}
	return slices.Clone(l)
}

// gone reports whether err means the principal can no longer read it.
func gone(err error) bool {
	return errors.Is(err, attendance.ErrForbidden) || errors.Is(err, attendance.ErrNotFound)
}

// drop forgets a conversation the principal can no longer read, telling
// the client when it had been streaming it.
func (ss *Session) drop(id string, cs *convState, n *attendance.Notification, isNew bool) bool {
	delete(ss.convs, id)
	ss.mu.Lock()
	delete(ss.own, id)
	delete(ss.upTo, id)
	ss.mu.Unlock()
	ss.srv.indexConversation(ss, id, false)
	if cs.queueID != "" {
		ss.unqueue(cs)
	}
	if isNew {
		return true
	}
	info := RemovedInfo{}
	if n != nil {
		info.State = n.State
	}
	return ss.emit(ServerFrame{Type: EventRemoved, ConversationID: id, Seq: cs.seq, Data: rawJSON(info)}, false)
}

func (ss *Session) unqueue(cs *convState) {
	if ss.queued[cs.queueID] != "" {
		delete(ss.queued, cs.queueID)
		ss.srv.indexQueue(ss, cs.queueID, false)
	}
	cs.queueID = ""
	cs.queue = QueueInfo{}
}

func (ss *Session) snapshot(ctx context.Context, c attendance.Conversation, cs *convState) bool {
	cs.mine = ss.p.Role == attendance.RoleBeneficiary && c.BeneficiaryID == ss.p.ID
	if c.Version != cs.version || cs.state == "" {
		cs.version, cs.state = c.Version, c.State
		if !ss.emit(ServerFrame{Type: EventConversation, ConversationID: c.ID, Seq: c.LastSeq, Data: rawJSON(c)}, false) {
			return false
		}
	}
	if c.State == attendance.StateOffered && c.AgentID == ss.p.ID && cs.offered != c.Version {
		cs.offered = c.Version
		if !ss.emit(ServerFrame{Type: EventOffer, ConversationID: c.ID, Seq: c.LastSeq, Data: rawJSON(OfferInfo{Deadline: c.OfferDeadline, Conversation: c})}, false) {
			return false
		}
	}
	if ss.p.Role == attendance.RoleBeneficiary {
		if c.State == attendance.StateQueued {
			if cs.queueID != c.QueueID {
				if cs.queueID != "" {
					ss.unqueue(cs)
				}
				cs.queueID = c.QueueID
				ss.queued[c.QueueID] = c.ID
				ss.srv.indexQueue(ss, c.QueueID, true)
			}
			return ss.queueStatus(ctx, c.ID, cs)
		}
		if cs.queueID != "" {
			ss.unqueue(cs)
		}
	}
	return true
}

func (ss *Session) queueStatus(ctx context.Context, id string, cs *convState) bool {
	st, err := ss.srv.eng.QueueStatus(ctx, ss.p, id)
	if err != nil {
		if gone(err) {
			return true
		}
		return ss.engineFailed(err)
	}
	if st.Position == 0 {
		return true
	}
	qi := queueInfo(st)
	if qi == cs.queue {
		return true
	}
	cs.queue = qi
	return ss.emit(ServerFrame{Type: EventQueue, ConversationID: id, Seq: cs.seq, Data: rawJSON(qi)}, false)
}

func (ss *Session) readMarks(ctx context.Context, id string, cs *convState) bool {
	marks, err := ss.srv.eng.ReadMarks(ctx, ss.p, id)
	if err != nil {
		if gone(err) {
			return true
		}
		return ss.engineFailed(err)
	}
	for _, m := range marks {
		if cs.reads == nil {
			cs.reads = make(map[attendance.Principal]int64)
		}
		if m.Seq <= cs.reads[m.Participant] {
			continue
		}
		cs.reads[m.Participant] = m.Seq
		if !ss.emit(ServerFrame{Type: EventRead, ConversationID: id, Seq: m.Seq, Data: rawJSON(m)}, false) {
			return false
		}
	}
	return true
}

// replyCache remembers the last replies by request ID, oldest evicted. It
// is a ring searched by a hash of the ID: a lookup reads one small array,
// and remembering a reply allocates nothing once the ring is full. Its
// storage is allocated on first use, so idle connections pay nothing.
type replyCache struct {
	size    int
	next    int
	hashes  []uint64
	entries []replyEntry
}

type replyEntry struct {
	id    string
	reply []byte
}

var replySeed = maphash.MakeSeed()

func newReplyCache(n int) replyCache {
	return replyCache{size: n}
}

func (c *replyCache) get(id string) ([]byte, bool) {
	h := maphash.String(replySeed, id)
	for i, x := range c.hashes {
		if x == h && c.entries[i].id == id {
			return c.entries[i].reply, true
		}
	}
	return nil, false
}

func (c *replyCache) put(id string, b []byte) {
	h := maphash.String(replySeed, id)
	if len(c.hashes) < c.size {
		c.hashes = append(c.hashes, h)
		c.entries = append(c.entries, replyEntry{id, b})
		return
	}
	c.hashes[c.next] = h
	c.entries[c.next] = replyEntry{id, b}
	c.next = (c.next + 1) % c.size
}

// tokenBucket is a small rate limiter; not safe for concurrent use.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *tokenBucket) take(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}
