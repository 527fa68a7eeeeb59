package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
	"github.com/mosiachat/mosiachat/transport"
)

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	impl := fs.String("impl", "mosia", "mosia, bare or acked")
	addr := fs.String("addr", "127.0.0.1:7001", "listen address (loopback)")
	agents := fs.Int("pairs", 1000, "agents to register (mosia)")
	life := fs.Duration("life", 30*time.Minute, "exit after this long")
	fs.Parse(args)
	if !strings.HasPrefix(*addr, "127.0.0.1:") {
		return errors.New("loopback addresses only")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/mem", memHandler)
	mux.HandleFunc("/cpu", cpuHandler)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/pprof/allocs", pprof.Handler("allocs"))
	switch *impl {
	case "bare":
		mux.Handle("/ws", newBareRelay(false))
	case "acked":
		mux.Handle("/ws", newBareRelay(true))
	case "mosia":
		h, err := mosiaServer(*agents)
		if err != nil {
			return err
		}
		mux.Handle("/ws", h)
	default:
		return fmt.Errorf("unknown impl %q", *impl)
	}
	hs := &http.Server{Addr: *addr, Handler: mux}
	go func() { time.Sleep(*life); hs.Close() }()
	fmt.Fprintf(os.Stderr, "serving %s on %s (GOMAXPROCS=%d)\n", *impl, *addr, runtime.GOMAXPROCS(0))
	err := hs.ListenAndServe()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// MemStats is what /mem reports.
type MemStats struct {
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	// HeapFree is heap memory freed but not yet returned to the OS.
	HeapFree   uint64 `json:"heap_free"`
	RSS        uint64 `json:"rss"`
	Goroutines int    `json:"goroutines"`
}

func memHandler(w http.ResponseWriter, _ *http.Request) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	json.NewEncoder(w).Encode(MemStats{HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, HeapFree: ms.HeapIdle - ms.HeapReleased, RSS: rss(), Goroutines: runtime.NumGoroutine()})
}

// cpuHandler reports the process's CPU time (user + system) in
// microseconds, so the load generator can divide a phase's CPU by its
// messages: a figure that contention on the machine moves far less than
// latency.
// cpuHandler reports the process's CPU time in microseconds, the bytes
// allocated so far and the number of garbage collections, on one line.
func cpuHandler(w http.ResponseWriter, _ *http.Request) {
	us := selfCPUUS()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintln(w, us, ms.TotalAlloc, ms.NumGC)
}

func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func mosiaServer(agents int) (http.Handler, error) {
	ctx := context.Background()
	eng, err := attendance.New(memory.New(), &attendance.Config{
		Queues:          []attendance.Queue{{ID: "q", Name: "Load"}},
		Subjects:        []attendance.Subject{{ID: "s", Name: "Load", QueueID: "q"}},
		FinalizeReasons: []attendance.FinalizeReason{{ID: "done", Label: "Done"}},
		MaxMessageBytes: 4096,
	})
	if err != nil {
		return nil, err
	}
	if err := eng.Start(ctx); err != nil {
		return nil, err
	}
	for i := range agents {
		if _, err := eng.UpsertAgent(ctx, attendance.AgentParams{ID: "a" + strconv.Itoa(i), Profile: attendance.Profile{Max: 1, Queues: []string{"q"}, OfferTimeout: time.Hour}}); err != nil {
			return nil, err
		}
	}
	srv, err := transport.NewServer(eng, &transport.Config{
		Authenticate:               loadAuth,
		CommandsPerSecond:          100000,
		CommandBurst:               100000,
		MaxConnectionsPerPrincipal: 4,
		OutboundBuffer:             8192,
		HandshakeTimeout:           time.Minute,
		MaxResume:                  10,
	})
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	return srv.Handler(), nil
}

// loadAuth trusts an "X-Load-User: role:id" header: loopback benchmarks only.
func loadAuth(_ context.Context, ev transport.AuthenticateEvent) (transport.AuthenticateReply, error) {
	role, id, ok := strings.Cut(ev.Request.Header.Get("X-Load-User"), ":")
	if !ok {
		return transport.AuthenticateReply{}, errors.New("no user")
	}
	return transport.AuthenticateReply{Principal: attendance.Principal{Role: attendance.Role(role), ID: id}}, nil
}

// bareRelay pairs two connections by ?pair=N and forwards every frame from
// one to the other: the least a relay can do with coder/websocket. With ack
// set (impl "acked") it also writes a copy of each frame back to its
// sender first, as the protocol's send result does: the least a server
// owing every command a reply can do, which no work of the library's can
// go below.
type bareRelay struct {
	ack   bool
	mu    sync.Mutex
	pairs map[string][2]*websocket.Conn
}

func newBareRelay(ack bool) *bareRelay {
	return &bareRelay{ack: ack, pairs: map[string][2]*websocket.Conn{}}
}

func (b *bareRelay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pair, side := r.URL.Query().Get("pair"), r.URL.Query().Get("side")
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(64 << 10)
	idx, other := 0, 1
	if side == "b" {
		idx, other = 1, 0
	}
	b.mu.Lock()
	p := b.pairs[pair]
	p[idx] = c
	b.pairs[pair] = p
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		p := b.pairs[pair]
		if p[idx] == c {
			p[idx] = nil
		}
		b.pairs[pair] = p
		b.mu.Unlock()
	}()
	// Held to the mosia server's discipline: no context that can end (a
	// cancelable one costs coder/websocket a context.AfterFunc per read
	// and per write) and pooled read buffers, so the baseline pays for
	// nothing the server under test does not.
	for {
		typ, rd, err := c.Reader(context.Background())
		if err != nil {
			return
		}
		buf := bareBuffers.Get().(*bytes.Buffer)
		buf.Reset()
		if _, err := buf.ReadFrom(rd); err != nil {
			return
		}
		b.mu.Lock()
		peer := b.pairs[pair][other]
		b.mu.Unlock()
		if b.ack {
			_ = c.Write(context.Background(), typ, buf.Bytes())
		}
		if peer != nil {
			_ = peer.Write(context.Background(), typ, buf.Bytes())
		}
		bareBuffers.Put(buf)
	}
}

var bareBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
