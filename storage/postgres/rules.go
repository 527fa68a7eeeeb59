package postgres

import (
	"fmt"
	"slices"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

// This file holds the checks of the Store contract that need no SQL: the
// validation of params and the decision of a Transition once the current
// rows are read. They run inside the write transaction, on rows no other
// writer can change until it commits.

func invalid(what, format string, args ...any) error {
	return fmt.Errorf("postgres: %s: %s: %w", what, fmt.Sprintf(format, args...), attendance.ErrInvalidArgument)
}

func validateAgent(p attendance.UpsertAgentParams) error {
	if p.ID == "" {
		return invalid("upsert agent", "empty ID")
	}
	if err := p.Profile.Validate(); err != nil {
		return fmt.Errorf("postgres: upsert agent %q: %w", p.ID, err)
	}
	return nil
}

func validatePresence(p attendance.SetPresenceParams) error {
	if p.AgentID == "" {
		return invalid("set presence", "empty agent ID")
	}
	if !p.Presence.Valid() {
		return invalid(fmt.Sprintf("set presence of agent %q", p.AgentID), "unknown presence %q", p.Presence)
	}
	return nil
}

func validateNewConversation(c attendance.Conversation, opened attendance.Message) error {
	what := fmt.Sprintf("create conversation %q", c.ID)
	switch {
	case c.ID == "":
		return invalid(what, "empty ID")
	case c.BeneficiaryID == "":
		return invalid(what, "empty BeneficiaryID")
	case c.QueueID == "":
		return invalid(what, "empty QueueID")
	case c.State != attendance.StateQueued:
		return invalid(what, "state is %q, want %q", c.State, attendance.StateQueued)
	case c.Version != 0:
		return invalid(what, "Version is %d, want 0", c.Version)
	case c.AgentID != "":
		return invalid(what, "a queued conversation has no AgentID, got %q", c.AgentID)
	case opened.ID == "":
		return invalid(what, "empty opened message ID")
	}
	return nil
}

func validateListConversations(f attendance.ListConversationsFilter) error {
	for _, st := range f.States {
		if !st.Valid() {
			return invalid("list conversations", "unknown state %q", st)
		}
	}
	if f.Limit < 0 {
		return invalid("list conversations", "negative Limit %d", f.Limit)
	}
	return nil
}

func validateTransition(p *attendance.TransitionParams) error {
	what := fmt.Sprintf("transition conversation %q", p.ConversationID)
	if p.ConversationID == "" {
		return invalid(what, "empty conversation ID")
	}
	if len(p.From) == 0 {
		return invalid(what, "empty From")
	}
	for _, st := range p.From {
		if !st.Valid() {
			return invalid(what, "unknown From state %q", st)
		}
	}
	if !p.To.Valid() {
		return invalid(what, "unknown To state %q", p.To)
	}
	if p.To.HoldsAgent() && p.AgentID == "" {
		return invalid(what, "empty AgentID for state %s", p.To)
	}
	if p.Message.ID == "" {
		return invalid(what, "empty message ID")
	}
	return nil
}

// transitionError prefixes a failed Transition's error.
func transitionError(p *attendance.TransitionParams, format string, args ...any) error {
	return fmt.Errorf("postgres: transition conversation %q to %s: "+format,
		append([]any{p.ConversationID, p.To}, args...)...)
}

// checkConversation applies the checks of TransitionParams that only need
// the conversation, in the contract's order.
func checkConversation(cur *attendance.Conversation, p *attendance.TransitionParams) error {
	if !slices.Contains(p.From, cur.State) {
		if cur.State.Terminal() {
			return transitionError(p, "%w", &attendance.TransitionError{From: cur.State, To: p.To})
		}
		return transitionError(p, "state is %s, want one of %v: %w", cur.State, p.From, attendance.ErrConflict)
	}
	if !attendance.CanTransition(cur.State, p.To) {
		return transitionError(p, "%w", &attendance.TransitionError{From: cur.State, To: p.To})
	}
	if p.ExpectAgentID != "" && cur.AgentID != p.ExpectAgentID {
		return transitionError(p, "agent is %q, want %q: %w", cur.AgentID, p.ExpectAgentID, attendance.ErrConflict)
	}
	if p.ExpectVersion != 0 && cur.Version != p.ExpectVersion {
		return transitionError(p, "version is %d, want %d: %w", cur.Version, p.ExpectVersion, attendance.ErrConflict)
	}
	// An offer without a deadline never expires.
	if !p.OfferValidAt.IsZero() && !cur.OfferDeadline.IsZero() && !cur.OfferDeadline.After(normTime(p.OfferValidAt)) {
		return transitionError(p, "deadline %s is not after %s: %w", cur.OfferDeadline.Format(time.RFC3339Nano),
			p.OfferValidAt.UTC().Format(time.RFC3339Nano), attendance.ErrOfferExpired)
	}
	if !p.OfferExpiredAt.IsZero() && !offerDue(cur, normTime(p.OfferExpiredAt)) {
		return transitionError(p, "offer is not due at %s: %w", p.OfferExpiredAt.UTC().Format(time.RFC3339Nano),
			attendance.ErrConflict)
	}
	return nil
}

// offerDue reports whether c is an offer whose deadline is at or before t.
func offerDue(c *attendance.Conversation, t time.Time) bool {
	return c.State == attendance.StateOffered && !c.OfferDeadline.IsZero() && !c.OfferDeadline.After(t)
}

// owners returns who holds the conversation before and after the move
// (empty when nobody does).
func owners(cur *attendance.Conversation, p *attendance.TransitionParams) (prev, next string) {
	if cur.State.HoldsAgent() {
		prev = cur.AgentID
	}
	if p.To.HoldsAgent() {
		next = p.AgentID
	}
	return prev, next
}

// checkTarget checks that agent a may take one more conversation.
func checkTarget(a *attendance.Agent, maxLoad int, p *attendance.TransitionParams) error {
	switch {
	case a.Presence != attendance.PresenceOnline:
		return transitionError(p, "agent %q is %s: %w", a.ID, a.Presence, attendance.ErrAgentUnavailable)
	case a.Load >= maxLoad:
		return transitionError(p, "agent %q has load %d of max %d: %w", a.ID, a.Load, maxLoad, attendance.ErrAgentAtCapacity)
	}
	return nil
}

// applyTransition returns the conversation and system message after the
// move; it changes no row.
func applyTransition(cur attendance.Conversation, p *attendance.TransitionParams) (attendance.Conversation, attendance.Message) {
	_, newOwner := owners(&cur, p)
	at := normTime(p.At)
	next := cur
	next.State = p.To
	next.AgentID = newOwner
	if newOwner != "" {
		next.LastAgentID = newOwner
	}
	if p.QueueID != "" {
		next.QueueID = p.QueueID
	}
	next.OfferDeadline = time.Time{}
	if p.To == attendance.StateOffered {
		next.OfferDeadline = normTime(p.OfferDeadline)
	}
	if p.TransferNote != "" {
		next.TransferNote = p.TransferNote
	}
	if p.FinalReason != "" {
		next.FinalReason = p.FinalReason
	}
	if p.FinalNote != "" {
		next.FinalNote = p.FinalNote
	}
	next.Version++
	next.LastSeq++
	next.UpdatedAt = at

	msg := normMessage(p.Message)
	msg.ConversationID = next.ID
	msg.Seq = next.LastSeq
	msg.Kind = attendance.KindSystem
	if msg.CreatedAt.IsZero() {
		msg.CreatedAt = at
	}
	if msg.Event != nil {
		msg.Event.From = cur.State
		msg.Event.To = p.To
	}
	return next, msg
}

func validateAppend(p *attendance.AppendMessageParams) error {
	m := &p.Message
	what := fmt.Sprintf("append message to conversation %q", m.ConversationID)
	switch {
	case m.ConversationID == "":
		return invalid(what, "empty ConversationID")
	case m.ID == "":
		return invalid(what, "empty message ID")
	case m.Kind != attendance.KindText && m.Kind != attendance.KindAttachment && m.Kind != attendance.KindSystem:
		return invalid(what, "unknown Kind %q", m.Kind)
	case m.Sender.Role == "" || m.Sender.ID == "":
		return invalid(what, "empty Sender")
	case m.CreatedAt.IsZero():
		return invalid(what, "zero CreatedAt")
	case len(p.States) == 0:
		return invalid(what, "empty States")
	}
	for _, st := range p.States {
		if !st.Valid() {
			return invalid(what, "unknown state %q", st)
		}
	}
	return nil
}

func validateListMessages(f attendance.ListMessagesFilter) error {
	switch {
	case f.ConversationID == "":
		return invalid("list messages", "empty ConversationID")
	case f.AfterSeq < 0:
		return invalid(fmt.Sprintf("list messages of conversation %q", f.ConversationID), "negative AfterSeq %d", f.AfterSeq)
	case f.Limit < 0:
		return invalid(fmt.Sprintf("list messages of conversation %q", f.ConversationID), "negative Limit %d", f.Limit)
	}
	return nil
}

func validateMarkRead(p attendance.MarkReadParams) error {
	what := fmt.Sprintf("mark read in conversation %q", p.ConversationID)
	switch {
	case p.ConversationID == "":
		return invalid("mark read", "empty ConversationID")
	case p.Participant.Role == "" || p.Participant.ID == "":
		return invalid(what, "empty Participant")
	case p.Seq < 0:
		return invalid(what, "negative Seq %d", p.Seq)
	}
	return nil
}
