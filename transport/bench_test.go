package transport_test

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
	"github.com/mosiachat/mosiachat/transport"
)

// countConn is a Conn that keeps nothing: it counts message events and
// notes the end of the hello backlog.
type countConn struct {
	messages atomic.Int64
	synced   atomic.Bool
}

func (c *countConn) Deliver(b []byte, _ bool) error {
	switch {
	case bytes.HasPrefix(b, []byte(`{"type":"message"`)):
		c.messages.Add(1)
	case bytes.HasPrefix(b, []byte(`{"type":"synced"`)):
		c.synced.Store(true)
	}
	return nil
}

func (c *countConn) Close(transport.CloseReason, string) {}

// BenchmarkRelayInProcess is the server's own work for one relayed
// message, without sockets: an agent's send command, handled as the
// WebSocket reader would hand it over, through the engine and the memory
// store to the event for the beneficiary's session. The loopback
// benchmarks (docs/benchmarks-transport.md) add the socket reads and
// writes; this one isolates what the transport and the engine add to
// them, and is steady enough to compare two versions with benchstat.
// With 1,000 conversations taking turns, as in the loopback runs, each
// message finds its sessions and conversation out of the CPU's caches.
func BenchmarkRelayInProcess(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run("conversations="+strconv.Itoa(n), func(b *testing.B) { benchmarkRelay(b, n) })
	}
}

func benchmarkRelay(b *testing.B, pairs int) {
	ctx := context.Background()
	eng, err := attendance.New(memory.New(), &attendance.Config{
		Queues:          []attendance.Queue{{ID: "q", Name: "Bench"}},
		Subjects:        []attendance.Subject{{ID: "s", Name: "Bench", QueueID: "q"}},
		FinalizeReasons: []attendance.FinalizeReason{{ID: "done", Label: "Done"}},
	})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := transport.NewServer(eng, &transport.Config{
		Authenticate: func(context.Context, transport.AuthenticateEvent) (transport.AuthenticateReply, error) {
			return transport.AuthenticateReply{}, nil
		},
		CommandsPerSecond: 1 << 30,
		CommandBurst:      1 << 30,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Stop(ctx) })
	attach := func(p attendance.Principal) (*transport.Session, *countConn) {
		conn := &countConn{}
		ss, err := srv.Attach(ctx, p, conn)
		if err != nil {
			b.Fatal(err)
		}
		ss.Handle(ctx, []byte(`{"type":"hello","id":"h","data":{"protocol":1}}`))
		for !conn.synced.Load() {
			time.Sleep(time.Millisecond)
		}
		return ss, conn
	}
	type pair struct {
		sender   *transport.Session
		receiver *countConn
		conv     string
	}
	ps := make([]pair, pairs)
	for i := range ps {
		agent, ben := attendance.AgentPrincipal("a"+strconv.Itoa(i)), attendance.BeneficiaryPrincipal("b"+strconv.Itoa(i))
		if _, err := eng.UpsertAgent(ctx, attendance.AgentParams{ID: agent.ID, Profile: attendance.Profile{Max: 1, Queues: []string{"q"}, OfferTimeout: time.Hour}}); err != nil {
			b.Fatal(err)
		}
		if _, err := eng.SetPresence(ctx, agent, attendance.PresenceOnline); err != nil {
			b.Fatal(err)
		}
		c, err := eng.Open(ctx, ben, attendance.OpenParams{SubjectID: "s"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := eng.Accept(ctx, agent, c.ID); err != nil {
			b.Fatal(err)
		}
		ps[i].sender, _ = attach(agent)
		_, ps[i].receiver = attach(ben)
		ps[i].conv = c.ID
	}
	body := bytes.Repeat([]byte("x"), 256)
	frames := make([][]byte, b.N) // built before the clock starts
	for i := range frames {
		f := []byte(`{"type":"send","id":"r` + strconv.Itoa(i) + `","data":{"conversation_id":"` + ps[i%pairs].conv + `","body":"`)
		f = append(f, body...)
		frames[i] = append(f, `"}}`...)
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i, f := range frames {
		ps[i%pairs].sender.Handle(ctx, f)
	}
	for i := range ps {
		want := int64(b.N / pairs)
		if i < b.N%pairs {
			want++
		}
		for ps[i].receiver.messages.Load() < want {
			time.Sleep(100 * time.Microsecond)
		}
	}
}
