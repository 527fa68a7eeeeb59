package transport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
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
		typ, data, err := c.Read(ctx)
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				srv.log.Info("transport: frame above the limit; connection closed", "session", ss.ID())
			}
			return
		}
		if typ == websocket.MessageBinary {
			ss.HandleBinary(ctx)
		} else {
			ss.Handle(ctx, data)
		}
		if ss.isClosed() {
			return
		}
	}
}

func (s *Server) authenticate(r *http.Request) (p attendance.Principal, err error) {
	reply, err := s.cfg.Authenticate(r.Context(), AuthenticateEvent{Request: r})
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
// reader.
type wsConn struct {
	c            *websocket.Conn
	max          int
	writeTimeout time.Duration

	mu      sync.Mutex
	queue   [][]byte
	spare   [][]byte
	writing bool
	closed  bool
	ready   bool
	// closing is closed when a close handshake started by Close ends.
	closing     chan struct{}
	closeStatus websocket.StatusCode
	closeMsg    string
}

var _ Conn = (*wsConn)(nil)
var _ Pinger = (*wsConn)(nil)

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
		go w.writeLoop()
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
	start := w.ready && !w.writing
	if start {
		w.writing = true
	}
	w.mu.Unlock()
	if start {
		go w.writeLoop()
	}
	return nil
}

var errConnClosed = errors.New("transport: connection closed")

func (w *wsConn) writeLoop() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.writing = false
			closing := w.closed && w.closing != nil
			w.mu.Unlock()
			if closing {
				w.closeNow()
			}
			return
		}
		batch := w.queue
		w.queue, w.spare = w.spare[:0], nil
		w.mu.Unlock()
		for i, b := range batch {
			ctx, cancel := context.WithTimeout(context.Background(), w.writeTimeout)
			err := w.c.Write(ctx, websocket.MessageText, b)
			cancel()
			batch[i] = nil
			if err != nil {
				w.mu.Lock()
				wasClosing := w.closing != nil
				w.closed, w.writing = true, false
				w.queue = nil
				w.mu.Unlock()
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
	c := w.c
	if c == nil {
		w.queue = nil
		w.mu.Unlock()
		return
	}
	w.closing = make(chan struct{})
	w.closeStatus, w.closeMsg = status, message
	drain := w.writing
	w.mu.Unlock()
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
