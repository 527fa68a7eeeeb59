package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/mosiachat/mosiachat/attendance"
)

// wsHandler is the WebSocket wire: it authenticates the upgrade request,
// attaches a Session and pumps frames between the socket and the session.
type wsHandler struct {
	srv *Server
}

func (h *wsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	srv := h.srv
	runCtx, ok := srv.running()
	if !ok {
		writeHTTPError(w, ErrServerClosed)
		return
	}
	p, err := srv.authenticate(r)
	if err != nil {
		writeHTTPError(w, err)
		return
	}
	wc := &wsConn{max: srv.cfg.OutboundBuffer, writeTimeout: srv.cfg.WriteTimeout}
	ss, err := srv.Attach(r.Context(), p, wc)
	if err != nil {
		writeHTTPError(w, err)
		return
	}
	defer ss.Close()
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:    []string{Subprotocol},
		OriginPatterns:  srv.cfg.OriginPatterns,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return // Accept has answered the request.
	}
	c.SetReadLimit(srv.cfg.MaxFrameBytes)
	if !wc.attach(c) {
		c.Close(websocket.StatusGoingAway, "session ended")
		return
	}
	defer func() {
		wc.wait()
		c.CloseNow()
	}()

	ctx, cancel := context.WithCancel(runCtx)
	defer cancel()
	for {
		typ, data, buf, err := readFrame(c)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				srv.log.Info("transport: frame above the limit; connection closed", "session", ss.ID())
			}
			return
		}
		// The replies of this frame are written by this goroutine once it
		// is handled, instead of by a writer goroutine started for them.
		wc.hold()
		switch {
		case typ == websocket.MessageBinary:
			ss.HandleBinary(ctx)
		case !ss.helloDone():
			// The hello (JSON of the resume map, engine reads) runs on a
			// goroutine of its own, whose stack goes when it ends: the
			// reader, which lives as long as the connection, keeps the
			// small stack it needs to wait for frames.
			done := make(chan struct{})
			go func() {
				defer close(done)
				ss.Handle(ctx, data)
			}()
			<-done
		default:
			ss.Handle(ctx, data)
		}
		wc.flush()
		putReadBuffer(buf) // Handle keeps nothing of data
		if ss.isClosed() {
			return
		}
	}
}

// readBuffers hold client frames while they are handled; an idle connection
// holds none.
var readBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readFrame reads one client frame into a pooled buffer, which the caller
// returns with putReadBuffer once done with data.
func readFrame(c *websocket.Conn) (websocket.MessageType, []byte, *bytes.Buffer, error) {
	// No deadline on the read (a context that cannot end costs coder/
	// websocket no timer per frame): Stop and every close path close the
	// socket, which ends the read.
	typ, r, err := c.Reader(context.Background())
	if err != nil {
		return 0, nil, nil, err
	}
	buf := readBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		putReadBuffer(buf)
		return 0, nil, nil, err
	}
	return typ, buf.Bytes(), buf, nil
}

func putReadBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= 16<<10 { // a rare big frame does not stay in the pool
		readBuffers.Put(buf)
	}
}

func (s *Server) authenticate(r *http.Request) (p attendance.Principal, err error) {
	reply, err := s.cfg.Authenticate(r.Context(), AuthenticateEvent{Request: r})
	if errors.Is(err, attendance.ErrUnavailable) || r.Context().Err() == nil &&
		(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		// The host could not tell (its session store is down or slow):
		// not a refusal, which would stop the client for good.
		s.log.Warn("transport: authentication unavailable", "remote", r.RemoteAddr, "err", err)
		return attendance.Principal{}, fmt.Errorf("%w: authentication is unavailable; try again", attendance.ErrUnavailable)
	}
	if err != nil {
		s.log.Info("transport: authentication refused", "remote", r.RemoteAddr)
		return attendance.Principal{}, errors.Join(ErrUnauthenticated, errors.New("credentials refused"))
	}
	if err := checkPrincipal(reply.Principal); err != nil {
		return attendance.Principal{}, err
	}
	return reply.Principal, nil
}

