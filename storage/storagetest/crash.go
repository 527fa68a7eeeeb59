package storagetest

// RunCrash starts the test binary again as a child that runs the backend's
// TestCrashHelper, which calls CrashChild: an engine that sets
// conversations up and then sends messages from several goroutines,
// printing each one whose Send returned. The parent kills the child with
// SIGKILL mid-load, reopens the database and finds every acknowledged
// message, every conversation in the state the child left it in, and
// re-routes the offers that expired while nobody was running.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// crashChildEnv is set in the child's environment.
const crashChildEnv = "MOSIA_CRASH_CHILD"

// CrashChildTest is the name of the test function RunCrash runs in the
// child process. A backend that calls RunCrash must have it, calling
// CrashChild:
//
//	func TestCrashHelper(t *testing.T) { storagetest.CrashChild(t, openChildStore) }
const CrashChildTest = "TestCrashHelper"

// CrashHarness is what RunCrash needs from a backend.
type CrashHarness struct {
	// Env is added to the child's environment: it tells the child where
	// the database is (a file name, a schema).
	Env []string
	// Reopen opens, in the parent, the database the child wrote, after
	// the child was killed. The Store is closed with t.Cleanup.
	Reopen func(t *testing.T) attendance.Store
}

// CrashChild is the body of the backend's TestCrashHelper. Run by RunCrash
// in the child process, it opens a Store with open (reading the database's
// place from Env) and writes to it until it is killed; it never returns.
// Run as an ordinary test, it skips.
func CrashChild(t *testing.T, open func(t *testing.T) attendance.Store) {
	if os.Getenv(crashChildEnv) == "" {
		t.Skip("child process of TestDurabilityAfterSIGKILL, not a test by itself")
	}
	crashWriter(t, open(t))
}

// childState is what the child printed about a conversation once set up.
type childState struct {
	state   attendance.State
	agent   string
	version int64
}

// crashWriter sets up five conversations: two active with "fast", two
// offered to "slow" with a one-second offer timeout (never accepted), one
// queued; then it sends messages until it is killed.
func crashWriter(t *testing.T, s attendance.Store) {
	ctx := t.Context()
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	fail := func(err error) {
		say("error %v", err)
		os.Exit(2)
	}
	e, err := attendance.New(s, EngineConfig(time.Now, nil))
	if err != nil {
		fail(err)
	}
	fast := attendance.AgentPrincipal("fast")
	slow := attendance.AgentPrincipal("slow")
	if _, err := e.UpsertAgent(ctx, attendance.AgentParams{ID: "fast", Profile: attendance.Profile{Min: 2, Max: 2, Queues: []string{"geral"}, AutoAcceptBelowMin: true}}); err != nil {
		fail(err)
	}
	if _, err := e.UpsertAgent(ctx, attendance.AgentParams{ID: "slow", Profile: attendance.Profile{Max: 2, Queues: []string{"geral"}, OfferTimeout: time.Second}}); err != nil {
		fail(err)
	}
	var convs []attendance.Conversation
	open := func(n int) {
		for range n {
			c, err := e.Open(ctx, attendance.BeneficiaryPrincipal(fmt.Sprintf("benef%d", len(convs))), attendance.OpenParams{SubjectID: "duvida"})
			if err != nil {
				fail(err)
			}
			convs = append(convs, c)
		}
	}
	if _, err := e.SetPresence(ctx, fast, attendance.PresenceOnline); err != nil {
		fail(err)
	}
	open(2)
	if _, err := e.SetPresence(ctx, slow, attendance.PresenceOnline); err != nil {
		fail(err)
	}
	open(3)
	for i, c := range convs {
		c, err := s.GetConversation(ctx, c.ID)
		if err != nil {
			fail(err)
		}
		convs[i] = c
		say("state %s %s %s %d %s", c.ID, c.State, orDash(c.AgentID), c.Version, c.BeneficiaryID)
	}
	say("ready")

	deadline := time.Now().Add(time.Minute) // in case the parent never kills us
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				c := convs[(g+i)%len(convs)]
				p := attendance.BeneficiaryPrincipal(c.BeneficiaryID)
				if g%2 == 1 && c.AgentID == "fast" && c.State == attendance.StateActive {
					p = fast
				}
				m, err := e.Send(ctx, p, attendance.SendParams{ConversationID: c.ID, Body: "mensagem", IdempotencyKey: fmt.Sprintf("g%d-%d", g, i)})
				if err != nil {
					fail(err)
				}
				say("ack %s %s %d", c.ID, m.ID, m.Seq)
			}
		})
	}
	wg.Wait()
	os.Exit(3)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// RunCrash checks that every send that returned before the writing
