package attendance

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// AgentParams register or update an agent.
type AgentParams struct {
	ID      string
	Name    string
	Profile Profile
}

// UpsertAgent registers an agent or updates their name and profile. It is a
// host (administration) call, not authorized per principal. Every queue the
// profile serves must be configured.
func (e *Engine) UpsertAgent(ctx context.Context, params AgentParams) (Agent, error) {
	if strings.TrimSpace(params.ID) == "" {
		return Agent{}, fmt.Errorf("%w: agent ID is empty", ErrInvalidArgument)
	}
	if err := params.Profile.Validate(); err != nil {
		return Agent{}, err
	}
	for _, q := range params.Profile.Queues {
		if _, ok := e.queues[q]; !ok {
			return Agent{}, fmt.Errorf("%w: profile serves unknown queue %q", ErrNotFound, q)
		}
	}
	a, err := e.store.UpsertAgent(ctx, UpsertAgentParams{ID: params.ID, Name: params.Name, Profile: params.Profile, At: e.cfg.Now()})
	if err != nil {
		return Agent{}, err
	}
	e.agentChanged(ctx, a.ID)
	return a, nil
}

// agentChanged re-reads an agent into the index (the value the caller holds
// may already be stale), routes and publishes.
func (e *Engine) agentChanged(ctx context.Context, id string) {
	notes := []Notification{{Kind: NotifyAgent, AgentIDs: []string{id}}}
	err := e.update(ctx, notes, func(ctx context.Context) error { return e.refreshAgent(ctx, id) })
	if err != nil {
		e.log.Warn("attendance: routing after an agent change failed", "agent", id, "err", err)
	}
}

// Agent returns an agent. Agents read themselves; supervisors read anyone.
func (e *Engine) Agent(ctx context.Context, p Principal, id string) (Agent, error) {
	if err := validPrincipal(p); err != nil {
		return Agent{}, err
	}
	if !(p.Role == RoleSupervisor || p.Role == RoleSystem || p.Role == RoleAgent && p.ID == id) {
		return Agent{}, fmt.Errorf("%w: %s %s may not read agent %s", ErrForbidden, p.Role, p.ID, id)
	}
	return e.store.GetAgent(ctx, id)
}

// SetPresence changes an agent's own presence. Going away or offline returns
// the agent's pending offers to their queues (at their original place), to
// be offered to someone else; active chats stay with the agent. Once the
// presence is written the call succeeds: what follows runs to its end even
// if ctx is cancelled, and its failures are logged (an offer not taken back
// then goes back to its queue at its deadline).
func (e *Engine) SetPresence(ctx context.Context, p Principal, presence Presence) (Agent, error) {
	if err := validPrincipal(p); err != nil {
		return Agent{}, err
	}
	if p.Role != RoleAgent && p.Role != RoleSupervisor {
		return Agent{}, fmt.Errorf("%w: only agents have presence", ErrForbidden)
	}
	if !presence.Valid() {
		return Agent{}, fmt.Errorf("%w: unknown presence %q", ErrInvalidArgument, presence)
	}
	now := e.cfg.Now()
	a, err := e.store.SetPresence(ctx, SetPresenceParams{AgentID: p.ID, Presence: presence, At: now})
	if err != nil {
		return Agent{}, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), postCommitTimeout)
	defer cancel()
	if presence != PresenceOnline {
		a = e.revokeOffers(ctx, a, now)
	}
	e.agentChanged(ctx, a.ID)
	return a, nil
}

// revokeOffers returns the pending offers of an agent who went away to
// their queues, and returns the agent as they are then. It runs after the
// presence was written, so it logs its failures rather than return them.
func (e *Engine) revokeOffers(ctx context.Context, a Agent, now time.Time) Agent {
	offers, err := e.store.ListConversations(ctx, ListConversationsFilter{AgentID: a.ID, States: []State{StateOffered}})
	if err != nil {
		e.log.Warn("attendance: list the offers of an agent going away", "agent", a.ID, "err", err)
		return a
	}
	for _, c := range offers {
		if _, err := e.releaseOffer(ctx, c, EventOfferRevoked, now); err != nil {
			e.log.Warn("attendance: take back an offer from an agent going away", "agent", a.ID, "conversation", c.ID, "err", err)
		}
	}
	cur, err := e.store.GetAgent(ctx, a.ID)
	if err != nil {
		e.log.Warn("attendance: re-read an agent going away", "agent", a.ID, "err", err)
		return a
	}
	return cur
}

