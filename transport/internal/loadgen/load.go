package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"
)

type frame struct {
	Type           string          `json:"type"`
	ID             string          `json:"id"`
	ConversationID string          `json:"conversation_id"`
	Seq            int64           `json:"seq"`
	Data           json.RawMessage `json:"data"`
}

func dial(ctx context.Context, addr, query, user string) (*websocket.Conn, error) {
	h := http.Header{}
	if user != "" {
		h.Set("X-Load-User", user)
	}
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws"+query, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	return c, nil
}

func write(ctx context.Context, c *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Write(ctx, websocket.MessageText, b)
}

// sendFrame appends a send command; id, conv and body must need no JSON
// escaping.
func sendFrame(b []byte, id, conv, body string) []byte {
	b = append(b, `{"type":"send","id":"`...)
	b = append(b, id...)
	b = append(b, `","data":{"conversation_id":"`...)
	b = append(b, conv...)
	b = append(b, `","body":"`...)
	b = append(b, body...)
	return append(b, `"}}`...)
}

func read(ctx context.Context, c *websocket.Conn) (frame, error) {
	_, data, err := c.Read(ctx)
	if err != nil {
		return frame{}, err
	}
	var f frame
	err = json.Unmarshal(data, &f)
	return f, err
}

// until reads frames until pred holds.
func until(ctx context.Context, c *websocket.Conn, pred func(frame) bool) (frame, error) {
	for {
		f, err := read(ctx, c)
		if err != nil {
			return f, err
		}
		if f.Type == "error" {
			return f, fmt.Errorf("server error: %s", f.Data)
		}
		if pred(f) {
			return f, nil
		}
	}
}

func hello(ctx context.Context, c *websocket.Conn, resume map[string]int64) error {
	if err := write(ctx, c, map[string]any{"type": "hello", "id": "h", "data": map[string]any{"protocol": 1, "resume": resume}}); err != nil {
		return err
	}
	_, err := until(ctx, c, func(f frame) bool { return f.Type == "synced" })
	return err
}

// pair is one agent and one beneficiary sharing a conversation.
type pair struct {
	agent, ben *websocket.Conn
	conv       string
	benID      int
	lastSeq    atomic.Int64
}

// each runs f(0) ... f(n-1), at most 64 at a time, and returns the first
// error once all have ended.
func each(n int, f func(i int) error) error {
	var g errgroup.Group
	g.SetLimit(64)
	for i := range n {
		g.Go(func() error { return f(i) })
	}
	return g.Wait()
}

