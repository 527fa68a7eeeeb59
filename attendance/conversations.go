package attendance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// conversationFor reads a conversation and checks that p may read it (or,
// when write is true, act on it): a beneficiary on their own; an agent on
// one offered or assigned to them; a supervisor reads all and acts like an
// agent; the system on all.
func (e *Engine) conversationFor(ctx context.Context, p Principal, id string, write bool) (Conversation, error) {
	if err := validPrincipal(p); err != nil {
		return Conversation{}, err
	}
	if strings.TrimSpace(id) == "" {
		return Conversation{}, fmt.Errorf("%w: conversation ID is empty", ErrInvalidArgument)
	}
	c, err := e.store.GetConversation(ctx, id)
	if err != nil {
		return Conversation{}, err
	}
	switch p.Role {
	case RoleSystem:
		return c, nil
	case RoleBeneficiary:
		if c.BeneficiaryID == p.ID {
			return c, nil
		}
	case RoleSupervisor:
		if !write || c.AgentID == p.ID && c.State.HoldsAgent() {
			return c, nil
		}
	case RoleAgent:
		if c.AgentID == p.ID && c.State.HoldsAgent() {
			return c, nil
		}
		if write && c.State.Terminal() && c.LastAgentID == p.ID {
			// Their own conversation, closed: say so rather than forbid.
			return Conversation{}, &TransitionError{From: c.State, To: c.State}
		}
	}
	return Conversation{}, fmt.Errorf("%w: %s %s on conversation %s", ErrForbidden, p.Role, p.ID, id)
}

// ownedBy is conversationFor for an agent's action that needs the
// conversation in state want.
func (e *Engine) ownedBy(ctx context.Context, p Principal, id string, want State) (Conversation, error) {
	if p.Role != RoleAgent && p.Role != RoleSupervisor {
		return Conversation{}, fmt.Errorf("%w: only agents act on offers and chats", ErrForbidden)
	}
	c, err := e.conversationFor(ctx, p, id, true)
	if err != nil {
		return Conversation{}, err
	}
	if c.State != want {
		if c.State.Terminal() {
			return Conversation{}, &TransitionError{From: c.State, To: want}
		}
		return Conversation{}, fmt.Errorf("%w: conversation %s is %s, not %s", ErrConflict, id, c.State, want)
	}
	return c, nil
}

// AuthorizeView returns the conversation if p may read it: its beneficiary,
// the agent it is offered or assigned to, a supervisor. Otherwise
// ErrForbidden. Widgets and data providers check every fetch with it. The
// conversation is not redacted: show a beneficiary Conversation's result
// instead, which hides the agents' internal notes.
func (e *Engine) AuthorizeView(ctx context.Context, p Principal, conversationID string) (Conversation, error) {
	return e.conversationFor(ctx, p, conversationID, false)
}

// Conversation returns one conversation p may read. Beneficiaries do not
// see the agents' internal notes (transfer and finalize notes).
func (e *Engine) Conversation(ctx context.Context, p Principal, id string) (Conversation, error) {
	c, err := e.conversationFor(ctx, p, id, false)
	return redactConversation(p, c), err
}

// redactConversation hides the agents' internal notes from a beneficiary.
func redactConversation(p Principal, c Conversation) Conversation {
	if p.Role == RoleBeneficiary {
		c.TransferNote, c.FinalNote = "", ""
	}
	return c
}

// redactMessages hides the notes of transfer and finalize events from a
// beneficiary. It copies only what it changes.
func redactMessages(p Principal, ms []Message) []Message {
	if p.Role != RoleBeneficiary {
		return ms
	}
	for i := range ms {
		if ev := ms[i].Event; ev != nil && ev.Note != "" {
			redacted := *ev
			redacted.Note = ""
			ms[i].Event = &redacted
		}
	}
	return ms
}

// ConversationsFilter selects conversations for Conversations.
type ConversationsFilter struct {
	// States narrows the result; empty means all.
	States []State
	// BeneficiaryID: a supervisor may read anyone's; others are held to
	// their own.
	BeneficiaryID string
	// Limit caps the result; 0 means no cap.
	Limit int
}

