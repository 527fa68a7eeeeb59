package storagetest

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// Run runs the whole conformance suite against the backend newStore opens.
//
// Each test calls newStore once, from its own goroutine and possibly in
// parallel with other tests, and expects a fresh, empty store; release its
// resources with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) attendance.Store) {
	t.Helper()
	if newStore == nil {
		t.Fatal("storagetest: Run needs a newStore function")
	}
	s := suite{newStore: newStore}
	t.Run("Agents", s.agents)
	t.Run("Conversations", s.conversations)
	t.Run("Transitions", s.transitions)
	t.Run("Messages", s.messages)
	t.Run("Concurrency", s.concurrency)
	t.Run("Context", s.context)
}

// suite carries the backend's constructor to every area.
type suite struct {
	newStore func(t *testing.T) attendance.Store
}

// run starts a parallel subtest with its own store and fixture.
func (s suite) run(t *testing.T, name string, fn func(t *testing.T, f *fixture)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		store := s.newStore(t)
		require.NotNil(t, store, "newStore returned nil")
		fn(t, newFixture(t, store))
	})
}

// context checks that a cancelled ctx is honoured and changes nothing.
func (s suite) context(t *testing.T) {
	s.run(t, "CancelledContext", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(2)
		c := f.conversation()
		before := f.snapshot(c.ID, a.ID)

		ctx, cancel := context.WithCancel(f.ctx)
		cancel()

		_, err := f.s.GetAgent(ctx, a.ID)
		require.ErrorIs(t, err, context.Canceled, "GetAgent")
		_, err = f.s.GetConversation(ctx, c.ID)
		require.ErrorIs(t, err, context.Canceled, "GetConversation")
		_, _, err = f.s.Transition(ctx, f.offerParams(c.ID, a.ID))
		require.ErrorIs(t, err, context.Canceled, "Transition")
		_, _, _, err = f.s.AppendMessage(ctx, attendance.AppendMessageParams{
			Message: f.text(c.ID, attendance.BeneficiaryPrincipal(c.BeneficiaryID), "hello", ""),
			States:  openStates,
		})
		require.ErrorIs(t, err, context.Canceled, "AppendMessage")

		f.requireUnchanged(before)
	})
}

// base is the suite's clock: fixed, in UTC, truncated to the microsecond so
// SQL backends storing microseconds return exactly what they were given.
var base = time.Date(2025, time.June, 2, 13, 4, 5, 678901000, time.UTC).Truncate(time.Microsecond)

// at returns base plus sec seconds.
func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

// offerTTL is the deadline the fixtures give offers, from base.
const offerTTL = 30 * time.Second

// openStates are the states in which participants may write.
var openStates = []attendance.State{attendance.StateQueued, attendance.StateOffered, attendance.StateActive}

// fixture is one test's store, with helpers that fail the test on error.
// Its helpers must run on the test's goroutine.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	s     attendance.Store
	queue string // a queue unique to this test
	seq   atomic.Int64
}

func newFixture(t *testing.T, s attendance.Store) *fixture {
	return &fixture{t: t, ctx: t.Context(), s: s, queue: newID("queue")}
}

// newID returns an ID unique across tests and runs.
func newID(prefix string) string { return prefix + "-" + uuid.NewString() }

// next returns 1, 2, 3, ... for ordering fixtures.
func (f *fixture) next() int { return int(f.seq.Add(1)) }

// profile returns a valid profile serving the fixture's queue.
func (f *fixture) profile(maxLoad int) attendance.Profile {
	return attendance.Profile{
		Min:          0,
		Max:          maxLoad,
		Queues:       []string{f.queue},
		OfferTimeout: offerTTL,
		Widgets:      []string{"usage", "bank-slips"},
		Shortcuts:    "default",
	}
}

