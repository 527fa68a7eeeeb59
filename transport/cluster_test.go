package transport_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/internal/pgtest"
	"github.com/mosiachat/mosiachat/storage/postgres"
	"github.com/mosiachat/mosiachat/transport/client"
)

// roundRobin sends each request to the next node in turn: a load balancer
// without affinity, so a client's reconnections land on either node. It
// records which nodes each caller's handshakes went to, and can pin a
// caller to a node.
type roundRobin struct {
	next   atomic.Uint64
	nodes  []http.Handler
	mu     sync.Mutex
	used   map[string][]int // Authorization header -> node of each handshake
	pinned map[string]int   // Authorization header -> node
}

func (f *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Authorization")
	i := int(f.next.Add(1) % uint64(len(f.nodes)))
	f.mu.Lock()
	if node, ok := f.pinned[key]; ok {
		i = node
	}
	f.used[key] = append(f.used[key], i)
	f.mu.Unlock()
	f.nodes[i].ServeHTTP(w, r)
}

func authKey(p attendance.Principal) string {
	return header(string(p.Role), p.ID).Get("Authorization")
}

// nodesOf returns the nodes p's handshakes went to, in order.
func (f *roundRobin) nodesOf(p attendance.Principal) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.used[authKey(p)])
}

// pin sends p's next handshakes to node.
func (f *roundRobin) pin(p attendance.Principal, node int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pinned[authKey(p)] = node
}

// cluster is two nodes (each its own engine and transport server) on one
// store and bus, behind a round-robin front.
type cluster struct {
	nodes [2]*env
	front *roundRobin
	url   string
}

// newCluster starts two nodes on the memory store and the in-process bus,
// or, with postgres set, each on its own Store and LISTEN/NOTIFY Bus on
// one fresh schema (skipped without MOSIA_TEST_POSTGRES_DSN).
func newCluster(t *testing.T, postgresBacked bool, agents map[string]attendance.Profile) *cluster {
	t.Helper()
	var first, second envOptions
	first.agents = agents
	if postgresBacked {
		dsn := pgtest.DSN(t)
		schema := pgtest.Schema(t, dsn, "mosia_transport_")
		for _, o := range []*envOptions{&first, &second} {
			store, err := postgres.Open(t.Context(), dsn, &postgres.Config{Schema: schema, MaxConns: 4})
			require.NoError(t, err)
			bus, err := postgres.OpenBus(t.Context(), dsn, &postgres.BusConfig{Schema: schema})
			require.NoError(t, err)
			// Registered before the node's own cleanup, so run after it.
			t.Cleanup(func() {
				require.NoError(t, bus.Close())
				require.NoError(t, store.Close())
			})
			o.store, o.bus = store, bus
		}
	}
	c := &cluster{}
	c.nodes[0] = newEnv(t, first)
	if !postgresBacked {
		second.sameCluster = c.nodes[0]
	}
	c.nodes[1] = newEnv(t, second)
	c.front = &roundRobin{nodes: []http.Handler{c.nodes[0].srv.Handler(), c.nodes[1].srv.Handler()}, used: map[string][]int{}, pinned: map[string]int{}}
	mux := http.NewServeMux()
	mux.Handle("/ws", c.front)
	front := httptest.NewServer(mux)
	t.Cleanup(front.Close)
	c.url = "ws" + strings.TrimPrefix(front.URL, "http") + "/ws"
	return c
}

// dial connects a client as role:id through the front.
func (c *cluster) dial(t *testing.T, role, id string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := client.Dial(ctx, c.url, &client.Config{
		Header:     func(context.Context) (http.Header, error) { return header(role, id), nil },
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
	})
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	return cl
}

// disconnect cuts p's connections from the server side, on whichever node
// holds them.
func (c *cluster) disconnect(p attendance.Principal) {
	for _, n := range c.nodes {
		n.srv.Disconnect(p)
	}
}

func TestClusterResumesAcrossNodes(t *testing.T) {
	t.Run("memory", func(t *testing.T) { t.Parallel(); testClusterResumesAcrossNodes(t, false) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); testClusterResumesAcrossNodes(t, true) })
}

