package memdata

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets"
	"github.com/mosiachat/mosiachat/widgets/beneficiary"
)

// Conversations is an in-memory set of conversations and their messages.
// The zero value is an empty set, ready to use.
type Conversations struct {
	mu    sync.RWMutex
	convs map[string]attendance.Conversation
	msgs  map[string][]attendance.Message
}

var (
	_ widgets.Access                 = (*Conversations)(nil)
	_ beneficiary.ConversationLister = (*Conversations)(nil)
)

// NewConversations returns an empty set.
func NewConversations() *Conversations {
	return &Conversations{convs: make(map[string]attendance.Conversation), msgs: make(map[string][]attendance.Message)}
}

// Put stores or replaces a conversation and appends msgs to its log,
// numbering them from its last sequence number (their ConversationID and
// Seq are set here). The conversation's LastSeq is updated.
func (c *Conversations) Put(conv attendance.Conversation, msgs ...attendance.Message) error {
	if conv.ID == "" {
		return fmt.Errorf("%w: memdata: conversation without ID", attendance.ErrInvalidArgument)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.convs == nil {
		c.convs = make(map[string]attendance.Conversation)
		c.msgs = make(map[string][]attendance.Message)
	}
	log := c.msgs[conv.ID]
	for _, m := range msgs {
		m.ConversationID = conv.ID
		m.Seq = int64(len(log)) + 1
		log = append(log, m)
	}
	c.msgs[conv.ID] = log
	conv.LastSeq = int64(len(log))
	c.convs[conv.ID] = conv
	return nil
}

// AuthorizeView returns the conversation if p is its beneficiary, the agent
// it is offered or assigned to (state offered or active), or a supervisor;
// attendance.ErrForbidden otherwise and attendance.ErrNotFound for an
// unknown ID. This is the rule the engine's AuthorizeView follows.
func (c *Conversations) AuthorizeView(ctx context.Context, p attendance.Principal, conversationID string) (attendance.Conversation, error) {
	if err := ctx.Err(); err != nil {
		return attendance.Conversation{}, err
	}
	c.mu.RLock()
	conv, ok := c.convs[conversationID]
	c.mu.RUnlock()
	if !ok {
		return attendance.Conversation{}, fmt.Errorf("memdata: conversation %q: %w", conversationID, attendance.ErrNotFound)
	}
	switch {
	case p.ID == "":
	case p.Role == attendance.RoleSupervisor:
		return conv, nil
	case p.Role == attendance.RoleBeneficiary && p.ID == conv.BeneficiaryID:
		return conv, nil
	case p.Role == attendance.RoleAgent && p.ID == conv.AgentID && conv.State.HoldsAgent():
		return conv, nil
	}
	return attendance.Conversation{}, fmt.Errorf("memdata: %s %q on conversation %q: %w", p.Role, p.ID, conversationID, attendance.ErrForbidden)
}

// ListConversations returns the conversations matching the filter, ordered
// like attendance.Store: priority (higher first), then ArrivedAt, then ID.
func (c *Conversations) ListConversations(ctx context.Context, f attendance.ListConversationsFilter) ([]attendance.Conversation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []attendance.Conversation
	for _, conv := range c.convs {
		switch {
		case len(f.States) > 0 && !slices.Contains(f.States, conv.State),
			f.QueueID != "" && conv.QueueID != f.QueueID,
			f.AgentID != "" && conv.AgentID != f.AgentID,
			f.BeneficiaryID != "" && conv.BeneficiaryID != f.BeneficiaryID,
			!f.OfferExpiredAt.IsZero() && (conv.State != attendance.StateOffered || conv.OfferDeadline.After(f.OfferExpiredAt)):
			continue
		}
		out = append(out, conv)
	}
	slices.SortFunc(out, func(a, b attendance.Conversation) int {
		if a.Priority != b.Priority {
			return cmp.Compare(b.Priority, a.Priority)
		}
		if c := a.ArrivedAt.Compare(b.ArrivedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// ListMessages returns a conversation's messages after AfterSeq, at most
// Limit (0: all). An unknown conversation is attendance.ErrNotFound.
func (c *Conversations) ListMessages(ctx context.Context, f attendance.ListMessagesFilter) ([]attendance.Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if _, ok := c.convs[f.ConversationID]; !ok {
		return nil, fmt.Errorf("memdata: conversation %q: %w", f.ConversationID, attendance.ErrNotFound)
	}
	var out []attendance.Message
	for _, m := range c.msgs[f.ConversationID] {
		if m.Seq <= f.AfterSeq {
			continue
		}
		out = append(out, m)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// Directory is an in-memory beneficiary.Directory. The zero value is ready
// to use.
type Directory struct {
	mu   sync.RWMutex
	byID map[string]beneficiary.Beneficiary
}

var _ beneficiary.Directory = (*Directory)(nil)

// NewDirectory returns a directory holding bs.
func NewDirectory(bs ...beneficiary.Beneficiary) *Directory {
	d := &Directory{byID: make(map[string]beneficiary.Beneficiary)}
	for _, b := range bs {
		d.Put(b)
	}
	return d
}

// Put stores or replaces a beneficiary.
func (d *Directory) Put(b beneficiary.Beneficiary) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byID == nil { // the zero Directory is ready to use
		d.byID = make(map[string]beneficiary.Beneficiary)
	}
	d.byID[b.ID] = b
}

// Beneficiary returns one beneficiary or attendance.ErrNotFound.
func (d *Directory) Beneficiary(ctx context.Context, id string) (beneficiary.Beneficiary, error) {
	if err := ctx.Err(); err != nil {
		return beneficiary.Beneficiary{}, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	b, ok := d.byID[id]
	if !ok {
		return beneficiary.Beneficiary{}, fmt.Errorf("memdata: beneficiary %q: %w", id, attendance.ErrNotFound)
	}
	return b, nil
}

// Occurrences is an in-memory beneficiary.Occurrences. Its status rule: any
// change to a different status, except that a closed occurrence (resolved
// or canceled) may only be reopened (to open). The zero value is ready to
// use.
type Occurrences struct {
	mu   sync.Mutex
	byID map[string]beneficiary.Occurrence
}

var _ beneficiary.Occurrences = (*Occurrences)(nil)

// NewOccurrences returns a store holding list.
func NewOccurrences(list ...beneficiary.Occurrence) *Occurrences {
	o := &Occurrences{byID: make(map[string]beneficiary.Occurrence)}
	for _, oc := range list {
		o.Put(oc)
	}
	return o
}

// Put stores or replaces an occurrence.
func (o *Occurrences) Put(oc beneficiary.Occurrence) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.byID == nil { // the zero Occurrences is ready to use
		o.byID = make(map[string]beneficiary.Occurrence)
	}
	o.byID[oc.ID] = cloneOccurrence(oc)
}

func cloneOccurrence(oc beneficiary.Occurrence) beneficiary.Occurrence {
	oc.Comments = slices.Clone(oc.Comments)
	oc.History = slices.Clone(oc.History)
	return oc
}

// ListOccurrences returns a beneficiary's occurrences, newest first.
func (o *Occurrences) ListOccurrences(ctx context.Context, f beneficiary.ListOccurrencesFilter) ([]beneficiary.Occurrence, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.BeneficiaryID == "" {
		return nil, fmt.Errorf("%w: memdata: ListOccurrencesFilter.BeneficiaryID is empty", attendance.ErrInvalidArgument)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []beneficiary.Occurrence
	for _, oc := range o.byID {
		if oc.BeneficiaryID != f.BeneficiaryID || (len(f.Statuses) > 0 && !slices.Contains(f.Statuses, oc.Status)) {
			continue
		}
		out = append(out, cloneOccurrence(oc))
	}
	slices.SortFunc(out, func(a, b beneficiary.Occurrence) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	return out, nil
}

// GetOccurrence returns one occurrence or attendance.ErrNotFound.
func (o *Occurrences) GetOccurrence(ctx context.Context, id string) (beneficiary.Occurrence, error) {
	if err := ctx.Err(); err != nil {
		return beneficiary.Occurrence{}, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	oc, ok := o.byID[id]
	if !ok {
		return beneficiary.Occurrence{}, fmt.Errorf("memdata: occurrence %q: %w", id, attendance.ErrNotFound)
	}
	return cloneOccurrence(oc), nil
}

// AddComment appends a comment with a new random ID.
func (o *Occurrences) AddComment(ctx context.Context, p beneficiary.AddCommentParams) (beneficiary.Occurrence, error) {
	if err := ctx.Err(); err != nil {
		return beneficiary.Occurrence{}, err
	}
	if p.Text == "" || p.At.IsZero() {
		return beneficiary.Occurrence{}, fmt.Errorf("%w: memdata: a comment needs Text and At", attendance.ErrInvalidArgument)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	oc, ok := o.byID[p.OccurrenceID]
	if !ok {
		return beneficiary.Occurrence{}, fmt.Errorf("memdata: occurrence %q: %w", p.OccurrenceID, attendance.ErrNotFound)
	}
	oc = cloneOccurrence(oc)
	oc.Comments = append(oc.Comments, beneficiary.Comment{ID: uuid.NewString(), Author: p.Author, Text: p.Text, At: p.At})
	oc.UpdatedAt = p.At
	o.byID[oc.ID] = oc
	return cloneOccurrence(oc), nil
}

// SetStatus changes the status under the rule in the type's comment.
func (o *Occurrences) SetStatus(ctx context.Context, p beneficiary.SetStatusParams) (beneficiary.Occurrence, error) {
	if err := ctx.Err(); err != nil {
		return beneficiary.Occurrence{}, err
	}
	if !p.To.Valid() || p.At.IsZero() {
		return beneficiary.Occurrence{}, fmt.Errorf("%w: memdata: SetStatus needs a valid To and At", attendance.ErrInvalidArgument)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	oc, ok := o.byID[p.OccurrenceID]
	if !ok {
		return beneficiary.Occurrence{}, fmt.Errorf("memdata: occurrence %q: %w", p.OccurrenceID, attendance.ErrNotFound)
	}
	switch {
	case p.From != "" && p.From != oc.Status:
		return beneficiary.Occurrence{}, fmt.Errorf("memdata: occurrence %q is %s, not %s: %w", oc.ID, oc.Status, p.From, attendance.ErrConflict)
	case p.To == oc.Status,
		oc.Status.Closed() && p.To != beneficiary.StatusOpen:
		return beneficiary.Occurrence{}, fmt.Errorf("memdata: occurrence %q from %s to %s: %w", oc.ID, oc.Status, p.To, attendance.ErrInvalidTransition)
	}
	oc = cloneOccurrence(oc)
	oc.History = append(oc.History, beneficiary.StatusChange{From: oc.Status, To: p.To, Author: p.Author, Note: p.Note, At: p.At})
	oc.Status = p.To
	oc.UpdatedAt = p.At
	o.byID[oc.ID] = oc
	return cloneOccurrence(oc), nil
}

// Events is an in-memory beneficiary.EventLister.
type Events struct {
	mu     sync.RWMutex
	events []beneficiary.Event
}

var _ beneficiary.EventLister = (*Events)(nil)

// NewEvents returns a list holding evs.
func NewEvents(evs ...beneficiary.Event) *Events {
	return &Events{events: slices.Clone(evs)}
}

// Add appends an event.
func (e *Events) Add(ev beneficiary.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, ev)
}

// ListEvents returns a beneficiary's events in the order they were added.
func (e *Events) ListEvents(ctx context.Context, beneficiaryID string) ([]beneficiary.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []beneficiary.Event
	for _, ev := range e.events {
		if ev.BeneficiaryID == beneficiaryID {
			out = append(out, ev)
		}
	}
	return out, nil
}

// systemMessage builds a system message recording ev at at.
func systemMessage(at time.Time, ev attendance.Event) attendance.Message {
	e := ev
	return attendance.Message{
		ID: uuid.NewString(), Kind: attendance.KindSystem, Sender: attendance.SystemPrincipal,
		Event: &e, CreatedAt: at,
	}
}