// agent creates an agent with the given Max, serving the fixture's queue,
// and leaves them offline.
func (f *fixture) agent(maxLoad int) attendance.Agent {
	f.t.Helper()
	a, err := f.s.UpsertAgent(f.ctx, attendance.UpsertAgentParams{
		ID:      newID("agent"),
		Name:    "Agent",
		Profile: f.profile(maxLoad),
		At:      base,
	})
	require.NoError(f.t, err, "UpsertAgent")
	return a
}

// onlineAgent creates an agent with the given Max and sets them online at
// base.
func (f *fixture) onlineAgent(maxLoad int) attendance.Agent {
	f.t.Helper()
	a := f.agent(maxLoad)
	a, err := f.s.SetPresence(f.ctx, attendance.SetPresenceParams{
		AgentID: a.ID, Presence: attendance.PresenceOnline, At: base,
	})
	require.NoError(f.t, err, "SetPresence online")
	return a
}

// newConversation returns a queued conversation in the fixture's queue,
// arrived at base, changed by mods, without storing it.
func (f *fixture) newConversation(mods ...func(*attendance.Conversation)) attendance.Conversation {
	n := f.next()
	c := attendance.Conversation{
		ID:            newID("conv"),
		BeneficiaryID: newID("ben"),
		SubjectID:     "subject-billing",
		QueueID:       f.queue,
		Priority:      0,
		Channel:       "app",
		Protocol:      fmt.Sprintf("2025%06d", n),
		State:         attendance.StateQueued,
		ArrivedAt:     base,
		CreatedAt:     base,
		UpdatedAt:     base,
	}
	for _, mod := range mods {
		mod(&c)
	}
	return c
}

// openedMessage returns the "opened" system message of c.
func openedMessage(c attendance.Conversation) attendance.Message {
	return attendance.Message{
		ID:        newID("msg"),
		Kind:      attendance.KindSystem,
		Sender:    attendance.BeneficiaryPrincipal(c.BeneficiaryID),
		Event:     &attendance.Event{Type: attendance.EventOpened, To: attendance.StateQueued, QueueID: c.QueueID},
		CreatedAt: c.CreatedAt,
	}
}

// conversation stores a new queued conversation (see newConversation).
func (f *fixture) conversation(mods ...func(*attendance.Conversation)) attendance.Conversation {
	f.t.Helper()
	c := f.newConversation(mods...)
	got, _, err := f.s.CreateConversation(f.ctx, attendance.CreateConversationParams{
		Conversation: c, Opened: openedMessage(c),
	})
	require.NoError(f.t, err, "CreateConversation")
	return got
}

// sysMsg returns a system message recording an event of type typ.
func sysMsg(typ attendance.EventType, agentID string, when time.Time) attendance.Message {
	return attendance.Message{
		ID:        newID("msg"),
		Kind:      attendance.KindSystem,
		Sender:    attendance.SystemPrincipal,
		Event:     &attendance.Event{Type: typ, AgentID: agentID},
		CreatedAt: when,
	}
}

// text returns a text message from sender, with an optional idempotency key.
func (f *fixture) text(convID string, sender attendance.Principal, body, key string) attendance.Message {
	return attendance.Message{
		ID:             newID("msg"),
		ConversationID: convID,
		Kind:           attendance.KindText,
		Sender:         sender,
		Body:           body,
		IdempotencyKey: key,
		CreatedAt:      at(f.next()),
	}
}

// offerParams offers a queued conversation to agentID at base+1s, with a
// deadline of base+offerTTL.
func (f *fixture) offerParams(convID, agentID string) attendance.TransitionParams {
	return attendance.TransitionParams{
		ConversationID: convID,
		From:           []attendance.State{attendance.StateQueued},
		To:             attendance.StateOffered,
		AgentID:        agentID,
		OfferDeadline:  base.Add(offerTTL),
		At:             at(1),
		Message:        sysMsg(attendance.EventOffered, agentID, at(1)),
	}
}