// OpenParams open a conversation.
type OpenParams struct {
	SubjectID string
	// Channel is where the beneficiary writes from. Defaults to "app".
	Channel string
	// IdempotencyKey makes a retried Open return the conversation the first
	// call created instead of opening another. At most 128 bytes.
	IdempotencyKey string
}

// Open starts a conversation for a beneficiary on a subject; the subject
// decides the queue and the priority. It is offered at once if an agent has
// room. A beneficiary with Config.MaxOpenPerBeneficiary open conversations
// gets ErrLimit: the store counts them in the same atomic step as the
// insert, so concurrent Opens cannot pass the limit together, whatever the
// number of engines.
func (e *Engine) Open(ctx context.Context, p Principal, params OpenParams) (Conversation, error) {
	if err := validPrincipal(p); err != nil {
		return Conversation{}, err
	}
	if p.Role != RoleBeneficiary {
		return Conversation{}, fmt.Errorf("%w: only beneficiaries open conversations", ErrForbidden)
	}
	subj, ok := e.subject[params.SubjectID]
	if !ok {
		return Conversation{}, fmt.Errorf("%w: %q", ErrUnknownSubject, params.SubjectID)
	}
	if params.Channel == "" {
		params.Channel = "app"
	}
	if err := noNUL("channel or idempotency key", params.Channel, params.IdempotencyKey); err != nil {
		return Conversation{}, err
	}
	if len(params.Channel) > 64 || len(params.IdempotencyKey) > 128 {
		return Conversation{}, fmt.Errorf("%w: channel above 64 bytes or idempotency key above 128", ErrInvalidArgument)
	}
	c, created, err := e.create(ctx, p, subj, params)
	if err != nil {
		return Conversation{}, err
	}
	if !created {
		return ownOpen(p, c)
	}
	e.commit(ctx, Conversation{ID: c.ID}, c)
	return e.reread(ctx, c.ID)
}

