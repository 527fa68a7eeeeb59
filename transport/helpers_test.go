package transport_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
	"github.com/mosiachat/mosiachat/transport"
	"github.com/mosiachat/mosiachat/transport/client"
)

// env is one engine, one transport server and one loopback HTTP server.
type env struct {
	t     *testing.T
	bus   attendance.Bus
	eng   *attendance.Engine
	srv   *transport.Server
	http  *httptest.Server
	blobs string
}

// tokenAuth reads "Authorization: Bearer role:id"; anything else is refused.
func tokenAuth(_ context.Context, ev transport.AuthenticateEvent) (transport.AuthenticateReply, error) {
	tok, ok := strings.CutPrefix(ev.Request.Header.Get("Authorization"), "Bearer ")
	role, id, ok2 := strings.Cut(tok, ":")
	if !ok || !ok2 || id == "" || role == "bad" {
		return transport.AuthenticateReply{}, errors.New("bad token")
	}
	return transport.AuthenticateReply{Principal: attendance.Principal{Role: attendance.Role(role), ID: id}}, nil
}

type envOptions struct {
	cfg      func(*transport.Config)
	agents   map[string]attendance.Profile
	listener func(*httptest.Server)
	// sameCluster makes this env another node of that one: its own engine
	// and server on the same store and bus.
	sameCluster *env
	// store and bus replace the memory store and the in-process bus.
	store attendance.Store
	bus   attendance.Bus
}

// engineConfig is the engines' configuration in these tests.
func engineConfig(bus attendance.Bus) *attendance.Config {
	return &attendance.Config{
		Bus:             bus,
		Queues:          []attendance.Queue{{ID: "q1", Name: "General"}, {ID: "q2", Name: "Health"}},
		Subjects:        []attendance.Subject{{ID: "billing", Name: "Billing", QueueID: "q1"}, {ID: "exams", Name: "Exams", QueueID: "q2", Priority: 1}},
		FinalizeReasons: []attendance.FinalizeReason{{ID: "solved", Label: "Solved"}},
	}
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	var bus attendance.Bus = attendance.NewLocalBus()
	var store attendance.Store = memory.New()
	if o.store != nil {
		bus, store = o.bus, o.store
	}
	if o.sameCluster != nil {
		bus, store = o.sameCluster.bus, o.sameCluster.eng.Store()
	}
	eng, err := attendance.New(store, engineConfig(bus))
	require.NoError(t, err)
	require.NoError(t, eng.Start(ctx))
	for id, prof := range o.agents {
		_, err := eng.UpsertAgent(ctx, attendance.AgentParams{ID: id, Name: id, Profile: prof})
		require.NoError(t, err)
	}
	dir := t.TempDir()
	blobs, err := transport.NewFSBlobStore(dir)
	require.NoError(t, err)
	cfg := &transport.Config{Authenticate: tokenAuth, Blobs: blobs, MaxAttachmentBytes: 1 << 20}
	if o.cfg != nil {
		o.cfg(cfg)
	}
	srv, err := transport.NewServer(eng, cfg)
	require.NoError(t, err)
	require.NoError(t, srv.Start(ctx))
	mux := http.NewServeMux()
	mux.Handle("/ws", srv.Handler())
	mux.Handle("/attachments/", http.StripPrefix("/attachments", srv.AttachmentHandler()))
	hs := httptest.NewUnstartedServer(mux)
	if o.listener != nil {
		o.listener(hs)
	}
	hs.Start()
	e := &env{t: t, bus: bus, eng: eng, srv: srv, http: hs, blobs: dir}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
		hs.Close()
		_ = eng.Stop(ctx)
	})
	return e
}

func (e *env) wsURL() string { return "ws" + strings.TrimPrefix(e.http.URL, "http") + "/ws" }

func header(role, id string) http.Header {
	return http.Header{"Authorization": []string{"Bearer " + role + ":" + id}}
}

// dial connects a Go client as role:id.
func (e *env) dial(role, id string, mod ...func(*client.Config)) *client.Client {
	e.t.Helper()
	cfg := &client.Config{
		Header:     func(context.Context) (http.Header, error) { return header(role, id), nil },
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond,
	}
	for _, m := range mod {
		m(cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, e.wsURL(), cfg)
	require.NoError(e.t, err)
	e.t.Cleanup(func() { c.Close() })
	return c
}

// raw is a bare WebSocket speaking frames by hand.
type raw struct {
	t  *testing.T
	ws *websocket.Conn
}

func (e *env) raw(role, id string) *raw {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, e.wsURL(), &websocket.DialOptions{HTTPHeader: header(role, id)})
	require.NoError(e.t, err)
	ws.SetReadLimit(1 << 20)
	e.t.Cleanup(func() { ws.CloseNow() })
	return &raw{t: e.t, ws: ws}
}