// acceptParams accepts agentID's offer at base+2s.
func acceptParams(convID, agentID string) attendance.TransitionParams {
	return attendance.TransitionParams{
		ConversationID: convID,
		From:           []attendance.State{attendance.StateOffered},
		ExpectAgentID:  agentID,
		OfferValidAt:   at(2),
		To:             attendance.StateActive,
		AgentID:        agentID,
		At:             at(2),
		Message:        sysMsg(attendance.EventAccepted, agentID, at(2)),
	}
}

// declineParams returns agentID's offer to the queue at base+3s.
func declineParams(convID, agentID string) attendance.TransitionParams {
	return attendance.TransitionParams{
		ConversationID: convID,
		From:           []attendance.State{attendance.StateOffered},
		ExpectAgentID:  agentID,
		To:             attendance.StateQueued,
		At:             at(3),
		Message:        sysMsg(attendance.EventDeclined, agentID, at(3)),
	}
}

// expireParams expires agentID's offer at its deadline.
func expireParams(convID, agentID string) attendance.TransitionParams {
	return attendance.TransitionParams{
		ConversationID: convID,
		From:           []attendance.State{attendance.StateOffered},
		ExpectAgentID:  agentID,
		OfferExpiredAt: base.Add(offerTTL),
		To:             attendance.StateQueued,
		At:             base.Add(offerTTL),
		Message:        sysMsg(attendance.EventOfferExpired, agentID, base.Add(offerTTL)),
	}
}

// finalizeParams closes agentID's active conversation at base+10s.
func finalizeParams(convID, agentID string) attendance.TransitionParams {
	return attendance.TransitionParams{
		ConversationID: convID,
		From:           []attendance.State{attendance.StateActive},
		ExpectAgentID:  agentID,
		To:             attendance.StateFinalized,
		FinalReason:    "resolved",
		FinalNote:      "boleto reissued",
		At:             at(10),
		Message:        sysMsg(attendance.EventFinalized, agentID, at(10)),
	}
}

// transition applies p and fails the test on error.
func (f *fixture) transition(p attendance.TransitionParams) (attendance.Conversation, attendance.Message) {
	f.t.Helper()
	c, m, err := f.s.Transition(f.ctx, p)
	require.NoError(f.t, err, "Transition %v -> %s", p.From, p.To)
	return c, m
}

// offer offers convID to agentID (see offerParams).
func (f *fixture) offer(convID, agentID string) attendance.Conversation {
	f.t.Helper()
	c, _ := f.transition(f.offerParams(convID, agentID))
	return c
}

// activate offers convID to agentID and accepts it.
func (f *fixture) activate(convID, agentID string) attendance.Conversation {
	f.t.Helper()
	f.offer(convID, agentID)
	c, _ := f.transition(acceptParams(convID, agentID))
	return c
}

// getAgent reads an agent, failing the test on error.
func (f *fixture) getAgent(id string) attendance.Agent {
	f.t.Helper()
	a, err := f.s.GetAgent(f.ctx, id)
	require.NoError(f.t, err, "GetAgent %s", id)
	return a
}

// load returns an agent's Load.
func (f *fixture) load(agentID string) int {
	f.t.Helper()
	return f.getAgent(agentID).Load
}

// get reads a conversation, failing the test on error.
func (f *fixture) get(id string) attendance.Conversation {
	f.t.Helper()
	c, err := f.s.GetConversation(f.ctx, id)
	require.NoError(f.t, err, "GetConversation %s", id)
	return c
}

// messages lists all of a conversation's messages.
func (f *fixture) messages(convID string) []attendance.Message {
	f.t.Helper()
	ms, err := f.s.ListMessages(f.ctx, attendance.ListMessagesFilter{ConversationID: convID})
	require.NoError(f.t, err, "ListMessages %s", convID)
	return ms
}

// snapshot is what a failed call must leave untouched.
type snapshot struct {
	conv     attendance.Conversation
	messages int
	agents   []attendance.Agent
}