// setupMosia connects n agents and n beneficiaries and gets every
// conversation accepted.
func setupMosia(ctx context.Context, addr string, n int) ([]*pair, error) {
	pairs := make([]*pair, n)
	err := each(n, func(i int) error {
		p := &pair{}
		var err error
		if p.agent, err = dial(ctx, addr, "", "agent:a"+strconv.Itoa(i)); err != nil {
			return err
		}
		if err = hello(ctx, p.agent, nil); err == nil {
			err = write(ctx, p.agent, map[string]any{"type": "presence", "id": "p", "data": map[string]any{"presence": "online"}})
		}
		if err == nil {
			_, err = until(ctx, p.agent, func(f frame) bool { return f.ID == "p" })
		}
		pairs[i] = p
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	err = each(n, func(i int) error {
		c, err := dial(ctx, addr, "", "beneficiary:b"+strconv.Itoa(i))
		if err == nil {
			err = hello(ctx, c, nil)
		}
		if err == nil {
			err = write(ctx, c, map[string]any{"type": "open", "id": "o", "data": map[string]any{"subject_id": "s"}})
		}
		if err == nil {
			_, err = until(ctx, c, func(f frame) bool { return f.ID == "o" })
		}
		// Park the connection in a free slot; agents find theirs by offer.
		pairs[i].ben = c
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("beneficiaries: %w", err)
	}
	// Each agent accepts the one offer it gets.
	byConv := make(map[string]*pair)
	var mu sync.Mutex
	err = each(n, func(i int) error {
		p := pairs[i]
		f, err := until(ctx, p.agent, func(f frame) bool { return f.Type == "offer" })
		if err == nil {
			err = write(ctx, p.agent, map[string]any{"type": "accept", "id": "a", "data": map[string]any{"conversation_id": f.ConversationID}})
		}
		if err == nil {
			_, err = until(ctx, p.agent, func(f frame) bool { return f.ID == "a" })
		}
		if err != nil {
			return err
		}
		mu.Lock()
		byConv[f.ConversationID] = p
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("accepts: %w", err)
	}
	// Re-pair: beneficiary connections by the conversation they opened.
	bens := make([]*websocket.Conn, n)
	for i := range n {
		bens[i] = pairs[i].ben
	}
	out := make([]*pair, 0, n)
	for conv, p := range byConv {
		p.conv = conv
		out = append(out, p)
	}
	// Find each conversation's beneficiary by reading their streams until the accept.
	convOfBen := make([]string, n)
	err = each(n, func(i int) error {
		f, err := until(ctx, bens[i], func(f frame) bool {
			return f.Type == "conversation" && bytes.Contains(f.Data, []byte(`"state":"active"`))
		})
		if err != nil {
			return err
		}
		convOfBen[i] = f.ConversationID
		byConv[f.ConversationID].lastSeq.Store(f.Seq) // byConv is only read now
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("active conversations: %w", err)
	}
	for i := range n {
		byConv[convOfBen[i]].ben = bens[i]
		byConv[convOfBen[i]].benID = i
	}
	return out, nil
}

func setupBare(ctx context.Context, addr string, n int) ([]*pair, error) {
	pairs := make([]*pair, n)
	for i := range n {
		a, err := dial(ctx, addr, fmt.Sprintf("?pair=%d&side=a", i), "")
		if err != nil {
			return nil, err
		}
		b, err := dial(ctx, addr, fmt.Sprintf("?pair=%d&side=b", i), "")
		if err != nil {
			return nil, err
		}
		pairs[i] = &pair{agent: a, ben: b}
	}
	time.Sleep(200 * time.Millisecond)
	return pairs, nil
}

// relay runs an open-loop relay: each agent sends on a fixed schedule; the
// latency of a message is measured from its intended send time.
func relay(args []string) error {
	fs := flag.NewFlagSet("relay", flag.ExitOnError)
	impl := fs.String("impl", "mosia", "mosia, bare or acked (the bare relay acknowledging each frame)")
	addr := fs.String("addr", "127.0.0.1:7001", "server address")
	n := fs.Int("pairs", 1000, "conversations (agent+beneficiary pairs)")
	rates := fs.String("rate", "2000", "messages per second, comma-separated for a sweep")
	dur := fs.Duration("duration", 10*time.Second, "measurement time per rate")
	size := fs.Int("size", 256, "message body bytes")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's own CPU profile of the measured phases to this file")
	fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var pairs []*pair
	var err error
	t0 := time.Now()
	raw := *impl != "mosia" // bare and acked carry the body as the whole frame
	if raw {
		pairs, err = setupBare(ctx, *addr, *n)
	} else {
		pairs, err = setupMosia(ctx, *addr, *n)
	}
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(os.Stderr, "%s: %d pairs ready in %v\n", *impl, len(pairs), time.Since(t0).Round(time.Millisecond))

	// Receivers run for the whole run; each rate is a phase.
	var phase atomic.Int64 // phase start (unix ns); messages before it are ignored
	var recMu sync.Mutex
	var lats []int64
	var received atomic.Int64
	for _, p := range pairs {
		go drain(p.agent)
		go func() {
			local := make([]int64, 0, 1024)
			flush := time.NewTicker(200 * time.Millisecond)
			defer flush.Stop()
			var buf bytes.Buffer
			for {
				data, err := readInto(&buf, p.ben)
				if err != nil {
					return
				}
				ts, ok := stamp(data, raw)
				if !ok {
					continue
				}
				now := time.Now().UnixNano()
				if ts >= phase.Load() {
					received.Add(1)
					local = append(local, now-ts)
				}
				select {
				case <-flush.C:
					recMu.Lock()
					lats = append(lats, local...)
					recMu.Unlock()
					local = local[:0]
				default:
				}
				if len(local) > 512 {
					recMu.Lock()
					lats = append(lats, local...)
					recMu.Unlock()
					local = local[:0]
				}
			}
		}()
	}
	pad := strings.Repeat("x", *size)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, rs := range strings.Split(*rates, ",") {
		rate, err := strconv.ParseFloat(rs, 64)
		if err != nil {
			return err
		}
		start := time.Now().Add(200 * time.Millisecond)
		recMu.Lock()
		lats = lats[:0]
		recMu.Unlock()
		received.Store(0)
		phase.Store(start.UnixNano())
		srv0, own0 := serverStats(*addr), selfCPUUS()
		end := start.Add(*dur)
		var sent, late atomic.Int64
		var wg sync.WaitGroup
		for i, p := range pairs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; ; j++ {
					at := start.Add(time.Duration(float64(i+j*len(pairs)) / rate * float64(time.Second)))
					if at.After(end) {
						return
					}
					time.Sleep(time.Until(at))
					body := strconv.FormatInt(at.UnixNano(), 10) + "|" + pad
					body = body[:*size]
					frame := []byte(body)
					if !raw {
						// Built by hand, not with encoding/json: the
						// client's cost would count in the latency, and
						// the bare relay's client pays none. The body
						// (digits, '|', 'x') and the IDs need no escaping.
						frame = sendFrame(frame[:0:0], rs+"-"+strconv.Itoa(j), p.conv, body)
					}
					err := p.agent.Write(context.Background(), websocket.MessageText, frame)
					if err != nil {
						return
					}
					if time.Since(at) > 10*time.Millisecond {
						late.Add(1)
					}
					sent.Add(1)
				}
			}()
		}
		wg.Wait()
		// Let the tail arrive (bounded).
		deadline := time.Now().Add(5 * time.Second)
		for received.Load() < sent.Load() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		srv1, own1 := serverStats(*addr), selfCPUUS()
		recMu.Lock()
		l := slices.Clone(lats)
		recMu.Unlock()
		slices.Sort(l)
		q := func(p float64) time.Duration {
			if len(l) == 0 {
				return 0
			}
			return time.Duration(l[min(len(l)-1, int(p*float64(len(l))))])
		}
		var cpuPerMsg, allocPerMsg, loadPerMsg float64
		if n := float64(received.Load()); n > 0 {
			if srv0.ok && srv1.ok {
				cpuPerMsg = float64(srv1.cpuUS-srv0.cpuUS) / n
				allocPerMsg = float64(srv1.alloc-srv0.alloc) / n
			}
			loadPerMsg = float64(own1-own0) / n
		}
		fmt.Printf("impl=%s pairs=%d rate=%.0f sent=%d received=%d achieved=%.0f/s p50=%v p90=%v p99=%v max=%v late_sends=%d server_cpu_per_msg=%.1fus server_alloc_per_msg=%.0fB server_gcs=%d load_cpu_per_msg=%.1fus\n",
			*impl, len(pairs), rate, sent.Load(), received.Load(), float64(received.Load())/dur.Seconds(),
			q(0.50).Round(10*time.Microsecond), q(0.90).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), q(1).Round(10*time.Microsecond), late.Load(), cpuPerMsg, allocPerMsg, srv1.gcs-srv0.gcs, loadPerMsg)
	}
	for _, p := range pairs {
		p.agent.CloseNow()
		p.ben.CloseNow()
	}
	return nil
}

// selfCPUUS is the process's CPU time (user + system) in microseconds: the
// server reports its own on /cpu, and the load generator its own, since
// when it nears a whole core per second the figures measure the client as
// much as the server.
func selfCPUUS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Sec*1e6 + int64(ru.Utime.Usec) + ru.Stime.Sec*1e6 + int64(ru.Stime.Usec)
}

// stats is what the server's /cpu reports.
type stats struct {
	ok                bool
	cpuUS, alloc, gcs int64
}

// serverStats reads the server's CPU time in microseconds, bytes allocated
// and garbage collections so far (ok is false if unavailable).
func serverStats(addr string) stats {
	resp, err := http.Get("http://" + addr + "/cpu")
	if err != nil {
		return stats{}
	}
	defer resp.Body.Close()
	var st stats
	if _, err := fmt.Fscan(resp.Body, &st.cpuUS, &st.alloc, &st.gcs); err != nil {
		return stats{}
	}
	st.ok = true
	return st
}

// The measured phases read and write with a context that cannot end, as
// both servers do: a cancelable one costs coder/websocket a
// context.AfterFunc per call, and the mosia client makes two reads per
// message to the bare client's one. The connections are closed at the end
// of the run, which ends every read.

// drain reads and discards frames until c is closed.
func drain(c *websocket.Conn) {
	for {
		_, r, err := c.Reader(context.Background())
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
	}
}

// readInto reads c's next frame into buf (reset first) and returns it.
func readInto(buf *bytes.Buffer, c *websocket.Conn) ([]byte, error) {
	_, r, err := c.Reader(context.Background())
	if err != nil {
		return nil, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(r)
	return buf.Bytes(), err
}

// stamp extracts the send time at the start of a body.
func stamp(data []byte, bare bool) (int64, bool) {
	if !bare {
		if !bytes.HasPrefix(data, []byte(`{"type":"message"`)) {
			return 0, false
		}
		i := bytes.Index(data, []byte(`"body":"`))
		if i < 0 {
			return 0, false
		}
		data = data[i+8:]
	}
	j := bytes.IndexByte(data, '|')
	if j <= 0 {
		return 0, false
	}
	ts, err := strconv.ParseInt(string(data[:j]), 10, 64)
	return ts, err == nil
}

// idle connects n clients that do nothing and reports the server's memory
// per connection.
func idle(args []string) error {
	fs := flag.NewFlagSet("idle", flag.ExitOnError)
	impl := fs.String("impl", "mosia", "mosia or bare")
	addr := fs.String("addr", "127.0.0.1:7001", "server address")
	n := fs.Int("n", 10000, "connections")
	fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	before, err := mem(*addr)
	if err != nil {
		return err
	}
	conns := make([]*websocket.Conn, *n)
	var failed atomic.Int64
	_ = each(*n, func(i int) error {
		var c *websocket.Conn
		var err error
		if *impl == "bare" {
			c, err = dial(ctx, *addr, fmt.Sprintf("?pair=idle%d&side=a", i), "")
		} else {
			c, err = dial(ctx, *addr, "", "beneficiary:idle"+strconv.Itoa(i))
			if err == nil {
				err = hello(ctx, c, nil)
			}
		}
		if err != nil {
			failed.Add(1) // counted and reported, not fatal
			return nil
		}
		conns[i] = c
		go drain(c)
		return nil
	})
	time.Sleep(time.Second)
	after, err := mem(*addr)
	if err != nil {
		return err
	}
	ok := int64(*n) - failed.Load()
	per := func(a, b uint64) float64 { return float64(int64(a)-int64(b)) / float64(ok) }
	fmt.Printf("impl=%s conns=%d failed=%d heap_per_conn=%.0fB rss_per_conn=%.0fB stack_per_conn=%.0fB free_heap_per_conn=%.0fB goroutines_per_conn=%.2f (heap %d->%d, rss %d->%d)\n",
		*impl, ok, failed.Load(),
		per(after.HeapInuse, before.HeapInuse), per(after.RSS, before.RSS),
		per(after.StackInuse, before.StackInuse), per(after.HeapFree, before.HeapFree),
		float64(after.Goroutines-before.Goroutines)/float64(ok),
		before.HeapInuse, after.HeapInuse, before.RSS, after.RSS)
	for _, c := range conns {
		if c != nil {
			c.CloseNow()
		}
	}
	return nil
}

func mem(addr string) (MemStats, error) {
	resp, err := http.Get("http://" + addr + "/mem")
	if err != nil {
		return MemStats{}, err
	}
	defer resp.Body.Close()
	var m MemStats
	err = json.NewDecoder(resp.Body).Decode(&m)
	return m, err
}

// storm drops every beneficiary at once, has the agents send a backlog
// meanwhile, and reconnects them all together with their resume cursors.
func storm(args []string) error {
	fs := flag.NewFlagSet("storm", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:7001", "server address")
	n := fs.Int("pairs", 1000, "conversations")
	backlog := fs.Int("backlog", 5, "messages each agent sends while its beneficiary is away")
	fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pairs, err := setupMosia(ctx, *addr, *n)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		p.ben.CloseNow()
	}
	// The backlog, each send confirmed (stored) before the storm.
	_ = each(len(pairs), func(i int) error {
		p := pairs[i]
		for j := range *backlog {
			id := "k" + strconv.Itoa(j)
			write(ctx, p.agent, map[string]any{"type": "send", "id": id, "data": map[string]any{"conversation_id": p.conv, "body": "backlog " + id}})
			until(ctx, p.agent, func(f frame) bool { return f.ID == id })
		}
		return nil
	})
	var wg sync.WaitGroup
	go func() {
		for _, p := range pairs {
			go drain(p.agent)
		}
	}()
	var lost, dup, bad atomic.Int64
	start := time.Now()
	for _, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial(ctx, *addr, "", "beneficiary:b"+strconv.Itoa(p.benID))
			if err != nil {
				bad.Add(1)
				return
			}
			p.ben = c
			from := p.lastSeq.Load()
			if err := write(ctx, c, map[string]any{"type": "hello", "id": "h", "data": map[string]any{"protocol": 1, "resume": map[string]int64{p.conv: from}}}); err != nil {
				bad.Add(1)
				return
			}
			next := from + 1
			got := 0
			_, err = until(ctx, c, func(f frame) bool {
				if f.Type == "message" && f.ConversationID == p.conv {
					switch {
					case f.Seq < next:
						dup.Add(1)
					case f.Seq > next:
						lost.Add(f.Seq - next)
						next = f.Seq + 1
						got++
					default:
						next++
						got++
					}
				}
				return f.Type == "synced"
			})
			if err != nil {
				bad.Add(1)
			}
			if got < *backlog {
				lost.Add(int64(*backlog - got))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Printf("storm pairs=%d backlog=%d resumed_in=%v resumes_per_s=%.0f lost=%d duplicated=%d failed=%d\n",
		len(pairs), *backlog, el.Round(time.Millisecond), float64(len(pairs))/el.Seconds(), lost.Load(), dup.Load(), bad.Load())
	for _, p := range pairs {
		p.agent.CloseNow()
		if p.ben != nil {
			p.ben.CloseNow()
		}
	}
	if lost.Load() > 0 || dup.Load() > 0 || bad.Load() > 0 {
		return errors.New("storm lost, doubled or failed resumes")
	}
	return nil
}