// Conversations lists what p may see: a beneficiary's own conversations, an
// agent's offered and active ones (their Mini Fila and Em Atendimento), or,
// for a supervisor, any.
func (e *Engine) Conversations(ctx context.Context, p Principal, f ConversationsFilter) ([]Conversation, error) {
	if err := validPrincipal(p); err != nil {
		return nil, err
	}
	lf := ListConversationsFilter{States: f.States, Limit: f.Limit}
	switch p.Role {
	case RoleBeneficiary:
		lf.BeneficiaryID = p.ID
	case RoleAgent:
		lf.AgentID = p.ID
		if len(lf.States) == 0 {
			lf.States = []State{StateOffered, StateActive}
		}
	case RoleSupervisor, RoleSystem:
		lf.BeneficiaryID = f.BeneficiaryID
	}
	for _, s := range lf.States {
		if !s.Valid() {
			return nil, fmt.Errorf("%w: unknown state %q", ErrInvalidArgument, s)
		}
	}
	cs, err := e.store.ListConversations(ctx, lf)
	for i := range cs {
		cs[i] = redactConversation(p, cs[i])
	}
	return cs, err
}

// SendParams send a message.
type SendParams struct {
	ConversationID string
	// Body is the text; required unless Attachment is set. At most
	// Config.MaxMessageBytes bytes of valid UTF-8.
	Body string
	// Attachment is a file already stored in a blob store (see transport).
	Attachment *Attachment
	// IdempotencyKey makes a retried send return the first result instead of
	// a duplicate. Recommended; at most 128 bytes.
	IdempotencyKey string
}

// Send appends a message from p: the beneficiary while the conversation is
// open, the agent while it is active with them. It returns the stored
// message, the first one when IdempotencyKey repeats, also to an agent the
// conversation has left since (transferred or finalized): a client that
// retries a send after a reconnection gets its message, not a refusal.
func (e *Engine) Send(ctx context.Context, p Principal, params SendParams) (Message, error) {
	if p.Role == RoleSystem {
		return Message{}, fmt.Errorf("%w: the system principal does not send messages", ErrForbidden)
	}
	if err := e.checkBody(params); err != nil {
		return Message{}, err
	}
	if err := validPrincipal(p); err != nil {
		return Message{}, err
	}
	if strings.TrimSpace(params.ConversationID) == "" {
		return Message{}, fmt.Errorf("%w: conversation ID is empty", ErrInvalidArgument)
	}
	// The store checks the sender in the same atomic step as the append
	// (the beneficiary's own conversation; the agent's, active), so a send
	// costs one store call; conversationFor runs only to explain a refusal.
	ap := AppendMessageParams{States: agentSendStates, AgentID: p.ID}
	if p.Role == RoleBeneficiary {
		ap = AppendMessageParams{States: beneficiarySendStates, BeneficiaryID: p.ID}
	}
	kind := KindText
	if params.Attachment != nil {
		kind = KindAttachment
	}
	ap.Message = Message{
		ID:             e.cfg.NewID(),
		ConversationID: params.ConversationID,
		Kind:           kind,
		Sender:         p,
		Body:           params.Body,
		Attachment:     params.Attachment,
		IdempotencyKey: params.IdempotencyKey,
		CreatedAt:      e.cfg.Now(),
	}
	m, c, created, err := e.store.AppendMessage(ctx, ap)
	if err != nil {
		if errors.Is(err, ErrForbidden) || errors.Is(err, ErrInvalidTransition) {
			// Say why as the engine does for every action: a stranger is
			// forbidden, an agent's own closed chat is a TransitionError.
			if _, refused := e.AuthorizeSend(ctx, p, params.ConversationID); refused != nil {
				return Message{}, refused
			}
		}
		return Message{}, err // anything else (a cancelled ctx, a store down) as it is
	}
	if created {
		e.publish(ctx, Notification{
			Kind:           NotifyConversation,
			ConversationID: c.ID,
			BeneficiaryID:  c.BeneficiaryID,
			QueueID:        c.QueueID,
			Seq:            m.Seq,
			AgentIDs:       nonEmpty(c.AgentID),
		})
	}
	return m, nil
}

