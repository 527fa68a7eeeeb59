package attendance

import (
	"context"
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
	ready   chan struct{}
	closed  bool
}

type pendingKey struct {
	kind NotificationKind
	id   string
}

func newSubscription(p Principal, params SubscribeParams, waiting []Conversation) *Subscription {
	s := &Subscription{
		principal: p,
		convID:    params.ConversationID,
		pending:   make(map[pendingKey]Notification),
		waiting:   make(map[string]string),
		ready:     make(chan struct{}, 1),
	}
	for _, c := range waiting {
		s.waiting[c.ID] = c.QueueID
	}
	return s
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
// for position updates. Message notifications carry no State and change
// nothing. Called with s.mu held.
func (s *Subscription) track(n Notification) {
	if s.principal.Role != RoleBeneficiary || n.Kind != NotifyConversation || n.BeneficiaryID != s.principal.ID || n.State == "" {
		return
	}
	if s.convID != "" && n.ConversationID != s.convID {
		return
	}
	if n.State == StateQueued {
		s.waiting[n.ConversationID] = n.QueueID
	} else {
		delete(s.waiting, n.ConversationID)
	}
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
// newest indicator). It returns
// ErrClosed after Close, or ctx's error.
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
		}
	}
}

// Close ends the subscription; a blocked Next returns ErrClosed.
func (s *Subscription) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	if s.release != nil {
		s.release()
	}
	select {
	case s.ready <- struct{}{}:
	default:
	}
}
