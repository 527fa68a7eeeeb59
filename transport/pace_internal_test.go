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
	ben := attendance.BeneficiaryPrincipal("slow")
	c, err := eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	for i := range backlog {
		_, err := eng.Send(ctx, ben, attendance.SendParams{ConversationID: c.ID, Body: fmt.Sprint(i)})
		require.NoError(t, err)
	}
	last := c.LastSeq + backlog

	conn := &drainConn{max: buffer}
	ss, err := srv.Attach(ctx, ben, conn)
	require.NoError(t, err)
	ss.Handle(ctx, []byte(`{"type":"hello","id":"h","data":{"protocol":1}}`))
	require.Eventually(t, conn.waiting, 5*time.Second, time.Millisecond, "the catch-up did not wait for the client")

	// The only worker waits with the slow session; another session is
	// still served.
	other := attendance.BeneficiaryPrincipal("other")
	oc, err := eng.Open(ctx, other, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	sOther, otherConn := helloSession(t, srv, other)
	require.Eventually(t, settled(sOther, oc.ID, oc.LastSeq), 5*time.Second, time.Millisecond)
	require.Equal(t, 1, otherConn.count(EventSynced))

	// The slow client reads now and then; it gets everything, in order.
	synced := func() bool {
		conn.readAll()
		for _, f := range conn.readFrames() {
			if f.Type == EventSynced {
				return true
			}
		}
		return false
	}
	require.Eventually(t, synced, 5*time.Second, time.Millisecond)
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
	ben := attendance.BeneficiaryPrincipal("gone")
	c, err := eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	for i := range 20 {
		_, err := eng.Send(ctx, ben, attendance.SendParams{ConversationID: c.ID, Body: fmt.Sprint(i)})
		require.NoError(t, err)
	}
	conn := &drainConn{max: 8}
	ss, err := srv.Attach(ctx, ben, conn)
	require.NoError(t, err)
	ss.Handle(ctx, []byte(`{"type":"hello","id":"h","data":{"protocol":1}}`))
	require.Eventually(t, conn.waiting, 5*time.Second, time.Millisecond)

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
	ben := attendance.BeneficiaryPrincipal("b1")
	c, err := eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	for i := range 40 {
		_, err := eng.Send(ctx, ben, attendance.SendParams{ConversationID: c.ID, Body: fmt.Sprint(i)})
		require.NoError(t, err)
	}
	conn := &drainConn{max: 16}
	ss, err := srv.Attach(ctx, ben, conn)
	require.NoError(t, err)
	ss.Handle(ctx, []byte(`{"type":"hello","id":"h","data":{"protocol":1}}`))
	require.Eventually(t, conn.waiting, 5*time.Second, time.Millisecond)

	ss.Handle(ctx, []byte(fmt.Sprintf(`{"type":"send","id":"s1","data":{"conversation_id":%q,"body":"mine"}}`, c.ID)))
	own := c.LastSeq + 41
	synced := func() bool {
		conn.readAll()
		for _, f := range conn.readFrames() {
			if f.Type == EventSynced {
				return true
			}
		}
		return false
	}
	require.Eventually(t, synced, 5*time.Second, time.Millisecond)
	results := 0
	for _, f := range conn.readFrames() {
		require.False(t, f.Type == EventMessage && f.Seq == own, "own message %d sent again as an event", own)
		if f.Type == FrameResult && f.ID == "s1" {
			results++
		}
	}
	require.Equal(t, 1, results)
}
