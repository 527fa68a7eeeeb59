package attendance

import (
	"cmp"
	"context"
	"slices"
	"sync"
)

// NotificationKind says what changed.
type NotificationKind string

const (
	// NotifyConversation: a conversation got a new message or changed state.
	NotifyConversation NotificationKind = "conversation"
	// NotifyQueue: a queue's order moved (positions and estimates changed).
	NotifyQueue NotificationKind = "queue"
	// NotifyAgent: an agent's presence or profile changed.
	NotifyAgent NotificationKind = "agent"
	// NotifyResync: notifications may have been lost (a bus reconnected, or
	// could not carry one whole). It carries no IDs; an engine hearing it
	// reloads its routing index from the store. Supervisor and system
	// subscriptions receive it too, to refresh what they show.
	NotifyResync NotificationKind = "resync"
	// NotifyTyping: Typing.From started or stopped typing in the
	// conversation (Engine.Typing). Nothing is stored: it is the one
	// notification that is the news itself, and a lost one loses only an
	// indicator that the next one (or its timeout) corrects.
	NotifyTyping NotificationKind = "typing"
)

// Typing is who is typing in a conversation, and whether they still are.
type Typing struct {
	From   Principal `json:"from"`
	Active bool      `json:"active"`
}

// Notification is a doorbell: it says that something changed, and enough to
// route it to subscribers. Receivers read the store for the content (by
// sequence number), so a lost notification delays, never loses, a message.
// The one exception is NotifyTyping, which carries its news (Typing) and is
// stored nowhere.
type Notification struct {
	Kind           NotificationKind `json:"kind"`
	ConversationID string           `json:"conversation_id,omitempty"`
	BeneficiaryID  string           `json:"beneficiary_id,omitempty"`
	QueueID        string           `json:"queue_id,omitempty"`
	// State is the conversation's state after the change.
	State State `json:"state,omitempty"`
	// Seq is the conversation's newest sequence number after the change.
	Seq int64 `json:"seq,omitempty"`
	// StateSeq is the sequence number of the transition that set State,
	// when it differs from Seq: only Coalesce sets it, when it merges a
	// state change with newer messages. Zero means State was set at Seq.
	// States are ordered by it, never by a message's Seq.
	StateSeq int64 `json:"state_seq,omitempty"`
	// AgentIDs are the agents concerned: the previous and the new owner, or
	// the agent whose presence changed.
	AgentIDs []string `json:"agent_ids,omitempty"`
	// Reads says that a participant's read mark moved. A conversation
	// notification with neither State nor Reads announces new messages
	// only, up to Seq.
	Reads bool `json:"reads,omitempty"`
	// Typing is set on NotifyTyping.
	Typing *Typing `json:"typing,omitempty"`
	// Origin is the ID of the engine that made the change.
	Origin string `json:"origin,omitempty"`
}

// Coalesce returns one notification standing for older followed by newer,
// both about the same conversation, queue or agent: the newest sequence
// number, the state set by the later transition (with its queue, and its
// sequence number in StateSeq when below Seq), every agent concerned, and
// Reads when either had it. Subscriptions use it to keep one pending
// notification per subject.
func Coalesce(older, newer Notification) Notification {
	out := newer
	// Notifications from several nodes may arrive out of order, and a
	// transition's may come after a later message's: the state comes from
	// the transition with the higher sequence number (a message's Seq says
	// nothing about which state is newer), the Seq is the higher of both.
	low, high := older, newer
	if older.Seq > newer.Seq {
		low, high = newer, older
	}
	out.Seq = high.Seq
	out.StateSeq = 0
	if older.State == "" && newer.State == "" {
		out.QueueID = cmp.Or(high.QueueID, low.QueueID)
	} else {
		st, other := newer, older
		if st.State == "" || other.State != "" && stateSeq(other) > stateSeq(st) {
			st, other = other, st
		}
		// The queue goes with the state: a conversation queued in it.
		out.State, out.QueueID = st.State, cmp.Or(st.QueueID, other.QueueID)
		if seq := stateSeq(st); seq != out.Seq {
			out.StateSeq = seq
		}
	}
	out.Reads = older.Reads || newer.Reads
	for _, a := range older.AgentIDs {
		if !slices.Contains(out.AgentIDs, a) {
			out.AgentIDs = append(slices.Clip(out.AgentIDs), a)
		}
	}
	return out
}

// stateSeq is the sequence number of the transition that set n.State.
func stateSeq(n Notification) int64 { return cmp.Or(n.StateSeq, n.Seq) }

// Bus carries notifications between engines. The default is in-process
// (NewLocalBus); several nodes share a PostgreSQL LISTEN/NOTIFY or NATS bus.
//
// Publish and Subscribe are safe for concurrent use. A handler must not block
// nor call back into the bus; it may be called from any goroutine. A bus that
// may have lost notifications delivers a NotifyResync one.
type Bus interface {
	// Publish delivers n to every subscriber, this node's included.
	Publish(ctx context.Context, n Notification) error
	// Subscribe registers handler until the returned function is called.
	Subscribe(handler func(Notification)) (unsubscribe func(), err error)
}

// LocalBus is an in-process Bus: Publish calls every handler synchronously.
// Engines in one process may share one to act as several nodes.
type LocalBus struct {
	mu       sync.RWMutex
	next     int
	handlers map[int]func(Notification)
	// list is handlers as a slice, replaced (never changed in place) on
	// every Subscribe and unsubscribe, so Publish calls it outside the
	// lock without copying it.
	list []func(Notification)
}

var _ Bus = (*LocalBus)(nil)

// NewLocalBus returns an empty in-process bus.
func NewLocalBus() *LocalBus { return &LocalBus{handlers: make(map[int]func(Notification))} }

// Publish calls every handler with n.
func (b *LocalBus) Publish(_ context.Context, n Notification) error {
	b.mu.RLock()
	list := b.list
	b.mu.RUnlock()
	for _, h := range list {
		h(n)
	}
	return nil
}

// Subscribe adds a handler.
func (b *LocalBus) Subscribe(handler func(Notification)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	b.handlers[id] = handler
	b.relist()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.handlers, id)
		b.relist()
	}, nil
}

// relist rebuilds list from handlers. Called with b.mu held.
func (b *LocalBus) relist() {
	list := make([]func(Notification), 0, len(b.handlers))
	for _, h := range b.handlers {
		list = append(list, h)
	}
	b.list = list
}
