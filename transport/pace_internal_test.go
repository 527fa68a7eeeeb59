package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// drainConn is a Conn with a Drainer whose client reads only when the test
// says so (read): frames wait in queued until then, and a full buffer
// refuses them as a real connection would.
type drainConn struct {
	mu      sync.Mutex
	max     int
	queued  []ServerFrame
	read    []ServerFrame
	most    int // the longest queued has been
	closed  bool
	drained func()
	drainAt int
}

func (c *drainConn) Deliver(b []byte, droppable bool) error {
	var f ServerFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errConnClosed
	}
	if len(c.queued) >= c.max {
		if droppable {
			return nil
		}
		return ErrSlowConsumer
	}
	c.queued = append(c.queued, f)
	c.most = max(c.most, len(c.queued))
	return nil
}

func (c *drainConn) Close(CloseReason, string) {
	c.mu.Lock()
	c.closed = true
	f := c.drained
	c.drained = nil
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

func (c *drainConn) Queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queued)
}

func (c *drainConn) OnDrained(n int, f func()) {
	c.mu.Lock()
	if c.closed || len(c.queued) < n {
		c.mu.Unlock()
		f()
		return
	}
	c.drained, c.drainAt = f, n
	c.mu.Unlock()
}

// readAll has the client read every frame waiting.
func (c *drainConn) readAll() {
	c.mu.Lock()
	c.read = append(c.read, c.queued...)
	c.queued = nil
	f := c.drained
	c.drained = nil
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

// waiting reports, when called, whether the session is waiting for the
// client to read (a drain callback is registered).
func (c *drainConn) waiting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.drained != nil
}

// readFrames returns the frames read, in order.
func (c *drainConn) readFrames() []ServerFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ServerFrame(nil), c.read...)
}

// readUntilSynced has the client read what waits, reporting whether the
// synced event is among what it has read: a condition to poll.
func (c *drainConn) readUntilSynced() bool {
	c.readAll()
	for _, f := range c.readFrames() {
		if f.Type == EventSynced {
			return true
		}
	}
	return false
}

// pausedCatchUp gives ben an open conversation with backlog messages and
// attaches a session for them over a drainConn of buffer frames that reads
// nothing: it returns once the hello's catch-up waits for the client.
func pausedCatchUp(t *testing.T, eng *attendance.Engine, srv *Server, ben attendance.Principal, backlog, buffer int) (*Session, *drainConn, attendance.Conversation) {
	t.Helper()
	ctx := context.Background()
	c, err := eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	for i := range backlog {
		_, err := eng.Send(ctx, ben, attendance.SendParams{ConversationID: c.ID, Body: fmt.Sprint(i)})
		require.NoError(t, err)
	}
	conn := &drainConn{max: buffer}
	ss, err := srv.Attach(ctx, ben, conn)
	require.NoError(t, err)
	ss.Handle(ctx, []byte(`{"type":"hello","id":"h","data":{"protocol":1}}`))
	require.Eventually(t, conn.waiting, 5*time.Second, time.Millisecond, "the catch-up did not wait for the client")
	return ss, conn, c
}

// A history far longer than the outbound buffer reaches a client that reads
// slowly, on one connection: the catch-up waits for it to read instead of
// overflowing the buffer, synced comes after the last message, and while it
// waits the other sessions are served, with a single worker.
func TestCatchUpWaitsForASlowClient(t *testing.T) {
	ctx := context.Background()
	const buffer, backlog = 16, 60
	eng, srv := newInternalServer(t, attendance.NewLocalBus(), func(c *Config) {
		c.OutboundBuffer = buffer
		c.Workers = 1
		c.HistoryBatch = 25
	})
	ss, conn, c := pausedCatchUp(t, eng, srv, attendance.BeneficiaryPrincipal("slow"), backlog, buffer)
	last := c.LastSeq + backlog

	// The only worker waits with the slow session; another session is
	// still served.
	other := attendance.BeneficiaryPrincipal("other")
	oc, err := eng.Open(ctx, other, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	sOther, otherConn := helloSession(t, srv, other)
	require.Eventually(t, settled(sOther, oc.ID, oc.LastSeq), 5*time.Second, time.Millisecond)
	require.Equal(t, 1, otherConn.count(EventSynced))

	// The slow client reads now and then; it gets everything, in order.
	require.Eventually(t, conn.readUntilSynced, 5*time.Second, time.Millisecond)
	require.False(t, ss.isClosed(), "the slow client was disconnected")
	var seqs []int64
	sawSynced := false
	for _, f := range conn.readFrames() {
		switch f.Type {
		case EventMessage:
			require.False(t, sawSynced, "message %d came after synced", f.Seq)
			seqs = append(seqs, f.Seq)
		case EventSynced:
			sawSynced = true
		}
	}
	require.Len(t, seqs, int(last))
	for i, seq := range seqs {
		require.Equal(t, int64(i+1), seq)
	}
	conn.mu.Lock()
	most := conn.most
	conn.mu.Unlock()
	// Half the buffer of messages, then at most the snapshot, the queue
	// position, the read marks and synced.
	require.LessOrEqual(t, most, buffer/2+4, "the catch-up did not wait for the client")

	// A worker went for every wait that ended: the pool is at its size.
	require.Eventually(t, func() bool { return srv.spares.Load() == 0 }, 5*time.Second, time.Millisecond)
}

// A session closed while its catch-up waits for the client releases the
// worker, and the server goes on serving others.
func TestClosedSessionEndsItsCatchUpWait(t *testing.T) {
	ctx := context.Background()
	eng, srv := newInternalServer(t, attendance.NewLocalBus(), func(c *Config) {
		c.OutboundBuffer = 8
		c.Workers = 1
	})
	ss, _, _ := pausedCatchUp(t, eng, srv, attendance.BeneficiaryPrincipal("gone"), 20, 8)

	ss.Close() // the client went away (the wire's reader ended)
	require.Eventually(t, func() bool {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		return ss.wake == nil && !ss.scheduled
	}, 5*time.Second, time.Millisecond, "the wait did not end")

	other := attendance.BeneficiaryPrincipal("other")
	oc, err := eng.Open(ctx, other, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	sOther, _ := helloSession(t, srv, other)
	require.Eventually(t, settled(sOther, oc.ID, oc.LastSeq), 5*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return srv.spares.Load() == 0 }, 5*time.Second, time.Millisecond)
}

// A message the client sends while its catch-up waits comes back in its
// send result only, not again as an event when a later batch of the
// history reaches it.
func TestOwnMessageSentDuringAPausedCatchUp(t *testing.T) {
	ctx := context.Background()
	eng, srv := newInternalServer(t, attendance.NewLocalBus(), func(c *Config) {
		c.OutboundBuffer = 16
		c.HistoryBatch = 10
	})
	ss, conn, c := pausedCatchUp(t, eng, srv, attendance.BeneficiaryPrincipal("b1"), 40, 16)

	ss.Handle(ctx, []byte(fmt.Sprintf(`{"type":"send","id":"s1","data":{"conversation_id":%q,"body":"mine"}}`, c.ID)))
	own := c.LastSeq + 41
	require.Eventually(t, conn.readUntilSynced, 5*time.Second, time.Millisecond)
	results := 0
	for _, f := range conn.readFrames() {
		require.False(t, f.Type == EventMessage && f.Seq == own, "own message %d sent again as an event", own)
		if f.Type == FrameResult && f.ID == "s1" {
			results++
		}
	}
	require.Equal(t, 1, results)
}
