package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/postgres"
)

// deliveryBound is how long a test waits for a notification to cross the
// server. It is a liveness bound, not a measurement: delivery takes
// milliseconds.
const deliveryBound = 30 * time.Second

// openBus opens a Bus on schema, closed at the end of the test.
func openBus(t *testing.T, schema string, cfg *postgres.BusConfig) *postgres.Bus {
	t.Helper()
	c := postgres.BusConfig{MaxConns: 2}
	if cfg != nil {
		c = *cfg
	}
	c.Schema = schema
	b, err := postgres.OpenBus(t.Context(), testDSN(t), &c)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// inbox records what a handler hears.
type inbox struct {
	mu sync.Mutex
	ns []attendance.Notification
}

func (in *inbox) handle(n attendance.Notification) {
	in.mu.Lock()
	in.ns = append(in.ns, n)
	in.mu.Unlock()
}

func (in *inbox) all() []attendance.Notification {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.ns)
}

// subscribe records b's notifications in a new inbox.
func subscribe(t *testing.T, b *postgres.Bus) *inbox {
	t.Helper()
	in := &inbox{}
	unsub, err := b.Subscribe(in.handle)
	require.NoError(t, err)
	t.Cleanup(unsub)
	return in
}

// waitUntil waits, within deliveryBound, until in holds a notification
// that satisfies ok, and returns what in holds by then.
func (in *inbox) waitUntil(t *testing.T, what string, ok func(attendance.Notification) bool) []attendance.Notification {
	t.Helper()
	require.Eventually(t, func() bool { return slices.ContainsFunc(in.all(), ok) }, deliveryBound, 2*time.Millisecond, "waiting for %s", what)
	return in.all()
}

// marker is a notification that tests publish last, to know that what was
// published before it has been delivered.
func marker(id string) attendance.Notification {
	return attendance.Notification{Kind: attendance.NotifyQueue, QueueID: "marker-" + id}
}

func isMarker(id string) func(attendance.Notification) bool {
	return func(n attendance.Notification) bool {
		return n.Kind == attendance.NotifyQueue && n.QueueID == "marker-"+id
	}
}

func isResync(n attendance.Notification) bool { return n.Kind == attendance.NotifyResync }

func TestBusDeliversToEveryBusOnTheSchemaOnly(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema, other := newSchema(t, dsn), newSchema(t, dsn)
	b1, b2, b3 := openBus(t, schema, nil), openBus(t, schema, nil), openBus(t, other, nil)
	require.NotEqual(t, b1.Channel(), b3.Channel())
	in1, in2, in3 := subscribe(t, b1), subscribe(t, b2), subscribe(t, b3)

	n := attendance.Notification{
		Kind:           attendance.NotifyConversation,
		ConversationID: "conv-1",
		BeneficiaryID:  "benef-João-🙂", // non-ASCII travels escaped
		QueueID:        "geral",
		State:          attendance.StateOffered,
		Seq:            42,
		AgentIDs:       []string{"ana", "bruno"},
		Origin:         "engine-1",
	}
	require.NoError(t, b1.Publish(t.Context(), n))
	is := func(m attendance.Notification) bool { return m.ConversationID == "conv-1" }
	// The other bus on the schema hears it, and so does the publisher's own.
	require.Equal(t, []attendance.Notification{n}, in2.waitUntil(t, "b2 to hear b1", is))
	require.Equal(t, []attendance.Notification{n}, in1.waitUntil(t, "b1 to hear itself", is))

	// A bus on another schema does not: its own marker arrives alone.
	require.NoError(t, b3.Publish(t.Context(), marker("other")))
	require.Equal(t, []attendance.Notification{marker("other")}, in3.waitUntil(t, "b3's marker", isMarker("other")))
	require.NoError(t, b1.Publish(t.Context(), marker("schema")))
	require.Equal(t, []attendance.Notification{n, marker("schema")}, in2.waitUntil(t, "b2's marker", isMarker("schema")))

	// A typing indicator, the one notification that is its own news,
	// travels whole.
	typing := attendance.Notification{
		Kind: attendance.NotifyTyping, ConversationID: "conv-2", BeneficiaryID: "maria", AgentIDs: []string{"ana"},
		Typing: &attendance.Typing{From: attendance.BeneficiaryPrincipal("maria"), Active: true}, Origin: "engine-1",
	}
	require.NoError(t, b1.Publish(t.Context(), typing))
	heard := in2.waitUntil(t, "b2 to hear the indicator", func(m attendance.Notification) bool { return m.ConversationID == "conv-2" })
	require.Equal(t, typing, heard[len(heard)-1])

	// One too large for a NOTIFY is refused, not trimmed into a resync.
	huge := typing
	huge.Typing = &attendance.Typing{From: attendance.AgentPrincipal(strings.Repeat("a", 9000)), Active: true}
	require.ErrorIs(t, b1.Publish(t.Context(), huge), attendance.ErrInvalidArgument)
	require.NoError(t, b1.Publish(t.Context(), marker("after-huge")))
	after := in2.waitUntil(t, "b2's marker after the refused indicator", isMarker("after-huge"))
	for _, m := range after[len(heard):] {
		require.NotEqual(t, attendance.NotifyResync, m.Kind, "a refused indicator made receivers resync")
		require.NotEqual(t, attendance.NotifyTyping, m.Kind)
	}
}

