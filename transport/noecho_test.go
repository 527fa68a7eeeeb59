package transport_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
	"github.com/mosiachat/mosiachat/transport/client"
)

// The connection that sends a message gets it in the send result, not again
// as an event; another connection of the same person gets the event.
func TestSendResultIsNotEchoed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	ben := e.dial("beneficiary", "b1")
	conv, err := ben.Open(ctx, "billing")
	require.NoError(t, err)

	r1, r2 := e.raw("beneficiary", "b1"), e.raw("beneficiary", "b1")
	r1.hello()
	r2.hello()
	for i := range 3 {
		id := fmt.Sprintf("s%d", i)
		r1.send(`{"type":"send","id":"` + id + `","data":{"conversation_id":"` + conv.ID + `","body":"hi"}}`)
		res := r1.reply(id)
		require.Equal(t, transport.FrameResult, res.Type)
	}
	// A marker from another connection: r1 must see it and nothing of its own.
	_, err = ben.SendText(ctx, conv.ID, "marker")
	require.NoError(t, err)
	var r1msgs, r2msgs []int64
	for {
		f := r1.next()
		if f.Type == transport.EventMessage {
			r1msgs = append(r1msgs, f.Seq)
			if f.Seq == conv.LastSeq+4 {
				break
			}
		}
	}
	for {
		f := r2.next()
		if f.Type == transport.EventMessage {
			r2msgs = append(r2msgs, f.Seq)
			if f.Seq == conv.LastSeq+4 {
				break
			}
		}
	}
	require.Equal(t, []int64{conv.LastSeq + 4}, r1msgs, "the sender's own messages are not echoed")
	require.Equal(t, []int64{conv.LastSeq + 1, conv.LastSeq + 2, conv.LastSeq + 3, conv.LastSeq + 4}, r2msgs)
}

// The Go client still delivers every message once and in order to the
// sender, its own ones from the send results, including a send whose caller
// gave up before the reply and sends racing the other side's messages.
func TestClientDeliversOwnMessagesInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{agents: map[string]attendance.Profile{"ana": profile}})
	ctx := ctxT(t)
	ana, ben := e.dial("agent", "ana"), e.dial("beneficiary", "b1")
	anaEv, benEv := record(ana), record(ben)
	_, err := ana.SetPresence(ctx, attendance.PresenceOnline)
	require.NoError(t, err)
	conv := startChat(t, ctx, ben, ana, anaEv, "billing")

	// A caller that gives up at once: the message may still be stored.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = ana.SendText(gone, conv, "abandoned")

	const n = 100
	var wg sync.WaitGroup
	for _, c := range []*struct {
		send func(context.Context, string, string) error
		p    string
	}{
		{func(ctx context.Context, conv, body string) error {
			_, err := ana.SendText(ctx, conv, body)
			return err
		}, "a"},
		{func(ctx context.Context, conv, body string) error {
			_, err := ben.SendText(ctx, conv, body)
			return err
		}, "b"},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := c.send(ctx, conv, fmt.Sprintf("%s%03d", c.p, i)); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	stored, err := e.eng.Messages(ctx, attendance.SystemPrincipal, conv, 0, 0)
	require.NoError(t, err)
	last := stored[len(stored)-1].Seq
	for _, r := range []*recorder{anaEv, benEv} {
		r.wait(t, "every message", func(r *recorder) bool {
			ms := r.msgs[conv]
			return len(ms) > 0 && ms[len(ms)-1].Seq == last
		})
		r.mu.Lock()
		requireContiguous(t, r.msgs[conv])
		require.GreaterOrEqual(t, len(r.texts(conv)), 2*n)
		r.mu.Unlock()
	}
	for _, c := range []interface{ Stats() client.Stats }{ana, ben} {
		require.Zero(t, c.Stats().Gaps)
		require.Zero(t, c.Stats().Duplicates)
	}
}
