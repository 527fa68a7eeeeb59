package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/internal/rules"
)

// pkg prefixes the errors of this package.
const pkg = "memory"

var _ attendance.Store = (*Store)(nil)

// Store is an in-memory attendance.Store. The zero value is not usable; call
// New. A *Store is safe for concurrent use.
type Store struct {
	mu     sync.RWMutex
	agents map[string]*attendance.Agent
	convs  map[string]*conversation
	// open holds the conversations not finalized nor abandoned, and
	// byBeneficiary each beneficiary's conversations, so that the listings
	// the engine makes on its hot paths (due offers, an agent's chats, a
	// beneficiary's open chats) do not scan the whole history.
	open          map[string]*conversation
	byBeneficiary map[string]map[string]*conversation
}

// conversation is one conversation with its log (which also finds a
// message by its sender's idempotency key) and read marks.
type conversation struct {
	conv  attendance.Conversation
	log   msgLog
	marks map[attendance.Principal]attendance.ReadMark
}

// New returns an empty Store. It starts no goroutine and needs no Close.
func New() *Store {
	return &Store{
		agents: make(map[string]*attendance.Agent),
		convs:  make(map[string]*conversation),

		open:          make(map[string]*conversation),
		byBeneficiary: make(map[string]map[string]*conversation),
	}
}