// snapshot records a conversation, its message count and some agents.
func (f *fixture) snapshot(convID string, agentIDs ...string) snapshot {
	f.t.Helper()
	s := snapshot{conv: f.get(convID), messages: len(f.messages(convID))}
	for _, id := range agentIDs {
		s.agents = append(s.agents, f.getAgent(id))
	}
	return s
}

// requireUnchanged fails the test if anything in s changed.
func (f *fixture) requireUnchanged(s snapshot) {
	f.t.Helper()
	requireConversation(f.t, s.conv, f.get(s.conv.ID))
	require.Len(f.t, f.messages(s.conv.ID), s.messages, "message count changed")
	for _, a := range s.agents {
		requireAgent(f.t, a, f.getAgent(a.ID))
	}
}

// requireTime fails unless want and got are the same instant.
func requireTime(t *testing.T, want, got time.Time, field string) {
	t.Helper()
	require.Truef(t, want.Equal(got), "%s: want %s, got %s", field,
		want.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano))
}

// requireConversation compares every field, times with Equal.
func requireConversation(t *testing.T, want, got attendance.Conversation) {
	t.Helper()
	requireTime(t, want.ArrivedAt, got.ArrivedAt, "ArrivedAt")
	requireTime(t, want.OfferDeadline, got.OfferDeadline, "OfferDeadline")
	requireTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	requireTime(t, want.UpdatedAt, got.UpdatedAt, "UpdatedAt")
	want.ArrivedAt, got.ArrivedAt = time.Time{}, time.Time{}
	want.OfferDeadline, got.OfferDeadline = time.Time{}, time.Time{}
	want.CreatedAt, got.CreatedAt = time.Time{}, time.Time{}
	want.UpdatedAt, got.UpdatedAt = time.Time{}, time.Time{}
	require.Equal(t, want, got, "conversation %s", want.ID)
}

// requireMessage compares every field, times with Equal.
func requireMessage(t *testing.T, want, got attendance.Message) {
	t.Helper()
	requireTime(t, want.CreatedAt, got.CreatedAt, "CreatedAt")
	want.CreatedAt, got.CreatedAt = time.Time{}, time.Time{}
	require.Equal(t, want, got, "message %s", want.ID)
}

// requireAgent compares every field, times with Equal and slices with nil
// equal to empty.
func requireAgent(t *testing.T, want, got attendance.Agent) {
	t.Helper()
	requireTime(t, want.LastAssignedAt, got.LastAssignedAt, "LastAssignedAt")
	requireProfile(t, want.Profile, got.Profile)
	want.LastAssignedAt, got.LastAssignedAt = time.Time{}, time.Time{}
	want.Profile, got.Profile = attendance.Profile{}, attendance.Profile{}
	require.Equal(t, want, got, "agent %s", want.ID)
}

// requireProfile compares profiles, with nil slices equal to empty ones.
func requireProfile(t *testing.T, want, got attendance.Profile) {
	t.Helper()
	require.Equal(t, len(want.Queues), len(got.Queues), "Profile.Queues: want %v, got %v", want.Queues, got.Queues)
	require.True(t, slices.Equal(want.Queues, got.Queues), "Profile.Queues: want %v, got %v", want.Queues, got.Queues)
	require.True(t, slices.Equal(want.Widgets, got.Widgets), "Profile.Widgets: want %v, got %v", want.Widgets, got.Widgets)
	want.Queues, got.Queues = nil, nil
	want.Widgets, got.Widgets = nil, nil
	require.Equal(t, want, got, "profile")
}

// conversationIDs returns the IDs of cs in order.
func conversationIDs(cs []attendance.Conversation) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// seqs returns the Seqs of ms in order.
func seqs(ms []attendance.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

// seqRange returns from, from+1, ..., to.
func seqRange(from, to int64) []int64 {
	out := make([]int64, 0, max(0, to-from+1))
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}