// Several chats run at once on two nodes, with every handshake sent to
// the other node than the last: agents and beneficiaries send at the same
// time while each connection is cut again and again (client side and
// server side), so each client resumes on a node other than the one it
// was on, and hears of the other side's messages through the bus. Every
// message reaches both ends once and in order, and is stored once.
func testClusterResumesAcrossNodes(t *testing.T, postgresBacked bool) {
	const agents, perAgent, n = 3, 2, 20
	profiles := map[string]attendance.Profile{}
	for i := range agents {
		profiles[fmt.Sprintf("a%d", i)] = attendance.Profile{Min: perAgent, Max: perAgent, AutoAcceptBelowMin: true, Queues: []string{"q1"}}
	}
	c := newCluster(t, postgresBacked, profiles)
	eng := c.nodes[0].eng
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	type party struct {
		p  attendance.Principal
		c  *client.Client
		ev *recorder
	}
	var parties []*party
	agentOf := map[string]*party{}
	for id := range profiles {
		a := &party{p: attendance.AgentPrincipal(id), c: c.dial(t, "agent", id)}
		a.ev = record(a.c)
		_, err := a.c.SetPresence(ctx, attendance.PresenceOnline)
		require.NoError(t, err)
		agentOf[id] = a
		parties = append(parties, a)
	}
	type chat struct {
		id         string
		ben, agent *party
	}
	var chats []chat
	for i := range agents * perAgent {
		id := fmt.Sprintf("b%d", i)
		b := &party{p: attendance.BeneficiaryPrincipal(id), c: c.dial(t, "beneficiary", id)}
		b.ev = record(b.c)
		parties = append(parties, b)
		conv, err := b.c.Open(ctx, "billing")
		require.NoError(t, err)
		var owner string
		require.Eventually(t, func() bool {
			cur, err := eng.Conversation(ctx, attendance.SystemPrincipal, conv.ID)
			owner = cur.AgentID
			return err == nil && cur.State == attendance.StateActive
		}, 10*time.Second, 5*time.Millisecond, "chat %s never became active", conv.ID)
		chats = append(chats, chat{id: conv.ID, ben: b, agent: agentOf[owner]})
	}

	var wg sync.WaitGroup
	for _, ch := range chats {
		for _, side := range []*party{ch.ben, ch.agent} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n {
					if _, err := side.c.SendText(ctx, ch.id, fmt.Sprintf("%s-%03d", side.p.ID, i)); err != nil {
						t.Errorf("send %s %d: %v", side.p.ID, i, err)
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
	}
	sending := make(chan struct{})
	go func() { wg.Wait(); close(sending) }()
	// Cut every party in turn, from its side and from the server's, until
	// the senders are done (and each party at least twice).
	for round := 0; ; round++ {
		for i, pt := range parties {
			if (round+i)%2 == 0 {
				pt.c.Drop()
			} else {
				c.disconnect(pt.p)
			}
			time.Sleep(2 * time.Millisecond)
		}
		select {
		case <-sending:
		default:
			continue
		}
		if round >= 1 {
			break
		}
	}

	for _, ch := range chats {
		for _, pt := range []*party{ch.ben, ch.agent} {
			pt.ev.waitFor(t, "every text of "+ch.id+" at "+pt.p.ID, 30*time.Second, func(r *recorder) bool { return len(r.texts(ch.id)) >= 2*n })
			pt.ev.mu.Lock()
			requireContiguous(t, pt.ev.msgs[ch.id])
			seen := map[string]bool{}
			for _, body := range pt.ev.texts(ch.id) {
				require.False(t, seen[body], "%s got %q twice", pt.p.ID, body)
				seen[body] = true
			}
			require.Len(t, seen, 2*n, "%s's texts in %s", pt.p.ID, ch.id)
			pt.ev.mu.Unlock()
		}
		stored, err := eng.Messages(ctx, ch.ben.p, ch.id, 0, 0)
		require.NoError(t, err)
		texts := 0
		for _, m := range stored {
			if m.Kind == attendance.KindText {
				texts++
			}
		}
		require.Equal(t, 2*n, texts, "chat %s: nothing stored twice", ch.id)
	}
	for _, pt := range parties {
		// A ping is answered only by a live session: once it is, the last
		// reconnection is done, and no more cuts come.
		require.NoError(t, pt.c.Ping(ctx))
		require.GreaterOrEqual(t, pt.c.Stats().Connects, 3, "%s was cut at least twice", pt.p.ID)
		require.Zero(t, pt.c.Stats().Gaps, "%s saw a gap", pt.p.ID)
	}

	// Now every beneficiary on node 0 and every agent on node 1, on steady
	// connections: each side of each chat sends once more, which only the
	// bus can tell the other node, and it must arrive without a
	// reconnection.
	for _, pt := range parties {
		node := 1
		if pt.p.Role == attendance.RoleBeneficiary {
			node = 0
		}
		c.front.pin(pt.p, node)
		pt.c.Drop()
	}
	for _, pt := range parties {
		require.NoError(t, pt.c.Ping(ctx))
		nodes := c.front.nodesOf(pt.p)
		require.Equal(t, pt.p.Role != attendance.RoleBeneficiary, nodes[len(nodes)-1] == 1, "%s is on the node it was pinned to", pt.p.ID)
	}
	for _, ch := range chats {
		connects := map[*party]int{ch.ben: ch.ben.c.Stats().Connects, ch.agent: ch.agent.c.Stats().Connects}
		for _, side := range []*party{ch.ben, ch.agent} {
			_, err := side.c.SendText(ctx, ch.id, side.p.ID+"-last")
			require.NoError(t, err)
		}
		for _, pt := range []*party{ch.ben, ch.agent} {
			pt.ev.waitFor(t, "the last texts of "+ch.id+" at "+pt.p.ID, 10*time.Second, func(r *recorder) bool { return len(r.texts(ch.id)) == 2*n+2 })
			require.Equal(t, connects[pt], pt.c.Stats().Connects, "%s reconnected to get the last texts", pt.p.ID)
		}
	}
}