// writeHTTPError answers a plain HTTP request with the error's status and a
// JSON body {"code": ..., "message": ...}.
func writeHTTPError(w http.ResponseWriter, err error) {
	code, status := CodeOf(err)
	if errors.Is(err, ErrServerClosed) {
		code, status = CodeUnavailable, http.StatusServiceUnavailable
	}
	body := errorBody(err)
	body.Code = code
	if code == CodeUnauthenticated {
		body.Message = "missing or refused credentials"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// wsConn is a Conn over a coder/websocket connection. Outbound frames wait
// in a bounded queue; a writer goroutine exists only while there is
// something to write, so an idle connection costs no goroutine beyond its
// reader. The replies to a client frame are written by the reader itself
// right after handling it (see hold and flush).
//
// A frame write has no context deadline (that would cost a timer per
// frame); instead writeStart records when the current write began and the
// server's watchdog (Server.watchWrites) closes a connection whose write
// has taken longer than writeTimeout.
type wsConn struct {
	c            *websocket.Conn
	max          int
	writeTimeout time.Duration
	writeStart   atomic.Int64 // monotonic ns (clock) of the write in progress, 0 if none

	mu       sync.Mutex
	queue    [][]byte
	spare    [][]byte
	inFlight int // frames of the batch being written
	// drained waits for fewer than drainAt frames to wait (Drainer).
	drained func()
	drainAt int
	writing bool
	held    bool // the reader is handling a frame and will flush after it
	closed  bool
	ready   bool
	// closing is closed when a close handshake started by Close ends.
	closing     chan struct{}
	closeStatus websocket.StatusCode
	closeMsg    string
}

var _ Conn = (*wsConn)(nil)
var _ Pinger = (*wsConn)(nil)
var _ Drainer = (*wsConn)(nil)

// Queued implements Drainer.
func (w *wsConn) Queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue) + w.inFlight
}

// OnDrained implements Drainer.
func (w *wsConn) OnDrained(n int, f func()) {
	w.mu.Lock()
	if w.closed || len(w.queue)+w.inFlight < n {
		w.mu.Unlock()
		f()
		return
	}
	w.drained, w.drainAt = f, n
	w.mu.Unlock()
}

// takeDrained returns the drain callback when it is due (or the connection
// closed), clearing it; the caller runs it after unlocking. Called with
// w.mu held.
func (w *wsConn) takeDrained() func() {
	f := w.drained
	if f == nil || !w.closed && len(w.queue)+w.inFlight >= w.drainAt {
		return nil
	}
	w.drained = nil
	return f
}

// callIf calls f when it is not nil.
func callIf(f func()) {
	if f != nil {
		f()
	}
}

func (w *wsConn) attach(c *websocket.Conn) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.c = c
	w.ready = true
	start := len(w.queue) > 0 && !w.writing && !w.closed
	if start {
		w.writing = true
	}
	w.mu.Unlock()
	if start {
		go w.writeLoop(writer)
	}
	return true
}

// Deliver implements Conn.
func (w *wsConn) Deliver(frame []byte, droppable bool) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errConnClosed
	}
	if len(w.queue) >= w.max {
		w.mu.Unlock()
		if droppable {
			return nil
		}
		return ErrSlowConsumer
	}
	w.queue = append(w.queue, frame)
	start := w.ready && !w.writing && !w.held
	if start {
		w.writing = true
	}
	w.mu.Unlock()
	if start {
		go w.writeLoop(writer)
	}
	return nil
}

// hold makes Deliver leave queued frames to the reader's next flush.
func (w *wsConn) hold() {
	w.mu.Lock()
	w.held = true
	w.mu.Unlock()
}

// flush ends a hold: when no writer runs, the reader writes one batch of
// what is queued itself, and leaves the rest (if more came meanwhile) to a
// writer goroutine.
func (w *wsConn) flush() {
	w.mu.Lock()
	w.held = false
	start := w.ready && !w.writing && len(w.queue) > 0
	if start {
		w.writing = true
	}
	w.mu.Unlock()
	if start {
		w.writeLoop(inline)
	}
}

// clock is a monotonic nanosecond clock for write watchdogs.
var clockStart = time.Now()

func clock() int64 { return int64(time.Since(clockStart)) + 1 }

// stuck reports whether a frame write has been in progress for longer than
// the write timeout at monotonic time now.
func (w *wsConn) stuck(now int64) bool {
	st := w.writeStart.Load()
	return st != 0 && now-st > int64(w.writeTimeout)
}