// create stores Open's conversation, or returns the one an earlier Open
// with the same idempotency key stored (created false).
func (e *Engine) create(ctx context.Context, p Principal, subj Subject, params OpenParams) (c Conversation, created bool, err error) {
	id := e.cfg.NewID()
	if params.IdempotencyKey != "" {
		// The same beneficiary and key always name the same conversation, so
		// the store's unique ID turns a retry into a lookup.
		// The beneficiary's ID is length-prefixed: no other pair of ID and
		// key names the same conversation, whatever bytes they hold.
		id = uuid.NewSHA1(openNamespace, []byte(strconv.Itoa(len(p.ID))+":"+p.ID+params.IdempotencyKey)).String()
		if c, err := e.store.GetConversation(ctx, id); err == nil {
			return c, false, nil
		}
	}
	now := e.cfg.Now()
	c = Conversation{
		ID:            id,
		BeneficiaryID: p.ID,
		SubjectID:     subj.ID,
		QueueID:       subj.QueueID,
		Priority:      subj.Priority,
		Channel:       params.Channel,
		Protocol:      protocolNumber(now, id),
		State:         StateQueued,
		ArrivedAt:     now,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	opened := e.systemMessage(id, Event{Type: EventOpened, To: StateQueued, QueueID: subj.QueueID}, now)
	opened.Sender = p
	c, _, err = e.store.CreateConversation(ctx, CreateConversationParams{Conversation: c, Opened: opened, MaxOpen: e.cfg.MaxOpenPerBeneficiary})
	if errors.Is(err, ErrConflict) && params.IdempotencyKey != "" {
		// A concurrent retry (through another engine) created it first.
		c, err := e.reread(ctx, id)
		return c, false, err
	}
	if err != nil {
		return Conversation{}, false, err
	}
	return c, true, nil
}

// openNamespace scopes the conversation IDs derived from idempotency keys.
var openNamespace = uuid.MustParse("6f1c1b9e-52a4-4c1e-9d8e-2b7f0c3a9d41")

// protocolNumber is the human-facing attendance number: the date and the
// first characters of the ID.
func protocolNumber(now time.Time, id string) string {
	short := strings.ToUpper(strings.ReplaceAll(id, "-", ""))
	if len(short) > 8 {
		short = short[:8]
	}
	return now.UTC().Format("20060102") + "-" + short
}

// Accept takes an offer: the conversation goes to Em Atendimento. An offer
// past its deadline is ErrOfferExpired (and goes back to its queue); an
// offer to someone else is ErrForbidden.
func (e *Engine) Accept(ctx context.Context, p Principal, conversationID string) (Conversation, error) {
	c, err := e.ownedBy(ctx, p, conversationID, StateOffered)
	if err != nil {
		return Conversation{}, err
	}
	now := e.cfg.Now()
	after, err := e.apply(ctx, c, TransitionParams{
		From:          []State{StateOffered},
		ExpectAgentID: p.ID,
		OfferValidAt:  now,
		To:            StateActive,
		AgentID:       p.ID,
		At:            now,
	}, Event{Type: EventAccepted, AgentID: p.ID})
	if errors.Is(err, ErrOfferExpired) {
		if _, rerr := e.releaseOffer(ctx, c, EventOfferExpired, now); rerr != nil {
			e.log.Warn("attendance: expire offer after late accept", "conversation", c.ID, "err", rerr)
		}
	}
	return after, err
}

// Decline passes on an offer: the conversation goes back to its queue at its
// original place and is offered to another agent.
func (e *Engine) Decline(ctx context.Context, p Principal, conversationID string) (Conversation, error) {
	c, err := e.ownedBy(ctx, p, conversationID, StateOffered)
	if err != nil {
		return Conversation{}, err
	}
	return e.apply(ctx, c, TransitionParams{
		From:          []State{StateOffered},
		ExpectAgentID: p.ID,
		To:            StateQueued,
	}, Event{Type: EventDeclined, AgentID: p.ID, QueueID: c.QueueID})
}

// TransferParams hand an active conversation to a queue or an agent.
type TransferParams struct {
	ConversationID string
	// QueueID: the conversation waits in this queue, keeping its original
	// arrival time. Exactly one of QueueID and AgentID is set.
	QueueID string
	// AgentID: the conversation is offered to this agent, who must be online
	// with room (ErrAgentUnavailable, ErrAgentAtCapacity otherwise).
	AgentID string
	// Note travels with the conversation for the next agent.
	Note string
}

// Transfer hands an active conversation to another queue or agent.
func (e *Engine) Transfer(ctx context.Context, p Principal, params TransferParams) (Conversation, error) {
	if (params.QueueID == "") == (params.AgentID == "") {
		return Conversation{}, fmt.Errorf("%w: transfer needs exactly one of queue and agent", ErrInvalidArgument)
	}
	if err := noNUL("transfer", params.Note, params.QueueID, params.AgentID); err != nil {
		return Conversation{}, err
	}
	if len(params.Note) > e.cfg.MaxNoteBytes {
		return Conversation{}, fmt.Errorf("%w: transfer note above %d bytes", ErrInvalidArgument, e.cfg.MaxNoteBytes)
	}
	c, err := e.ownedBy(ctx, p, params.ConversationID, StateActive)
	if err != nil {
		return Conversation{}, err
	}
	now := e.cfg.Now()
	tp := TransitionParams{
		From:          []State{StateActive},
		ExpectAgentID: p.ID,
		TransferNote:  params.Note,
		At:            now,
	}
	ev := Event{Type: EventTransferred, Note: params.Note}
	if params.QueueID != "" {
		if _, ok := e.queues[params.QueueID]; !ok {
			return Conversation{}, fmt.Errorf("%w: queue %q", ErrNotFound, params.QueueID)
		}
		tp.To, tp.QueueID, ev.QueueID = StateQueued, params.QueueID, params.QueueID
	} else {
		if params.AgentID == p.ID {
			return Conversation{}, fmt.Errorf("%w: cannot transfer to oneself", ErrInvalidArgument)
		}
		target, err := e.store.GetAgent(ctx, params.AgentID)
		if err != nil {
			return Conversation{}, err
		}
		tp.To, tp.AgentID, tp.OfferDeadline = StateOffered, target.ID, now.Add(e.offerTimeout(target))
		ev.AgentID = target.ID
	}
	return e.apply(ctx, c, tp, ev)
}

// FinalizeParams close a conversation.
type FinalizeParams struct {
	ConversationID string
	// Reason is one of Config.FinalizeReasons (ErrUnknownReason otherwise).
	Reason string
	// Note is optional.
	Note string
}

// Finalize closes an active conversation with a configured reason.
func (e *Engine) Finalize(ctx context.Context, p Principal, params FinalizeParams) (Conversation, error) {
	if _, ok := e.reasons[params.Reason]; !ok {
		return Conversation{}, fmt.Errorf("%w: %q", ErrUnknownReason, params.Reason)
	}
	if err := noNUL("finalize note or reason", params.Note, params.Reason); err != nil {
		return Conversation{}, err
	}
	if len(params.Note) > e.cfg.MaxNoteBytes {
		return Conversation{}, fmt.Errorf("%w: finalize note above %d bytes", ErrInvalidArgument, e.cfg.MaxNoteBytes)
	}
	c, err := e.ownedBy(ctx, p, params.ConversationID, StateActive)
	if err != nil {
		return Conversation{}, err
	}
	now := e.cfg.Now()
	after, err := e.apply(ctx, c, TransitionParams{
		From:          []State{StateActive},
		ExpectAgentID: p.ID,
		To:            StateFinalized,
		FinalReason:   params.Reason,
		FinalNote:     params.Note,
		At:            now,
	}, Event{Type: EventFinalized, AgentID: p.ID, Reason: params.Reason, Note: params.Note})
	if err == nil {
		e.observeHandleTime(c, now)
	}
	return after, err
}

// Leave is the beneficiary giving up: a queued or offered conversation
// becomes abandoned. Leaving an active conversation is ErrInvalidTransition
// (the agent finalizes it).
func (e *Engine) Leave(ctx context.Context, p Principal, conversationID string) (Conversation, error) {
	c, err := e.conversationFor(ctx, p, conversationID, true)
	if err != nil {
		return Conversation{}, err
	}
	if p.Role != RoleBeneficiary {
		return Conversation{}, fmt.Errorf("%w: only the beneficiary leaves", ErrForbidden)
	}
	if err := checkTransition(c.State, StateAbandoned); err != nil {
		return Conversation{}, err
	}
	after, err := e.apply(ctx, c, TransitionParams{
		From: []State{StateQueued, StateOffered},
		To:   StateAbandoned,
	}, Event{Type: EventAbandoned})
	return redactConversation(p, after), err
}

// reread returns a conversation as it is after a write the caller made. The
// write has happened, so a caller cancelled meanwhile still gets its result.
// ownOpen returns the conversation an Open retry found, redacted for p,
// after checking that it is p's (a different beneficiary's would mean the
// IDs collided: refused rather than shown).
func ownOpen(p Principal, c Conversation) (Conversation, error) {
	if c.BeneficiaryID != p.ID {
		return Conversation{}, fmt.Errorf("%w: idempotency key in use", ErrConflict)
	}
	return redactConversation(p, c), nil
}

func (e *Engine) reread(ctx context.Context, id string) (Conversation, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), postCommitTimeout)
	defer cancel()
	return e.store.GetConversation(ctx, id)
}

// apply moves c with one conditional transition (tp's conversation, time
// and system message are filled in here, the message recording ev), commits
// it and returns the conversation as it is then.
func (e *Engine) apply(ctx context.Context, c Conversation, tp TransitionParams, ev Event) (Conversation, error) {
	tp.ConversationID = c.ID
	if tp.At.IsZero() {
		tp.At = e.cfg.Now()
	}
	ev.From, ev.To = c.State, tp.To
	tp.Message = e.systemMessage(c.ID, ev, tp.At)
	after, _, err := e.store.Transition(ctx, tp)
	if err != nil {
		return Conversation{}, err
	}
	e.commit(ctx, c, after)
	return e.reread(ctx, c.ID)
}