func TestBusChannelName(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	// A schema name that would make the channel longer than an identifier,
	// with a quote in it, still gives a working channel of its own.
	long := strings.Repeat("x", 60) + `"q`
	b1 := openBus(t, long, nil)
	b2 := openBus(t, strings.Repeat("x", 60)+`"r`, nil)
	require.LessOrEqual(t, len(b1.Channel()), 63)
	require.NotEqual(t, b1.Channel(), b2.Channel())
	in := subscribe(t, b1)
	require.NoError(t, b1.Publish(t.Context(), marker("long")))
	require.Equal(t, []attendance.Notification{marker("long")}, in.waitUntil(t, "the marker", isMarker("long")))

	_, err := postgres.OpenBus(t.Context(), dsn, &postgres.BusConfig{Schema: "a\x00b"})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	_, err = postgres.OpenBus(t.Context(), dsn, &postgres.BusConfig{MinReconnectDelay: time.Second, MaxReconnectDelay: time.Millisecond})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	_, err = postgres.OpenBus(t.Context(), "", nil)
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
}

func TestBusPayloadLimit(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	b := openBus(t, schema, nil)
	in := subscribe(t, b)

	// A notification exactly at the limit goes whole: the server takes it.
	base := attendance.Notification{Kind: attendance.NotifyAgent, AgentIDs: []string{""}, Origin: "engine-1"}
	p, trimmed, err := postgres.EncodeNotification(base)
	require.NoError(t, err)
	require.False(t, trimmed)
	atLimit := base
	atLimit.AgentIDs = []string{strings.Repeat("a", postgres.MaxPayloadBytes-len(p))}
	p, trimmed, err = postgres.EncodeNotification(atLimit)
	require.NoError(t, err)
	require.False(t, trimmed)
	require.Len(t, p, postgres.MaxPayloadBytes)
	require.NoError(t, b.Publish(t.Context(), atLimit))

	// Too many agents: the ones that fit are kept, and a resync follows.
	many := attendance.Notification{Kind: attendance.NotifyConversation, ConversationID: "conv-many", State: attendance.StateActive, Seq: 7, Origin: "engine-1"}
	for i := range 400 {
		many.AgentIDs = append(many.AgentIDs, fmt.Sprintf("agent-ç-%04d", i)) // escaped: 6 bytes for ç
	}
	p, trimmed, err = postgres.EncodeNotification(many)
	require.NoError(t, err)
	require.True(t, trimmed)
	require.LessOrEqual(t, len(p), postgres.MaxPayloadBytes)
	require.NoError(t, b.Publish(t.Context(), many))

	// A conversation ID too long for any payload: only a resync is left.
	huge := attendance.Notification{Kind: attendance.NotifyConversation, ConversationID: strings.Repeat("c", 9000)}
	require.NoError(t, b.Publish(t.Context(), huge))
	require.NoError(t, b.Publish(t.Context(), marker("limit")))

	got := in.waitUntil(t, "the marker", isMarker("limit"))
	require.Len(t, got, 5, "at the limit, trimmed, its resync, the huge one's resync, the marker")
	require.Equal(t, atLimit, got[0])
	kept := got[1]
	require.Less(t, len(kept.AgentIDs), len(many.AgentIDs))
	require.NotEmpty(t, kept.AgentIDs)
	require.Equal(t, many.AgentIDs[:len(kept.AgentIDs)], kept.AgentIDs)
	kept.AgentIDs = many.AgentIDs
	require.Equal(t, many, kept, "only agent IDs were dropped")
	require.Equal(t, attendance.Notification{Kind: attendance.NotifyResync, Origin: "engine-1"}, got[2])
	require.Equal(t, attendance.Notification{Kind: attendance.NotifyResync}, got[3])
	require.Equal(t, marker("limit"), got[4])
}