func (r *raw) send(s string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(r.t, r.ws.Write(ctx, websocket.MessageText, []byte(s)))
}

// next reads the next frame, skipping heartbeats.
func (r *raw) next() transport.ServerFrame {
	r.t.Helper()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, data, err := r.ws.Read(ctx)
		cancel()
		require.NoError(r.t, err)
		var f transport.ServerFrame
		require.NoError(r.t, json.Unmarshal(data, &f))
		if f.Type != transport.EventHeartbeat {
			return f
		}
	}
}

// reply reads frames until the reply to id.
func (r *raw) reply(id string) transport.ServerFrame {
	r.t.Helper()
	for {
		f := r.next()
		if (f.Type == transport.FrameResult || f.Type == transport.FrameError) && f.ID == id {
			return f
		}
	}
}

func (r *raw) hello() {
	r.t.Helper()
	r.send(`{"type":"hello","id":"h","data":{"protocol":1}}`)
	f := r.reply("h")
	require.Equal(r.t, transport.FrameResult, f.Type, "hello: %+v", f.Error)
	for r.next().Type != transport.EventSynced {
	}
}

func requireCode(t *testing.T, f transport.ServerFrame, code transport.Code) {
	t.Helper()
	require.Equal(t, transport.FrameError, f.Type, "want error %s, got %s %s", code, f.Type, f.Data)
	require.NotNil(t, f.Error)
	require.Equal(t, code, f.Error.Code, f.Error.Message)
}

func requireClientCode(t *testing.T, err error, code transport.Code) {
	t.Helper()
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, code, ce.Code, ce.Message)
}

// recorder drains a client's events and keeps them for assertions.
type recorder struct {
	mu     sync.Mutex
	events []client.Event
	msgs   map[string][]attendance.Message
	cond   *sync.Cond
	block  chan struct{}
}

func record(c *client.Client) *recorder {
	r := &recorder{msgs: map[string][]attendance.Message{}}
	r.cond = sync.NewCond(&r.mu)
	go func() {
		for ev := range c.Events() {
			r.mu.Lock()
			blk := r.block
			r.mu.Unlock()
			if blk != nil {
				<-blk
			}
			r.mu.Lock()
			r.events = append(r.events, ev)
			if ev.Type == transport.EventMessage {
				m, _ := ev.Message()
				r.msgs[ev.ConversationID] = append(r.msgs[ev.ConversationID], m)
			}
			r.cond.Broadcast()
			r.mu.Unlock()
		}
	}()
	return r
}

// wait blocks until pred holds over the events seen, or fails after 10s.
func (r *recorder) wait(t *testing.T, what string, pred func(r *recorder) bool) {
	t.Helper()
	r.waitFor(t, what, 10*time.Second, pred)
}

// waitFor is wait with its own time limit, for waits whose work grows with
// the machine's load (a resume through many forced reconnections).
func (r *recorder) waitFor(t *testing.T, what string, limit time.Duration, pred func(r *recorder) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	timer := time.AfterFunc(limit, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer timer.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !pred(r) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; %d events", what, len(r.events))
		}
		r.cond.Wait()
	}
}

// find returns the last event of a type for a conversation ("" for any).
func (r *recorder) find(typ, conv string) (client.Event, bool) {
	for i := len(r.events) - 1; i >= 0; i-- {
		ev := r.events[i]
		if ev.Type == typ && (conv == "" || ev.ConversationID == conv) {
			return ev, true
		}
	}
	return client.Event{}, false
}

func (r *recorder) has(typ, conv string) bool { _, ok := r.find(typ, conv); return ok }

// texts returns the bodies of the text messages of a conversation.
func (r *recorder) texts(conv string) []string {
	var out []string
	for _, m := range r.msgs[conv] {
		if m.Kind == attendance.KindText {
			out = append(out, m.Body)
		}
	}
	return out
}

// requireContiguous checks that a conversation's messages run 1..n with no
// gap and no duplicate.
func requireContiguous(t *testing.T, ms []attendance.Message) {
	t.Helper()
	for i, m := range ms {
		require.Equal(t, int64(i+1), m.Seq, "message %d of %d", i, len(ms))
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var profile = attendance.Profile{Min: 0, Max: 3, Queues: []string{"q1", "q2"}}

// onlineAgentAndBeneficiary connects agent ana (online) and beneficiary
// b1, each with a recorder of their events.
func onlineAgentAndBeneficiary(t *testing.T, e *env) (ana, ben *client.Client, anaEv, benEv *recorder) {
	t.Helper()
	ana, ben = e.dial("agent", "ana"), e.dial("beneficiary", "b1")
	anaEv, benEv = record(ana), record(ben)
	_, err := ana.SetPresence(ctxT(t), attendance.PresenceOnline)
	require.NoError(t, err)
	return ana, ben, anaEv, benEv
}