// abort cuts the socket, which fails the write in progress.
func (w *wsConn) abort() {
	w.mu.Lock()
	c := w.c
	w.mu.Unlock()
	if c != nil {
		c.CloseNow()
	}
}

var errConnClosed = errors.New("transport: connection closed")

type loopMode int

const (
	writer     loopMode = iota // a writer goroutine: until the queue is empty
	inline                     // the reader: one batch, then hand over
	inlineDone                 // the reader after its batch
)

// writeLoop writes queued frames until the queue is empty; w.writing is set
// by the caller. Called inline by the reader, it writes one batch and hands
// what remains to a writer goroutine.
func (w *wsConn) writeLoop(once loopMode) {
	for {
		w.mu.Lock()
		w.inFlight = 0
		drained := w.takeDrained()
		if len(w.queue) == 0 {
			w.writing = false
			closing := w.closed && w.closing != nil
			w.mu.Unlock()
			callIf(drained)
			if closing {
				w.closeNow()
			}
			return
		}
		if once == inlineDone {
			// More came while the reader wrote: a writer goroutine takes
			// over (w.writing stays set), so the reader goes back to
			// reading.
			w.mu.Unlock()
			callIf(drained)
			go w.writeLoop(writer)
			return
		}
		if once == inline {
			once = inlineDone
		}
		batch := w.queue
		w.queue, w.spare = w.spare[:0], nil
		w.inFlight = len(batch)
		w.mu.Unlock()
		callIf(drained)
		for i, b := range batch {
			w.writeStart.Store(clock())
			err := w.c.Write(context.Background(), websocket.MessageText, b)
			w.writeStart.Store(0)
			batch[i] = nil
			if err != nil {
				w.mu.Lock()
				wasClosing := w.closing != nil
				w.closed, w.writing = true, false
				w.queue, w.inFlight = nil, 0
				closedDrained := w.takeDrained()
				w.mu.Unlock()
				callIf(closedDrained)
				w.c.CloseNow()
				if wasClosing {
					w.closeNow()
				}
				return
			}
		}
		w.mu.Lock()
		if w.spare == nil {
			w.spare = batch[:0]
		}
		w.mu.Unlock()
	}
}

// Close implements Conn. Frames already queued are written first (a
// flood's last replies reach the client), unless the queue is full (a slow
// reader), in which case they are dropped. The close handshake runs in its
// own goroutine, since a peer that does not read could hold it for
// seconds.
func (w *wsConn) Close(reason CloseReason, message string) {
	status := websocket.StatusNormalClosure
	switch reason {
	case ClosePolicy:
		status = websocket.StatusPolicyViolation
	case CloseGoingAway:
		status = websocket.StatusGoingAway
	case CloseTryAgain:
		status = websocket.StatusTryAgainLater
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	if len(w.queue) >= w.max {
		w.queue = nil
	}
	drained := w.takeDrained()
	c := w.c
	if c == nil {
		w.queue = nil
		w.mu.Unlock()
		callIf(drained)
		return
	}
	w.closing = make(chan struct{})
	w.closeStatus, w.closeMsg = status, message
	// A writer, or the reader's coming flush, closes once the queue is
	// written.
	drain := w.writing || (w.held && w.ready && len(w.queue) > 0)
	w.mu.Unlock()
	callIf(drained)
	if !drain {
		go w.closeNow()
	}
	// Otherwise writeLoop closes once the queue is empty.
}

func (w *wsConn) closeNow() {
	w.mu.Lock()
	c, done, st, msg := w.c, w.closing, w.closeStatus, w.closeMsg
	w.mu.Unlock()
	defer close(done)
	c.Close(st, msg)
}

// wait lets a close handshake started by Close finish (it has its own
// timeouts), so the peer receives the status before the socket goes.
func (w *wsConn) wait() {
	w.mu.Lock()
	done := w.closing
	w.mu.Unlock()
	if done != nil {
		<-done
	}
}

// Ping implements Pinger with a WebSocket ping.
func (w *wsConn) Ping(ctx context.Context) error {
	w.mu.Lock()
	c := w.c
	w.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Ping(ctx)
}