func TestBusUnsubscribe(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	b := openBus(t, schema, nil)
	gone, stays := &inbox{}, subscribe(t, b)
	unsub, err := b.Subscribe(gone.handle)
	require.NoError(t, err)
	require.NoError(t, b.Publish(t.Context(), marker("1")))
	gone.waitUntil(t, "the first marker", isMarker("1"))

	unsub()
	unsub() // twice is harmless
	require.NoError(t, b.Publish(t.Context(), marker("2")))
	stays.waitUntil(t, "the second marker", isMarker("2"))
	require.Equal(t, []attendance.Notification{marker("1")}, gone.all())

	// A handler may subscribe and unsubscribe: the bus holds no lock
	// while it runs.
	var inner *inbox
	var once sync.Once
	unsubOuter, err := b.Subscribe(func(n attendance.Notification) {
		once.Do(func() {
			inner = &inbox{}
			u, err := b.Subscribe(inner.handle)
			if err == nil {
				u()
			}
		})
	})
	require.NoError(t, err)
	defer unsubOuter()
	require.NoError(t, b.Publish(t.Context(), marker("3")))
	stays.waitUntil(t, "the third marker", isMarker("3"))

	_, err = b.Subscribe(nil)
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
}

func TestBusClose(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	b, err := postgres.OpenBus(t.Context(), dsn, &postgres.BusConfig{Schema: schema})
	require.NoError(t, err)
	in := subscribe(t, b)
	require.NoError(t, b.Publish(t.Context(), marker("open")))
	in.waitUntil(t, "the marker", isMarker("open"))
	pid := postgres.ListenerPID(b)

	require.NoError(t, b.Close())
	select {
	case <-postgres.ListenerDone(b):
	default:
		t.Fatal("Close returned before the listener goroutine did")
	}
	require.NoError(t, b.Close(), "Close is idempotent")
	require.ErrorIs(t, b.Publish(t.Context(), marker("closed")), attendance.ErrClosed)
	_, err = b.Subscribe(in.handle)
	require.ErrorIs(t, err, attendance.ErrClosed)

	// The listener's connection is gone from the server too.
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	require.Eventually(t, func() bool {
		var n int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, int64(pid)).Scan(&n)
		return err == nil && n == 0
	}, deliveryBound, 5*time.Millisecond)
}

func TestBusReconnectsAndAsksForResync(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	b := openBus(t, schema, &postgres.BusConfig{MinReconnectDelay: time.Millisecond, MaxReconnectDelay: 20 * time.Millisecond})
	other := openBus(t, schema, nil)
	in := subscribe(t, b)
	pid := postgres.ListenerPID(b)

	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var killed bool
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, int64(pid)).Scan(&killed))
	require.True(t, killed)

	// Notifications sent while it was away are lost; it says so.
	got := in.waitUntil(t, "the resync", isResync)
	require.Equal(t, []attendance.Notification{{Kind: attendance.NotifyResync}}, got)
	require.NotEqual(t, pid, postgres.ListenerPID(b))

	// And it hears again, from the other bus and from itself.
	require.NoError(t, other.Publish(t.Context(), marker("other")))
	require.NoError(t, b.Publish(t.Context(), marker("self")))
	in.waitUntil(t, "the other's marker", isMarker("other"))
	in.waitUntil(t, "its own marker", isMarker("self"))
}