// AuthorizeSend returns the conversation if p may send in it now, by the
// rule Send applies: its beneficiary while it is queued, offered or active,
// or the agent (or supervisor) it is assigned to while it is active.
// Otherwise ErrForbidden, or an error matching ErrInvalidTransition (a
// *TransitionError for a conversation p took part in that is closed).
// The transport checks uploads with it, before the send that uses them.
func (e *Engine) AuthorizeSend(ctx context.Context, p Principal, conversationID string) (Conversation, error) {
	if p.Role == RoleSystem {
		return Conversation{}, fmt.Errorf("%w: the system principal does not send messages", ErrForbidden)
	}
	c, err := e.conversationFor(ctx, p, conversationID, true)
	if err != nil {
		return Conversation{}, err
	}
	states := agentSendStates
	if p.Role == RoleBeneficiary {
		states = beneficiarySendStates
	}
	switch {
	case slices.Contains(states, c.State):
		return c, nil
	case c.State.Terminal():
		return Conversation{}, &TransitionError{From: c.State, To: c.State}
	}
	return Conversation{}, fmt.Errorf("%w: conversation %s is %s; its agent sends only while it is active", ErrInvalidTransition, c.ID, c.State)
}

// The states a conversation accepts messages in, by sender (shared and
// never modified: stores only read AppendMessageParams.States).
var (
	agentSendStates       = []State{StateActive}
	beneficiarySendStates = []State{StateQueued, StateOffered, StateActive}
)

func nonEmpty(ids ...string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

func (e *Engine) checkBody(params SendParams) error {
	if params.Attachment == nil && strings.TrimSpace(params.Body) == "" {
		return ErrEmptyMessage
	}
	if len(params.Body) > e.cfg.MaxMessageBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, len(params.Body), e.cfg.MaxMessageBytes)
	}
	if !utf8.ValidString(params.Body) {
		return fmt.Errorf("%w: message body is not valid UTF-8", ErrInvalidArgument)
	}
	if err := noNUL("message body or idempotency key", params.Body, params.IdempotencyKey); err != nil {
		return err
	}
	if len(params.IdempotencyKey) > 128 {
		return fmt.Errorf("%w: idempotency key above 128 bytes", ErrInvalidArgument)
	}
	if a := params.Attachment; a != nil {
		if a.BlobID == "" || a.Size < 0 {
			return fmt.Errorf("%w: attachment without blob ID", ErrInvalidArgument)
		}
		if err := noNUL("attachment", a.BlobID, a.Name, a.ContentType, a.SHA256); err != nil {
			return err
		}
	}
	return nil
}

// Messages returns the messages of a conversation p may read with Seq above
// afterSeq, in order, at most limit (0: all). A client that reconnects passes
// the last Seq it saw and receives everything after it.
func (e *Engine) Messages(ctx context.Context, p Principal, conversationID string, afterSeq int64, limit int) ([]Message, error) {
	if afterSeq < 0 || limit < 0 {
		return nil, fmt.Errorf("%w: negative sequence or limit", ErrInvalidArgument)
	}
	c, err := e.conversationFor(ctx, p, conversationID, false)
	if err != nil {
		return nil, err
	}
	if afterSeq > c.LastSeq {
		return nil, fmt.Errorf("%w: sequence %d is beyond the conversation's last (%d)", ErrInvalidArgument, afterSeq, c.LastSeq)
	}
	ms, err := e.store.ListMessages(ctx, ListMessagesFilter{ConversationID: c.ID, AfterSeq: afterSeq, Limit: limit})
	// Only what existed while p's access was checked: the conversation
	// may have left p (a transfer) and gained messages since.
	for i, m := range ms {
		if m.Seq > c.LastSeq {
			ms = ms[:i]
			break
		}
	}
	return redactMessages(p, ms), err
}

// Typing announces that p started (active) or stopped typing in a
// conversation, to the subscribers of every engine on the bus (a
// NotifyTyping notification); nothing is stored. p must take part in the
// conversation (a supervisor who only watches it is ErrForbidden), which
// must not be finalized or abandoned.
func (e *Engine) Typing(ctx context.Context, p Principal, conversationID string, active bool) error {
	if p.Role == RoleSystem {
		return fmt.Errorf("%w: the system principal does not type", ErrForbidden)
	}
	c, err := e.participantFor(ctx, p, conversationID)
	if err != nil {
		return err
	}
	if c.State.Terminal() {
		return &TransitionError{From: c.State, To: c.State}
	}
	e.publish(ctx, Notification{
		Kind:           NotifyTyping,
		ConversationID: c.ID,
		BeneficiaryID:  c.BeneficiaryID,
		AgentIDs:       nonEmpty(c.AgentID),
		Typing:         &Typing{From: p, Active: active},
	})
	return nil
}