// process was killed is in the database when it is opened again. It runs
// the child (CrashChildTest, which calls CrashChild) with h.Env added to its
// environment, kills it with SIGKILL after 300 acknowledged sends, and
// checks the database through h.Reopen: every conversation in the state,
// owner and version the child printed, every acknowledged message at its
// Seq with no gap, both agents' loads, and, a minute later, both overdue
// offers expiring once and being routed again to a new agent.
func RunCrash(t *testing.T, h CrashHarness) {
	t.Helper()
	const killAfter = 300
	cmd := exec.Command(os.Args[0], "-test.run=^"+CrashChildTest+"$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), crashChildEnv+"=1"), h.Env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	states := map[string]childState{}
	var order []string
	type ack struct {
		id  string
		seq int64
	}
	acks := map[string][]ack{}
	nAcks := 0
	timer := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 6 && f[0] == "state":
			v, err := strconv.ParseInt(f[4], 10, 64)
			require.NoError(t, err)
			agent := f[3]
			if agent == "-" {
				agent = ""
			}
			states[f[1]] = childState{state: attendance.State(f[2]), agent: agent, version: v}
			order = append(order, f[1])
		case len(f) == 4 && f[0] == "ack":
			seq, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				continue // a line cut by the kill
			}
			acks[f[1]] = append(acks[f[1]], ack{id: f[2], seq: seq})
			if nAcks++; nAcks == killAfter {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			}
		case len(f) > 0 && f[0] == "error":
			t.Fatalf("child failed: %s\n%s", sc.Text(), stderr.String())
		}
	}
	err = cmd.Wait()
	killed = true
	require.GreaterOrEqual(t, nAcks, killAfter, "the child stopped early: %v\n%s", err, stderr.String())
	require.ErrorContains(t, err, "signal: killed")
	require.Len(t, order, 5)
	t.Logf("child killed after %d acknowledged sends", nAcks)

	s := h.Reopen(t)
	ctx := t.Context()
	for _, id := range order {
		c, err := s.GetConversation(ctx, id)
		require.NoError(t, err)
		want := states[id]
		require.Equal(t, want.state, c.State, "conversation %s", id)
		require.Equal(t, want.agent, c.AgentID, "conversation %s", id)
		require.Equal(t, want.version, c.Version, "conversation %s", id)
		ms, err := s.ListMessages(ctx, attendance.ListMessagesFilter{ConversationID: id})
		require.NoError(t, err)
		require.Len(t, ms, int(c.LastSeq), "conversation %s: sequence numbers have gaps", id)
		for _, a := range acks[id] {
			require.Less(t, a.seq-1, int64(len(ms)), "conversation %s: acknowledged message seq %d lost", id, a.seq)
			require.Equal(t, a.id, ms[a.seq-1].ID, "conversation %s: acknowledged message seq %d", id, a.seq)
		}
	}
	for id, load := range map[string]int{"fast": 2, "slow": 2} {
		a, err := s.GetAgent(ctx, id)
		require.NoError(t, err)
		require.Equal(t, load, a.Load, "agent %s", id)
	}

	// Restart, a minute later: the offers to "slow" are overdue. A new
	// agent comes online; the expiry returns both offers to the queue and
	// routes them again, once.
	later := func() time.Time { return time.Now().Add(time.Minute) }
	e, err := attendance.New(s, EngineConfig(later, nil))
	require.NoError(t, err)
	_, err = e.UpsertAgent(ctx, attendance.AgentParams{ID: "spare", Profile: attendance.Profile{Max: 5, Queues: []string{"geral"}}})
	require.NoError(t, err)
	_, err = e.SetPresence(ctx, attendance.AgentPrincipal("spare"), attendance.PresenceOnline)
	require.NoError(t, err)
	n, err := e.ExpireOffers(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n, "both overdue offers expire")
	n, err = e.ExpireOffers(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "an offer expires once")
	for _, id := range order {
		if states[id].state != attendance.StateOffered {
			continue
		}
		c, err := s.GetConversation(ctx, id)
		require.NoError(t, err)
		require.Equal(t, attendance.StateOffered, c.State, "conversation %s is offered again", id)
		require.Equal(t, states[id].version+2, c.Version, "conversation %s: expired, then offered", id)
		ms, err := s.ListMessages(ctx, attendance.ListMessagesFilter{ConversationID: id})
		require.NoError(t, err)
		expired := 0
		for _, m := range ms {
			if m.Event != nil && m.Event.Type == attendance.EventOfferExpired {
				expired++
			}
		}
		require.Equal(t, 1, expired, "conversation %s: one expiry", id)
	}
}
