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
	"github.com/mosiachat/mosiachat/storage/memory"
)

// heldBus is a LocalBus whose notifications can be held back: doorbells
// still on their way.
type heldBus struct {
	*attendance.LocalBus
	mu   sync.Mutex
	hold bool
	held []attendance.Notification
}

func (b *heldBus) Publish(ctx context.Context, n attendance.Notification) error {
	b.mu.Lock()
	if b.hold {
		b.held = append(b.held, n)
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	return b.LocalBus.Publish(ctx, n)
}

func (b *heldBus) release() {
	b.mu.Lock()
	held := b.held
	b.hold, b.held = false, nil
	b.mu.Unlock()
	for _, n := range held {
		_ = b.LocalBus.Publish(context.Background(), n)
	}
}

// frameConn records the frames delivered to it.
type frameConn struct {
	mu     sync.Mutex
	frames []ServerFrame
}

func (c *frameConn) Deliver(b []byte, _ bool) error {
	var f ServerFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	c.mu.Lock()
	c.frames = append(c.frames, f)
	c.mu.Unlock()
	return nil
}

func (c *frameConn) Close(CloseReason, string) {}

// A retried send (same idempotency key, new request ID) returns an earlier
// message; relaying it must not move the session's cursor back, or the own
// messages after it would be sent again as events after their results.
func TestRelayOfRetriedSendKeepsTheCursor(t *testing.T) {
	ctx := context.Background()
	bus := &heldBus{LocalBus: attendance.NewLocalBus()}
	eng, err := attendance.New(memory.New(), &attendance.Config{
		Bus:             bus,
		Queues:          []attendance.Queue{{ID: "q1", Name: "General"}},
		Subjects:        []attendance.Subject{{ID: "billing", Name: "Billing", QueueID: "q1"}},
		FinalizeReasons: []attendance.FinalizeReason{{ID: "solved", Label: "Solved"}},
	})
	require.NoError(t, err)
	srv, err := NewServer(eng, &Config{Authenticate: func(context.Context, AuthenticateEvent) (AuthenticateReply, error) {
		return AuthenticateReply{}, nil
	}})
	require.NoError(t, err)
	require.NoError(t, srv.Start(ctx))
	t.Cleanup(func() { _ = srv.Stop(ctx) })
	ben := attendance.BeneficiaryPrincipal("b1")
	conn := &frameConn{}
	ss, err := srv.Attach(ctx, ben, conn)
	require.NoError(t, err)
	ss.Handle(ctx, []byte(`{"type":"hello","id":"h","data":{"protocol":1}}`))
	c, err := eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "billing"})
	require.NoError(t, err)
	settled := func(seq int64) func() bool {
		return func() bool {
			ss.mu.Lock()
			defer ss.mu.Unlock()
			return !ss.scheduled && ss.upTo[c.ID] == seq
		}
	}
	require.Eventually(t, settled(c.LastSeq), 5*time.Second, time.Millisecond)

	send := func(req, key string) {
		ss.Handle(ctx, []byte(fmt.Sprintf(`{"type":"send","id":%q,"data":{"conversation_id":%q,"body":"x","idempotency_key":%q}}`, req, c.ID, key)))
	}
	bus.mu.Lock()
	bus.hold = true // the doorbells of the sends below are slow to come
	bus.mu.Unlock()
	ss.mu.Lock()
	ss.scheduled = true // a worker holds the session: the relays skip it
	ss.mu.Unlock()
	send("s1", "k1")
	send("s2", "k2")
	ss.mu.Lock()
	ss.scheduled = false // the worker's pass ends before the doorbells come
	ss.mu.Unlock()
	send("s3", "k1") // the retry returns the first message again
	bus.release()
	require.Eventually(t, settled(c.LastSeq+2), 5*time.Second, time.Millisecond)

	conn.mu.Lock()
	defer conn.mu.Unlock()
	for _, f := range conn.frames {
		require.False(t, f.Type == EventMessage && f.Seq > c.LastSeq, "own message %d sent again as an event after its result", f.Seq)
	}
}