// UpsertAgent creates an agent (offline, load 0) or replaces an existing
// agent's name and profile, keeping presence, load and LastAssignedAt. It
// returns ErrInvalidArgument for an empty ID or an invalid profile.
func (s *Store) UpsertAgent(ctx context.Context, params attendance.UpsertAgentParams) (attendance.Agent, error) {
	if err := ctx.Err(); err != nil {
		return attendance.Agent{}, err
	}
	if err := rules.Agent(pkg, params); err != nil {
		return attendance.Agent{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.agents[params.ID]
	if !ok {
		a = &attendance.Agent{ID: params.ID, Presence: attendance.PresenceOffline}
		s.agents[params.ID] = a
	}
	a.Name = params.Name
	a.Profile = cloneProfile(params.Profile)
	return cloneAgent(a), nil
}

// GetAgent returns one agent, or ErrNotFound.
func (s *Store) GetAgent(ctx context.Context, id string) (attendance.Agent, error) {
	if err := ctx.Err(); err != nil {
		return attendance.Agent{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.agents[id]
	if !ok {
		return attendance.Agent{}, fmt.Errorf("memory: get agent %q: %w", id, attendance.ErrNotFound)
	}
	return cloneAgent(a), nil
}

// ListAgents returns the agents matching filter, ordered by ID. An unknown
// Presence in the filter is ErrInvalidArgument.
func (s *Store) ListAgents(ctx context.Context, filter attendance.ListAgentsFilter) ([]attendance.Agent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := rules.ListAgents(pkg, filter); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]attendance.Agent, 0, len(s.agents))
	for _, a := range s.agents {
		if filter.Presence != "" && a.Presence != filter.Presence {
			continue
		}
		if filter.QueueID != "" && !a.Profile.Serves(filter.QueueID) {
			continue
		}
		out = append(out, cloneAgent(a))
	}
	slices.SortFunc(out, func(a, b attendance.Agent) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// SetPresence changes an agent's presence; coming online from away or
// offline sets LastAssignedAt to params.At. Load is never changed here: the
// engine takes pending offers back with Transition. It returns ErrNotFound
// for an unknown agent and ErrInvalidArgument for an empty ID or an unknown
// presence.
func (s *Store) SetPresence(ctx context.Context, params attendance.SetPresenceParams) (attendance.Agent, error) {
	if err := ctx.Err(); err != nil {
		return attendance.Agent{}, err
	}
	if err := rules.Presence(pkg, params); err != nil {
		return attendance.Agent{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.agents[params.AgentID]
	if !ok {
		return attendance.Agent{}, fmt.Errorf("memory: set presence of agent %q: %w", params.AgentID, attendance.ErrNotFound)
	}
	if params.Presence == attendance.PresenceOnline && a.Presence != attendance.PresenceOnline {
		a.LastAssignedAt = params.At
	}
	a.Presence = params.Presence
	return cloneAgent(a), nil
}

// CreateConversation stores a new queued conversation and its "opened"
// system message as Seq 1 (the store sets the message's ConversationID, Seq
// and Kind). The conversation must be queued, at Version 0, with no agent;
// IDs, BeneficiaryID and QueueID must be set (ErrInvalidArgument). A
// duplicate ID is ErrConflict; a beneficiary with params.MaxOpen open
// conversations already is ErrLimit.
func (s *Store) CreateConversation(ctx context.Context, params attendance.CreateConversationParams) (attendance.Conversation, attendance.Message, error) {
	if err := ctx.Err(); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	c := params.Conversation
	if err := rules.NewConversation(pkg, c, params.Opened); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.convs[c.ID]; ok {
		return attendance.Conversation{}, attendance.Message{}, fmt.Errorf("memory: create conversation %q: ID already exists: %w", c.ID, attendance.ErrConflict)
	}
	if params.MaxOpen > 0 {
		open := 0
		for _, other := range s.byBeneficiary[c.BeneficiaryID] {
			if !other.conv.State.Terminal() {
				open++
			}
		}
		if open >= params.MaxOpen {
			return attendance.Conversation{}, attendance.Message{}, fmt.Errorf("memory: create conversation %q: beneficiary %q already has %d open conversations: %w",
				c.ID, c.BeneficiaryID, open, attendance.ErrLimit)
		}
	}
	c, msg := rules.Created(c, params.Opened, nil)
	created := &conversation{
		conv:  c,
		marks: make(map[attendance.Principal]attendance.ReadMark),
	}
	msg = created.log.append(msg)
	s.convs[c.ID] = created
	s.open[c.ID] = created
	if s.byBeneficiary[c.BeneficiaryID] == nil {
		s.byBeneficiary[c.BeneficiaryID] = make(map[string]*conversation)
	}
	s.byBeneficiary[c.BeneficiaryID][c.ID] = created
	return c, rules.CopyMessage(msg), nil
}

// GetConversation returns one conversation, or ErrNotFound.
func (s *Store) GetConversation(ctx context.Context, id string) (attendance.Conversation, error) {
	if err := ctx.Err(); err != nil {
		return attendance.Conversation{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.convs[id]
	if !ok {
		return attendance.Conversation{}, fmt.Errorf("memory: get conversation %q: %w", id, attendance.ErrNotFound)
	}
	return c.conv, nil
}

// ListConversations returns the conversations matching filter, ordered by
// priority (higher first), then ArrivedAt, then ID, at most filter.Limit of
// them. An unknown state or a negative Limit is ErrInvalidArgument. With
// OfferExpiredAt set, only offered conversations with a non-zero deadline at
// or before it match.
func (s *Store) ListConversations(ctx context.Context, filter attendance.ListConversationsFilter) ([]attendance.Conversation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := rules.ListConversations(pkg, filter); err != nil {
		return nil, err
	}

	s.mu.RLock()
	out := make([]attendance.Conversation, 0)
	for _, c := range s.candidates(&filter) {
		if matchConversation(&c.conv, &filter) {
			out = append(out, c.conv)
		}
	}
	s.mu.RUnlock()

	slices.SortFunc(out, func(a, b attendance.Conversation) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		if c := a.ArrivedAt.Compare(b.ArrivedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if filter.Limit > 0 && len(out) > filter.Limit {
		out = out[:filter.Limit:filter.Limit]
	}
	return out, nil
}

// candidates returns the smallest index holding every conversation the
// filter may match. Called with s.mu held.
func (s *Store) candidates(f *attendance.ListConversationsFilter) map[string]*conversation {
	if f.BeneficiaryID != "" {
		return s.byBeneficiary[f.BeneficiaryID]
	}
	onlyOpen := len(f.States) > 0 && !slices.ContainsFunc(f.States, attendance.State.Terminal)
	if onlyOpen || f.AgentID != "" || !f.OfferExpiredAt.IsZero() {
		return s.open // an owner or an offer implies an open conversation
	}
	return s.convs
}

func matchConversation(c *attendance.Conversation, f *attendance.ListConversationsFilter) bool {
	switch {
	case len(f.States) > 0 && !slices.Contains(f.States, c.State):
		return false
	case f.QueueID != "" && c.QueueID != f.QueueID:
		return false
	case f.AgentID != "" && c.AgentID != f.AgentID:
		return false
	case f.BeneficiaryID != "" && c.BeneficiaryID != f.BeneficiaryID:
		return false
	case !f.OfferExpiredAt.IsZero() && !rules.OfferDue(c, f.OfferExpiredAt):
		return false
	}
	return true
}

// Transition applies one conditional move, checking in this order: params
// (ErrInvalidArgument), the conversation exists (ErrNotFound), its state is
// one of From (ErrConflict, or a *attendance.TransitionError if it is
// terminal), the move is in the transition table (*TransitionError),
// ExpectAgentID and ExpectVersion (ErrConflict), OfferValidAt
// (ErrOfferExpired), OfferExpiredAt (ErrConflict) and, when the conversation
// changes hands, the new owner exists (ErrNotFound), is online
// (ErrAgentUnavailable) and has Load < Max (ErrAgentAtCapacity). On success
// it moves the conversation, adjusts both agents' loads and appends
// params.Message as a system message, all at once; on failure nothing
// changes.
//
// Zero-deadline offers never expire: OfferValidAt passes and OfferExpiredAt
// fails with ErrConflict. Non-empty notes and reasons replace the stored
// ones; empty ones keep them. If params.Message.Event is set, the store
// fills its From and To with the actual move.
func (s *Store) Transition(ctx context.Context, params attendance.TransitionParams) (attendance.Conversation, attendance.Message, error) {
	if err := ctx.Err(); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	if err := rules.Transition(pkg, &params); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	fail := func(err error) (attendance.Conversation, attendance.Message, error) {
		return attendance.Conversation{}, attendance.Message{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[params.ConversationID]
	if !ok {
		return fail(rules.TransitionError(pkg, &params, "%w", attendance.ErrNotFound))
	}
	cur := c.conv
	if err := rules.Conversation(pkg, &cur, &params, nil); err != nil {
		return fail(err)
	}
	prevOwner, newOwner := rules.Owners(&cur, &params)
	var target *attendance.Agent
	if newOwner != prevOwner && newOwner != "" {
		a, ok := s.agents[newOwner]
		if !ok {
			return fail(rules.TransitionError(pkg, &params, "agent %q: %w", newOwner, attendance.ErrNotFound))
		}
		if err := rules.Target(pkg, a, a.Profile.Max, &params); err != nil {
			return fail(err)
		}
		target = a
	}

	// Every check passed: apply the move. Nothing below can fail.
	next, msg := rules.Apply(cur, &params, nil)
	if prev, ok := s.agents[prevOwner]; ok && prevOwner != newOwner && prev.Load > 0 {
		prev.Load--
	}
	if target != nil {
		target.Load++
		target.LastAssignedAt = params.At
	}
	c.conv = next
	msg = c.log.append(msg)
	if next.State.Terminal() {
		delete(s.open, next.ID)
	}
	return next, rules.CopyMessage(msg), nil
}

// AppendMessage appends a participant's message with the next Seq and
// returns it with the conversation as the append left it. A conversation
// that is not params.BeneficiaryID's (when set) is ErrForbidden. A
// repeated (sender, IdempotencyKey) in the same conversation returns the
// first message with created == false, whatever the conversation's state
// now is. Otherwise the state must be one of params.States
// (ErrInvalidTransition). It returns ErrNotFound for an unknown
// conversation and ErrInvalidArgument for a message without ConversationID,
// ID, a known Kind, Sender or CreatedAt, or for empty or unknown States.
func (s *Store) AppendMessage(ctx context.Context, params attendance.AppendMessageParams) (attendance.Message, attendance.Conversation, bool, error) {
	if err := ctx.Err(); err != nil {
		return attendance.Message{}, attendance.Conversation{}, false, err
	}
	if err := rules.Append(pkg, &params); err != nil {
		return attendance.Message{}, attendance.Conversation{}, false, err
	}
	m := params.Message

	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[m.ConversationID]
	if !ok {
		return attendance.Message{}, attendance.Conversation{}, false, fmt.Errorf("memory: append message to conversation %q: %w", m.ConversationID, attendance.ErrNotFound)
	}
	if params.BeneficiaryID != "" && c.conv.BeneficiaryID != params.BeneficiaryID {
		return attendance.Message{}, attendance.Conversation{}, false, fmt.Errorf("memory: append message to conversation %q: it is not beneficiary %q's: %w",
			m.ConversationID, params.BeneficiaryID, attendance.ErrForbidden)
	}
	if m.IdempotencyKey != "" {
		if seq, ok := c.log.byKey(m.Sender, m.IdempotencyKey); ok {
			return c.log.message(c.conv.ID, seq), attendance.Conversation{}, false, nil
		}
	}
	if !slices.Contains(params.States, c.conv.State) {
		return attendance.Message{}, attendance.Conversation{}, false, fmt.Errorf("memory: append message to conversation %q: state is %s, want one of %v: %w",
			m.ConversationID, c.conv.State, params.States, attendance.ErrInvalidTransition)
	}
	if params.AgentID != "" && c.conv.AgentID != params.AgentID {
		return attendance.Message{}, attendance.Conversation{}, false, fmt.Errorf("memory: append message to conversation %q: it is not agent %q's: %w",
			m.ConversationID, params.AgentID, attendance.ErrForbidden)
	}

	c.conv.LastSeq++
	m.Seq = c.conv.LastSeq
	m = c.log.append(m)
	return rules.CopyMessage(m), c.conv, true, nil
}

// ListMessages returns a conversation's messages with Seq > AfterSeq in Seq
// order, at most Limit of them (0 means all). It returns ErrNotFound for an
// unknown conversation and ErrInvalidArgument for an empty ID or a negative
// AfterSeq or Limit.
func (s *Store) ListMessages(ctx context.Context, filter attendance.ListMessagesFilter) ([]attendance.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := rules.ListMessages(pkg, filter); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.convs[filter.ConversationID]
	if !ok {
		return nil, fmt.Errorf("memory: list messages of conversation %q: %w", filter.ConversationID, attendance.ErrNotFound)
	}
	// Seqs are 1..len with no gaps, so Seq > AfterSeq starts at AfterSeq+1.
	start := int(min(filter.AfterSeq, int64(c.log.len())))
	end := c.log.len()
	if filter.Limit > 0 && end-start > filter.Limit {
		end = start + filter.Limit
	}
	out := make([]attendance.Message, 0, end-start)
	for seq := start + 1; seq <= end; seq++ {
		out = append(out, c.log.message(c.conv.ID, int64(seq)))
	}
	return out, nil
}

// MarkRead raises a participant's read mark to params.Seq and returns the
// mark now stored; a Seq at or below the current mark changes nothing. It
// returns ErrNotFound for an unknown conversation and ErrInvalidArgument for
// an empty ID or participant, a negative Seq or one above LastSeq.
func (s *Store) MarkRead(ctx context.Context, params attendance.MarkReadParams) (attendance.ReadMark, error) {
	if err := ctx.Err(); err != nil {
		return attendance.ReadMark{}, err
	}
	if err := rules.MarkRead(pkg, params); err != nil {
		return attendance.ReadMark{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[params.ConversationID]
	if !ok {
		return attendance.ReadMark{}, fmt.Errorf("memory: mark read in conversation %q: %w", params.ConversationID, attendance.ErrNotFound)
	}
	if params.Seq > c.conv.LastSeq {
		return attendance.ReadMark{}, fmt.Errorf("memory: mark read in conversation %q: Seq %d is above LastSeq %d: %w",
			params.ConversationID, params.Seq, c.conv.LastSeq, attendance.ErrInvalidArgument)
	}
	if mark, ok := c.marks[params.Participant]; ok && mark.Seq >= params.Seq {
		return mark, nil
	}
	mark := attendance.ReadMark{
		ConversationID: params.ConversationID,
		Participant:    params.Participant,
		Seq:            params.Seq,
		At:             params.At,
	}
	c.marks[params.Participant] = mark
	return mark, nil
}

// ReadMarks returns the read marks of a conversation ordered by participant
// role, then ID. It returns ErrNotFound for an unknown conversation.
func (s *Store) ReadMarks(ctx context.Context, conversationID string) ([]attendance.ReadMark, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.convs[conversationID]
	if !ok {
		return nil, fmt.Errorf("memory: read marks of conversation %q: %w", conversationID, attendance.ErrNotFound)
	}
	out := make([]attendance.ReadMark, 0, len(c.marks))
	for _, m := range c.marks {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b attendance.ReadMark) int {
		if c := cmp.Compare(a.Participant.Role, b.Participant.Role); c != 0 {
			return c
		}
		return cmp.Compare(a.Participant.ID, b.Participant.ID)
	})
	return out, nil
}

func cloneProfile(p attendance.Profile) attendance.Profile {
	p.Queues = slices.Clone(p.Queues)
	p.Widgets = slices.Clone(p.Widgets)
	return p
}

func cloneAgent(a *attendance.Agent) attendance.Agent {
	out := *a
	out.Profile = cloneProfile(a.Profile)
	return out
}