func TestBusPingKeepsTheListener(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	b := openBus(t, schema, &postgres.BusConfig{PingInterval: time.Millisecond})
	in := subscribe(t, b)
	pid := postgres.ListenerPID(b)
	require.Eventually(t, func() bool { return postgres.ListenerPings(b) >= 5 }, deliveryBound, time.Millisecond)
	require.NoError(t, b.Publish(t.Context(), marker("ping")))
	require.Equal(t, []attendance.Notification{marker("ping")}, in.waitUntil(t, "the marker", isMarker("ping")),
		"a wait cut short for a ping loses nothing and needs no reconnection")
	require.Equal(t, pid, postgres.ListenerPID(b))
}

// TestEnginesOnBuses runs two engines, each with its own Store and its own
// Bus on one schema, and no sweep: what one does, the other hears through
// the bus alone.
func TestEnginesOnBuses(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	ctx := t.Context()
	newEngine := func() *attendance.Engine {
		store := openTest(t, &postgres.Config{Schema: schema, MaxConns: 4})
		e, err := attendance.New(store, &attendance.Config{
			Queues:          []attendance.Queue{{ID: "geral", Name: "Geral"}},
			Subjects:        []attendance.Subject{{ID: "duvida", Name: "Dúvida", QueueID: "geral"}},
			FinalizeReasons: []attendance.FinalizeReason{{ID: "resolvido", Label: "Resolvido"}},
			SweepInterval:   time.Hour, // no sweep: only the bus tells
			ResyncInterval:  time.Hour,
			Bus:             openBus(t, schema, nil),
		})
		require.NoError(t, err)
		require.NoError(t, e.Start(ctx))
		t.Cleanup(func() { require.NoError(t, e.Stop(context.Background())) })
		return e
	}
	a, b := newEngine(), newEngine()

	subA, err := a.Subscribe(ctx, attendance.AgentPrincipal("ana"), attendance.SubscribeParams{})
	require.NoError(t, err)
	subB, err := b.Subscribe(ctx, attendance.SystemPrincipal, attendance.SubscribeParams{})
	require.NoError(t, err)

	// Ana comes online through A; B, whose index is already loaded, hears
	// of it.
	_, err = a.UpsertAgent(ctx, attendance.AgentParams{ID: "ana", Name: "Ana", Profile: attendance.Profile{Min: 1, Max: 1, Queues: []string{"geral"}}})
	require.NoError(t, err)
	_, err = a.SetPresence(ctx, attendance.AgentPrincipal("ana"), attendance.PresenceOnline)
	require.NoError(t, err)
	next(t, subB, func(n attendance.Notification) bool {
		return n.Kind == attendance.NotifyAgent && slices.Contains(n.AgentIDs, "ana")
	})

	// A conversation opened through B is offered to her at once.
	c, err := b.Open(ctx, attendance.BeneficiaryPrincipal("maria"), attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	got, err := b.Store().GetConversation(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, attendance.StateOffered, got.State)
	require.Equal(t, "ana", got.AgentID)

	// Ana's subscription, on A, hears of the offer B made.
	next(t, subA, func(n attendance.Notification) bool {
		return n.Kind == attendance.NotifyConversation && n.ConversationID == c.ID && n.State == attendance.StateOffered
	})
}

// next reads s until a notification satisfies ok, within deliveryBound.
func next(t *testing.T, s *attendance.Subscription, ok func(attendance.Notification) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), deliveryBound)
	defer cancel()
	for {
		ns, err := s.Next(ctx)
		require.NoError(t, err)
		if slices.ContainsFunc(ns, ok) {
			return
		}
	}
}
