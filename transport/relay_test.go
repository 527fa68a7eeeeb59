package transport_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
)

// Several connections of both sides of one conversation send at once from
// many goroutines; the sender brings the other connections up to date
// itself (Server.relay) while the dispatcher and the workers run too. Every
// connection sees every message exactly once across its events and its own
// send results, and its events in strictly increasing order.
func TestRelayUnderConcurrentSenders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{
		agents: map[string]attendance.Profile{"ana": profile},
		cfg:    func(c *transport.Config) { c.CommandsPerSecond, c.CommandBurst = 10000, 10000 },
	})
	ctx := ctxT(t)
	ana, ben := e.dial("agent", "ana"), e.dial("beneficiary", "b1")
	anaEv := record(ana)
	_, err := ana.SetPresence(ctx, attendance.PresenceOnline)
	require.NoError(t, err)
	conv := startChat(t, ctx, ben, ana, anaEv, "billing")
	c, err := e.eng.Conversation(ctx, attendance.SystemPrincipal, conv)
	require.NoError(t, err)
	first := c.LastSeq + 1

	const perConn, senders = 40, 3 // per connection: senders goroutines
	type conn struct {
		ws     *websocket.Conn
		mu     sync.Mutex
		events []int64       // message seqs received as events, from first on
		own    int           // send results received
		got    map[int64]int // every seq from first on, from events and results
	}
	var conns []*conn
	for _, who := range [][2]string{{"agent", "ana"}, {"agent", "ana"}, {"beneficiary", "b1"}, {"beneficiary", "b1"}} {
		r := e.raw(who[0], who[1])
		r.hello()
		conns = append(conns, &conn{ws: r.ws, got: map[int64]int{}})
	}
	total := int64(len(conns) * perConn)
	last := first + total - 1
	var readers sync.WaitGroup
	for _, cn := range conns {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				_, data, err := cn.ws.Read(ctx)
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				var f transport.ServerFrame
				if err := json.Unmarshal(data, &f); err != nil {
					t.Errorf("frame %s: %v", data, err)
					return
				}
				cn.mu.Lock()
				switch {
				case f.Type == transport.EventMessage && f.Seq >= first:
					cn.events = append(cn.events, f.Seq)
					cn.got[f.Seq]++
				case f.Type == transport.FrameResult:
					var m attendance.Message
					if json.Unmarshal(f.Data, &m) == nil && m.Seq >= first {
						cn.own++
						cn.got[m.Seq]++
					}
				case f.Type == transport.FrameError:
					t.Errorf("error reply: %+v", f.Error)
				}
				done := cn.own == perConn && int64(len(cn.got)) == total
				cn.mu.Unlock()
				if done {
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for ci, cn := range conns {
		for g := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < perConn; i += senders {
					frame := fmt.Sprintf(`{"type":"send","id":"c%d-%d","data":{"conversation_id":%q,"body":"m%d-%d"}}`, ci, i, conv, ci, i)
					if err := cn.ws.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
						t.Errorf("write: %v", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	readers.Wait()
	for ci, cn := range conns {
		cn.mu.Lock()
		for i := 1; i < len(cn.events); i++ {
			require.Less(t, cn.events[i-1], cn.events[i], "connection %d: events out of order or doubled: %v", ci, cn.events)
		}
		for s := first; s <= last; s++ {
			require.NotZero(t, cn.got[s], "connection %d never saw seq %d", ci, s)
		}
		cn.mu.Unlock()
	}
}

// A doorbell for a read mark moved on another node carries no new message:
// it must not be taken for the doorbell of a message already delivered.
func TestReadMarkFromAnotherNodeReachesClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	ben := e.dial("beneficiary", "b1")
	rec := record(ben)
	conv, err := ben.Open(ctx, "billing")
	require.NoError(t, err)
	m, err := ben.SendText(ctx, conv.ID, "hello")
	require.NoError(t, err)
	rec.wait(t, "the message", func(r *recorder) bool { return len(r.texts(conv.ID)) == 1 })

	// Another node's supervisor reads up to the message: the mark is in the
	// store and only its doorbell crosses the bus.
	sup := attendance.Principal{Role: attendance.RoleSupervisor, ID: "sue"}
	_, err = e.eng.Store().MarkRead(ctx, attendance.MarkReadParams{ConversationID: conv.ID, Participant: sup, Seq: m.Seq, At: time.Now()})
	require.NoError(t, err)
	require.NoError(t, e.bus.Publish(ctx, attendance.Notification{
		Kind: attendance.NotifyConversation, ConversationID: conv.ID, BeneficiaryID: "b1",
		QueueID: conv.QueueID, Seq: m.Seq, Reads: true, Origin: "another-node",
	}))
	rec.wait(t, "the read mark", func(r *recorder) bool {
		ev, ok := r.find(transport.EventRead, conv.ID)
		return ok && ev.Seq == m.Seq && string(ev.Data) != "" && strings.Contains(string(ev.Data), `"sue"`)
	})
}

// A message sent after its conversation moved to another agent never
// reaches the former owner, even when the move happened on another node
// whose doorbell never came: the former owner's session is still indexed
// for the chat when the message is relayed.
func TestRelayDoesNotReachFormerOwner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{agents: map[string]attendance.Profile{"ana": profile, "bia": profile}})
	ctx := ctxT(t)
	ana, bia, ben := e.dial("agent", "ana"), e.dial("agent", "bia"), e.dial("beneficiary", "b1")
	anaEv := record(ana)
	_, err := ana.SetPresence(ctx, attendance.PresenceOnline)
	require.NoError(t, err)
	conv := startChat(t, ctx, ben, ana, anaEv, "billing")
	_, err = bia.SetPresence(ctx, attendance.PresenceOnline)
	require.NoError(t, err)

	// Another node moves the chat to bia; its doorbell never reaches this
	// node (its bus is its own), so ana's session still streams the chat.
	other, err := attendance.New(e.eng.Store(), engineConfig(attendance.NewLocalBus()))
	require.NoError(t, err)
	moved, err := other.Transfer(ctx, attendance.AgentPrincipal("ana"), attendance.TransferParams{ConversationID: conv, AgentID: "bia"})
	require.NoError(t, err)

	_, err = ben.SendText(ctx, conv, "after the move")
	require.NoError(t, err)
	anaEv.wait(t, "the chat removed from ana", func(r *recorder) bool { return r.has(transport.EventRemoved, conv) })
	anaEv.mu.Lock()
	defer anaEv.mu.Unlock()
	for _, m := range anaEv.msgs[conv] {
		require.LessOrEqual(t, m.Seq, moved.LastSeq, "ana got message %d (%q), sent after the chat left her at %d", m.Seq, m.Body, moved.LastSeq)
	}
}
