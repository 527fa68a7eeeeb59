package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

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

// conversation is one conversation with its log, idempotency index and read
// marks. msgs[i].Seq == i+1 always holds, so a Seq is an index.
type conversation struct {
	conv  attendance.Conversation
	msgs  []attendance.Message
	idem  map[idemKey]int64 // sender and key -> Seq of the first message
	marks map[attendance.Principal]attendance.ReadMark
}

// idemKey scopes an idempotency key to its sender within one conversation.
type idemKey struct {
	sender attendance.Principal
	key    string
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
	if params.ID == "" {
		return attendance.Agent{}, fmt.Errorf("memory: upsert agent: empty ID: %w", attendance.ErrInvalidArgument)
	}
	if err := params.Profile.Validate(); err != nil {
		return attendance.Agent{}, fmt.Errorf("memory: upsert agent %q: %w", params.ID, err)
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
	if filter.Presence != "" && !filter.Presence.Valid() {
		return nil, fmt.Errorf("memory: list agents: unknown presence %q: %w", filter.Presence, attendance.ErrInvalidArgument)
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
	if params.AgentID == "" {
		return attendance.Agent{}, fmt.Errorf("memory: set presence: empty agent ID: %w", attendance.ErrInvalidArgument)
	}
	if !params.Presence.Valid() {
		return attendance.Agent{}, fmt.Errorf("memory: set presence of agent %q: unknown presence %q: %w",
			params.AgentID, params.Presence, attendance.ErrInvalidArgument)
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
// duplicate ID is ErrConflict.
func (s *Store) CreateConversation(ctx context.Context, params attendance.CreateConversationParams) (attendance.Conversation, attendance.Message, error) {
	if err := ctx.Err(); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	c := params.Conversation
	if err := validateNewConversation(c, params.Opened); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.convs[c.ID]; ok {
		return attendance.Conversation{}, attendance.Message{}, fmt.Errorf("memory: create conversation %q: ID already exists: %w", c.ID, attendance.ErrConflict)
	}
	c.OfferDeadline = time.Time{}
	c.LastSeq = 1
	msg := cloneMessage(params.Opened)
	msg.ConversationID = c.ID
	msg.Seq = 1
	msg.Kind = attendance.KindSystem
	created := &conversation{
		conv:  c,
		msgs:  []attendance.Message{msg},
		idem:  make(map[idemKey]int64),
		marks: make(map[attendance.Principal]attendance.ReadMark),
	}
	s.convs[c.ID] = created
	s.open[c.ID] = created
	if s.byBeneficiary[c.BeneficiaryID] == nil {
		s.byBeneficiary[c.BeneficiaryID] = make(map[string]*conversation)
	}
	s.byBeneficiary[c.BeneficiaryID][c.ID] = created
	return c, cloneMessage(msg), nil
}

func validateNewConversation(c attendance.Conversation, opened attendance.Message) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("memory: create conversation %q: "+format+": %w",
			append(append([]any{c.ID}, args...), attendance.ErrInvalidArgument)...)
	}
	switch {
	case c.ID == "":
		return bad("empty ID")
	case c.BeneficiaryID == "":
		return bad("empty BeneficiaryID")
	case c.QueueID == "":
		return bad("empty QueueID")
	case c.State != attendance.StateQueued:
		return bad("state is %q, want %q", c.State, attendance.StateQueued)
	case c.Version != 0:
		return bad("Version is %d, want 0", c.Version)
	case c.AgentID != "":
		return bad("a queued conversation has no AgentID, got %q", c.AgentID)
	case opened.ID == "":
		return bad("empty opened message ID")
	}
	return nil
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
	for _, st := range filter.States {
		if !st.Valid() {
			return nil, fmt.Errorf("memory: list conversations: unknown state %q: %w", st, attendance.ErrInvalidArgument)
		}
	}
	if filter.Limit < 0 {
		return nil, fmt.Errorf("memory: list conversations: negative Limit %d: %w", filter.Limit, attendance.ErrInvalidArgument)
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
	case !f.OfferExpiredAt.IsZero() && !offerDue(c, f.OfferExpiredAt):
		return false
	}
	return true
}

// offerDue reports whether c is an offer whose deadline is at or before t.
// An offer without a deadline never falls due.
func offerDue(c *attendance.Conversation, t time.Time) bool {
	return c.State == attendance.StateOffered && !c.OfferDeadline.IsZero() && !c.OfferDeadline.After(t)
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
	if err := validateTransition(&params); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	fail := func(format string, args ...any) (attendance.Conversation, attendance.Message, error) {
		return attendance.Conversation{}, attendance.Message{},
			fmt.Errorf("memory: transition conversation %q to %s: "+format,
				append([]any{params.ConversationID, params.To}, args...)...)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[params.ConversationID]
	if !ok {
		return fail("%w", attendance.ErrNotFound)
	}
	cur := c.conv
	if !slices.Contains(params.From, cur.State) {
		if cur.State.Terminal() {
			return fail("%w", &attendance.TransitionError{From: cur.State, To: params.To})
		}
		return fail("state is %s, want one of %v: %w", cur.State, params.From, attendance.ErrConflict)
	}
	if !attendance.CanTransition(cur.State, params.To) {
		return fail("%w", &attendance.TransitionError{From: cur.State, To: params.To})
	}
	if params.ExpectAgentID != "" && cur.AgentID != params.ExpectAgentID {
		return fail("agent is %q, want %q: %w", cur.AgentID, params.ExpectAgentID, attendance.ErrConflict)
	}
	if params.ExpectVersion != 0 && cur.Version != params.ExpectVersion {
		return fail("version is %d, want %d: %w", cur.Version, params.ExpectVersion, attendance.ErrConflict)
	}
	if !params.OfferValidAt.IsZero() && !cur.OfferDeadline.IsZero() && !cur.OfferDeadline.After(params.OfferValidAt) {
		return fail("deadline %s is not after %s: %w",
			cur.OfferDeadline.Format(time.RFC3339Nano), params.OfferValidAt.Format(time.RFC3339Nano), attendance.ErrOfferExpired)
	}
	if !params.OfferExpiredAt.IsZero() && !offerDue(&cur, params.OfferExpiredAt) {
		return fail("offer is not due at %s: %w", params.OfferExpiredAt.Format(time.RFC3339Nano), attendance.ErrConflict)
	}

	var prevOwner, newOwner string
	if cur.State.HoldsAgent() {
		prevOwner = cur.AgentID
	}
	if params.To.HoldsAgent() {
		newOwner = params.AgentID
	}
	var target *attendance.Agent
	if newOwner != prevOwner && newOwner != "" {
		a, ok := s.agents[newOwner]
		switch {
		case !ok:
			return fail("agent %q: %w", newOwner, attendance.ErrNotFound)
		case a.Presence != attendance.PresenceOnline:
			return fail("agent %q is %s: %w", newOwner, a.Presence, attendance.ErrAgentUnavailable)
		case a.Load >= a.Profile.Max:
			return fail("agent %q has load %d of max %d: %w", newOwner, a.Load, a.Profile.Max, attendance.ErrAgentAtCapacity)
		}
		target = a
	}

	// Every check passed: apply the move. Nothing below can fail.
	next := cur
	next.State = params.To
	next.AgentID = newOwner
	if newOwner != "" {
		next.LastAgentID = newOwner
	}
	if params.QueueID != "" {
		next.QueueID = params.QueueID
	}
	next.OfferDeadline = time.Time{}
	if params.To == attendance.StateOffered {
		next.OfferDeadline = params.OfferDeadline
	}
	if params.TransferNote != "" {
		next.TransferNote = params.TransferNote
	}
	if params.FinalReason != "" {
		next.FinalReason = params.FinalReason
	}
	if params.FinalNote != "" {
		next.FinalNote = params.FinalNote
	}
	next.Version++
	next.LastSeq++
	next.UpdatedAt = params.At

	msg := cloneMessage(params.Message)
	msg.ConversationID = next.ID
	msg.Seq = next.LastSeq
	msg.Kind = attendance.KindSystem
	if msg.CreatedAt.IsZero() {
		msg.CreatedAt = params.At
	}
	if msg.Event != nil {
		msg.Event.From = cur.State
		msg.Event.To = params.To
	}

	if prev, ok := s.agents[prevOwner]; ok && prevOwner != newOwner && prev.Load > 0 {
		prev.Load--
	}
	if target != nil {
		target.Load++
		target.LastAssignedAt = params.At
	}
	c.conv = next
	c.msgs = append(c.msgs, msg)
	if next.State.Terminal() {
		delete(s.open, next.ID)
	}
	return next, cloneMessage(msg), nil
}

func validateTransition(p *attendance.TransitionParams) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("memory: transition conversation %q: "+format+": %w",
			append(append([]any{p.ConversationID}, args...), attendance.ErrInvalidArgument)...)
	}
	if p.ConversationID == "" {
		return bad("empty conversation ID")
	}
	if len(p.From) == 0 {
		return bad("empty From")
	}
	for _, st := range p.From {
		if !st.Valid() {
			return bad("unknown From state %q", st)
		}
	}
	if !p.To.Valid() {
		return bad("unknown To state %q", p.To)
	}
	if p.To.HoldsAgent() && p.AgentID == "" {
		return bad("empty AgentID for state %s", p.To)
	}
	if p.Message.ID == "" {
		return bad("empty message ID")
	}
	return nil
}

// AppendMessage appends a participant's message with the next Seq. A
// repeated (sender, IdempotencyKey) in the same conversation returns the
// first message with created == false, whatever the conversation's state
// now is. Otherwise the state must be one of params.States
// (ErrInvalidTransition). It returns ErrNotFound for an unknown
// conversation and ErrInvalidArgument for a message without ConversationID,
// ID, a known Kind, Sender or CreatedAt, or for empty or unknown States.
func (s *Store) AppendMessage(ctx context.Context, params attendance.AppendMessageParams) (attendance.Message, bool, error) {
	if err := ctx.Err(); err != nil {
		return attendance.Message{}, false, err
	}
	if err := validateAppend(&params); err != nil {
		return attendance.Message{}, false, err
	}
	m := params.Message

	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[m.ConversationID]
	if !ok {
		return attendance.Message{}, false, fmt.Errorf("memory: append message to conversation %q: %w", m.ConversationID, attendance.ErrNotFound)
	}
	key := idemKey{sender: m.Sender, key: m.IdempotencyKey}
	if m.IdempotencyKey != "" {
		if seq, ok := c.idem[key]; ok {
			return cloneMessage(c.msgs[seq-1]), false, nil
		}
	}
	if !slices.Contains(params.States, c.conv.State) {
		return attendance.Message{}, false, fmt.Errorf("memory: append message to conversation %q: state is %s, want one of %v: %w",
			m.ConversationID, c.conv.State, params.States, attendance.ErrInvalidTransition)
	}
	if params.AgentID != "" && c.conv.AgentID != params.AgentID {
		return attendance.Message{}, false, fmt.Errorf("memory: append message to conversation %q: it is not agent %q's: %w",
			m.ConversationID, params.AgentID, attendance.ErrForbidden)
	}

	m = cloneMessage(m)
	c.conv.LastSeq++
	m.Seq = c.conv.LastSeq
	c.msgs = append(c.msgs, m)
	if m.IdempotencyKey != "" {
		c.idem[key] = m.Seq
	}
	return cloneMessage(m), true, nil
}

func validateAppend(p *attendance.AppendMessageParams) error {
	m := &p.Message
	bad := func(format string, args ...any) error {
		return fmt.Errorf("memory: append message to conversation %q: "+format+": %w",
			append(append([]any{m.ConversationID}, args...), attendance.ErrInvalidArgument)...)
	}
	switch {
	case m.ConversationID == "":
		return bad("empty ConversationID")
	case m.ID == "":
		return bad("empty message ID")
	case m.Kind != attendance.KindText && m.Kind != attendance.KindAttachment && m.Kind != attendance.KindSystem:
		return bad("unknown Kind %q", m.Kind)
	case m.Sender.Role == "" || m.Sender.ID == "":
		return bad("empty Sender")
	case m.CreatedAt.IsZero():
		return bad("zero CreatedAt")
	case len(p.States) == 0:
		return bad("empty States")
	}
	for _, st := range p.States {
		if !st.Valid() {
			return bad("unknown state %q", st)
		}
	}
	return nil
}

// ListMessages returns a conversation's messages with Seq > AfterSeq in Seq
// order, at most Limit of them (0 means all). It returns ErrNotFound for an
// unknown conversation and ErrInvalidArgument for an empty ID or a negative
// AfterSeq or Limit.
func (s *Store) ListMessages(ctx context.Context, filter attendance.ListMessagesFilter) ([]attendance.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case filter.ConversationID == "":
		return nil, fmt.Errorf("memory: list messages: empty ConversationID: %w", attendance.ErrInvalidArgument)
	case filter.AfterSeq < 0:
		return nil, fmt.Errorf("memory: list messages of conversation %q: negative AfterSeq %d: %w",
			filter.ConversationID, filter.AfterSeq, attendance.ErrInvalidArgument)
	case filter.Limit < 0:
		return nil, fmt.Errorf("memory: list messages of conversation %q: negative Limit %d: %w",
			filter.ConversationID, filter.Limit, attendance.ErrInvalidArgument)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.convs[filter.ConversationID]
	if !ok {
		return nil, fmt.Errorf("memory: list messages of conversation %q: %w", filter.ConversationID, attendance.ErrNotFound)
	}
	// Seqs are 1..len(msgs) with no gaps, so Seq > AfterSeq starts at index AfterSeq.
	start := int(min(filter.AfterSeq, int64(len(c.msgs))))
	end := len(c.msgs)
	if filter.Limit > 0 && end-start > filter.Limit {
		end = start + filter.Limit
	}
	out := make([]attendance.Message, 0, end-start)
	for _, m := range c.msgs[start:end] {
		out = append(out, cloneMessage(m))
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
	switch {
	case params.ConversationID == "":
		return attendance.ReadMark{}, fmt.Errorf("memory: mark read: empty ConversationID: %w", attendance.ErrInvalidArgument)
	case params.Participant.Role == "" || params.Participant.ID == "":
		return attendance.ReadMark{}, fmt.Errorf("memory: mark read in conversation %q: empty Participant: %w",
			params.ConversationID, attendance.ErrInvalidArgument)
	case params.Seq < 0:
		return attendance.ReadMark{}, fmt.Errorf("memory: mark read in conversation %q: negative Seq %d: %w",
			params.ConversationID, params.Seq, attendance.ErrInvalidArgument)
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

func cloneMessage(m attendance.Message) attendance.Message {
	if m.Attachment != nil {
		att := *m.Attachment
		m.Attachment = &att
	}
	if m.Event != nil {
		ev := *m.Event
		m.Event = &ev
	}
	return m
}