// participantFor is conversationFor for what only a conversation's
// participants do (typing indicators, read marks): its beneficiary, or the
// agent or supervisor it is offered or assigned to. A supervisor who only
// watches is forbidden, so that watching stays silent.
func (e *Engine) participantFor(ctx context.Context, p Principal, id string) (Conversation, error) {
	c, err := e.conversationFor(ctx, p, id, false)
	if err != nil {
		return Conversation{}, err
	}
	if p.Role == RoleSupervisor && !(c.AgentID == p.ID && c.State.HoldsAgent()) {
		return Conversation{}, fmt.Errorf("%w: supervisor %s watches conversation %s without taking part: no typing indicators or read marks", ErrForbidden, p.ID, id)
	}
	return c, nil
}

// MarkRead records that p, a participant, has read a conversation up to
// seq (read receipts); a supervisor who only watches it is ErrForbidden.
func (e *Engine) MarkRead(ctx context.Context, p Principal, conversationID string, seq int64) (ReadMark, error) {
	c, err := e.participantFor(ctx, p, conversationID)
	if err != nil {
		return ReadMark{}, err
	}
	m, err := e.store.MarkRead(ctx, MarkReadParams{ConversationID: c.ID, Participant: p, Seq: seq, At: e.cfg.Now()})
	if err != nil {
		return ReadMark{}, err
	}
	e.publish(ctx, Notification{Kind: NotifyConversation, ConversationID: c.ID, BeneficiaryID: c.BeneficiaryID, QueueID: c.QueueID, Seq: c.LastSeq, AgentIDs: nonEmpty(c.AgentID), Reads: true})
	return m, nil
}

// ReadMarks returns the read marks of a conversation p may read.
func (e *Engine) ReadMarks(ctx context.Context, p Principal, conversationID string) ([]ReadMark, error) {
	c, err := e.conversationFor(ctx, p, conversationID, false)
	if err != nil {
		return nil, err
	}
	return e.store.ReadMarks(ctx, c.ID)
}

// QueueStatus is a waiting conversation's place in line.
type QueueStatus struct {
	QueueID string `json:"queue_id"`
	// Position is 1 for the next to be served; 0 when not waiting.
	Position int `json:"position"`
	// Waiting is how many conversations wait in the queue.
	Waiting int `json:"waiting"`
	// EstimatedWait is a rough guess: the conversations ahead, divided by
	// the online agents' places in the queue, times the queue's average
	// service time.
	EstimatedWait time.Duration `json:"estimated_wait"`
}

// QueueStatus returns the position and estimated wait of a conversation p
// may read. A conversation that no longer waits has Position 0.
func (e *Engine) QueueStatus(ctx context.Context, p Principal, conversationID string) (QueueStatus, error) {
	c, err := e.conversationFor(ctx, p, conversationID, false)
	if err != nil {
		return QueueStatus{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.ensureLoaded(ctx); err != nil {
		return QueueStatus{}, err
	}
	st := QueueStatus{QueueID: c.QueueID, Waiting: e.router.Waiting(c.QueueID)}
	if c.State != StateQueued {
		return st, nil
	}
	qid, rank, ok := e.router.Position(c.ID)
	if !ok || qid != c.QueueID {
		return st, nil
	}
	st.Position = rank
	slots := e.router.OnlineSlots(qid)
	handle := e.handle[qid]
	if handle == 0 {
		handle = e.cfg.DefaultHandleTime
	}
	rounds := rank
	if slots > 0 {
		rounds = (rank + slots - 1) / slots
	}
	st.EstimatedWait = time.Duration(rounds) * handle
	return st, nil
}

// observeHandleTime folds a finished service into the queue's average
// (an exponentially weighted moving average, weight 1/8).
func (e *Engine) observeHandleTime(c Conversation, end time.Time) {
	d := end.Sub(c.UpdatedAt)
	if d <= 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.handle[c.QueueID]
	if old == 0 {
		old = e.cfg.DefaultHandleTime
	}
	e.handle[c.QueueID] = old + (d-old)/8
}
