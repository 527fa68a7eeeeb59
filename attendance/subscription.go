package attendance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
)

// SubscribeParams narrow a subscription.
type SubscribeParams struct {
	// ConversationID follows one conversation. Empty follows everything the
	// principal may see: an agent's own conversations and presence, a
	// beneficiary's own conversations and the queues they wait in, everything
	// for a supervisor.
	ConversationID string
}

// Subscription receives the notifications that concern one principal.
// Pending notifications are coalesced per conversation, queue and agent,
// and typing indicators per conversation and typist (keeping the newest),
// so memory stays bounded and a slow reader never blocks the engine; it
// reads the store for the content anyway. Safe for concurrent use.
type Subscription struct {
	principal Principal
	convID    string
	release   func()

	mu      sync.Mutex
	pending map[pendingKey]Notification
	order   []pendingKey
	waiting map[string]string // a beneficiary's queued conversations -> queue
	// stateSeq is, per conversation of a beneficiary, the sequence number
	// of the newest state waiting was updated from.
	stateSeq map[string]int64
	ready    chan struct{} // a token: something is pending
	done     chan struct{} // closed by Close
	closed   bool
}

type pendingKey struct {
	kind NotificationKind
	id   string
}

func newSubscription(p Principal, params SubscribeParams) *Subscription {
	return &Subscription{
		principal: p,
		convID:    params.ConversationID,
		pending:   make(map[pendingKey]Notification),
		waiting:   make(map[string]string),
		stateSeq:  make(map[string]int64),
		ready:     make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
}

// isClosed reports whether Close was called.
func (s *Subscription) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// prime applies to a beneficiary's subscription what Subscribe read from
// the store after registering it: the conversations seen (the open ones,
// or the one followed), each as of its LastSeq, unless a notification that
// arrived meanwhile is newer. A conversation such a notification put in a
// queue but that seen lacks (it left the queue before the read, or came to
// it after) is read again with get.
func (s *Subscription) prime(ctx context.Context, seen []Conversation, get func(context.Context, string) (Conversation, error)) error {
	s.mu.Lock()
	read := make(map[string]bool, len(seen))
	for _, c := range seen {
		read[c.ID] = true
		s.observe(c)
	}
	var again []string
	for id := range s.waiting {
		if !read[id] {
			again = append(again, id)
		}
	}
	s.mu.Unlock()
	for _, id := range again {
		c, err := get(ctx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		s.mu.Lock()
		if err != nil {
			delete(s.waiting, id)
		} else {
			s.observe(c)
		}
		s.mu.Unlock()
	}
	return nil
}

// observe applies a conversation read from the store: its state as of its
// LastSeq. Called with s.mu held.
func (s *Subscription) observe(c Conversation) {
	if s.convID != "" && c.ID != s.convID {
		return
	}
	s.setState(c.ID, c.State, c.QueueID, c.LastSeq)
}

// setState records whether a followed conversation waits, and in which
// queue, unless what is recorded is as new: notifications are published
// after the change committed, by whichever engine made it, so a later
// transition's notification may arrive first. Each transition appends a
// system message, so a later one has a higher sequence number; seq 0
// (unknown) is applied as it comes. Called with s.mu held.
func (s *Subscription) setState(id string, st State, queueID string, seq int64) {
	if seq != 0 {
		if seq <= s.stateSeq[id] {
			return
		}
		s.stateSeq[id] = seq
	}
	if st == StateQueued {
		s.waiting[id] = queueID
	} else {
		delete(s.waiting, id)
	}
}

// waitsIn reports whether one of the followed conversations waits in queueID.
func (s *Subscription) waitsIn(queueID string) bool {
	for _, q := range s.waiting {
		if q == queueID {
			return true
		}
	}
	return false
}

// matches reports whether n concerns the subscriber. Called with s.mu held.
func (s *Subscription) matches(n Notification) bool {
	p := s.principal
	if n.Kind == NotifyQueue {
		return s.waitsIn(n.QueueID) || s.convID == "" && (p.Role == RoleSupervisor || p.Role == RoleSystem)
	}
	aboutConversation := n.Kind == NotifyConversation || n.Kind == NotifyTyping
	if s.convID != "" {
		// An agent follows a conversation only while it is theirs.
		return aboutConversation && n.ConversationID == s.convID &&
			(p.Role != RoleAgent || slices.Contains(n.AgentIDs, p.ID))
	}
	switch p.Role {
	case RoleSupervisor, RoleSystem:
		return true
	case RoleAgent:
		return slices.Contains(n.AgentIDs, p.ID)
	case RoleBeneficiary:
		return aboutConversation && n.BeneficiaryID == p.ID
	}
	return false
}

// track follows which of a beneficiary's conversations wait in which queue,
// for position updates, taking the state of the newest transition whatever
// the order notifications arrive in. Message notifications carry no State
// and change nothing. Called with s.mu held.
func (s *Subscription) track(n Notification) {
	if s.principal.Role != RoleBeneficiary || n.Kind != NotifyConversation || n.BeneficiaryID != s.principal.ID || n.State == "" {
		return
	}
	if s.convID != "" && n.ConversationID != s.convID {
		return
	}
	s.setState(n.ConversationID, n.State, n.QueueID, stateSeq(n))
}

func (s *Subscription) deliver(n Notification) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.track(n)
	if !s.matches(n) {
		return
	}
	key := pendingKey{n.Kind, n.ConversationID}
	switch n.Kind {
	case NotifyQueue:
		key.id = n.QueueID
	case NotifyAgent:
		key.id = strings.Join(n.AgentIDs, ",")
	case NotifyTyping:
		if n.Typing != nil { // one pending indicator per person typing
			key.id += "\x00" + string(n.Typing.From.Role) + ":" + n.Typing.From.ID
		}
	}
	if old, ok := s.pending[key]; ok {
		if n.Kind != NotifyTyping { // the newest indicator is the whole news
			n = Coalesce(old, n)
		}
	} else {
		s.order = append(s.order, key)
	}
	s.pending[key] = n
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Next waits for notifications and returns all pending ones, oldest first,
// each conversation once with its newest sequence number (and each typist's
// newest indicator). It returns ErrClosed after Close (every Next blocked
// meanwhile returns it), or ctx's error.
func (s *Subscription) Next(ctx context.Context) ([]Notification, error) {
	for {
		s.mu.Lock()
		if len(s.order) > 0 {
			out := make([]Notification, 0, len(s.order))
			for _, k := range s.order {
				out = append(out, s.pending[k])
			}
			clear(s.pending)
			s.order = s.order[:0]
			s.mu.Unlock()
			return out, nil
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.ready:
		case <-s.done:
		}
	}
}

// Close ends the subscription; every blocked Next returns ErrClosed.
func (s *Subscription) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	if s.release != nil {
		s.release()
	}
}
