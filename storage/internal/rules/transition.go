package rules

import (
	"fmt"
	"slices"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

// A Transition is decided, once the current rows are read, by Conversation
// (the checks that need only the conversation), Owners and Target (the new
// owner's checks), and made by Apply. None of them changes a row; a SQL
// store runs them inside its write transaction, on rows no other writer can
// change until it commits.
//
// Their norm argument is how the store keeps times: NormTime for a store
// that keeps them in UTC to the microsecond, nil for one that keeps them as
// given.

// TransitionError prefixes a failed Transition's error.
func TransitionError(prefix string, p *attendance.TransitionParams, format string, args ...any) error {
	return fmt.Errorf("%s: transition conversation %q to %s: "+format,
		append([]any{prefix, p.ConversationID, p.To}, args...)...)
}

// Conversation applies the checks of TransitionParams that only need the
// conversation, in the contract's order: From, the transition table,
// ExpectAgentID, ExpectVersion, OfferValidAt, OfferExpiredAt.
func Conversation(prefix string, cur *attendance.Conversation, p *attendance.TransitionParams, norm func(time.Time) time.Time) error {
	if !slices.Contains(p.From, cur.State) {
		if cur.State.Terminal() {
			return TransitionError(prefix, p, "%w", &attendance.TransitionError{From: cur.State, To: p.To})
		}
		return TransitionError(prefix, p, "state is %s, want one of %v: %w", cur.State, p.From, attendance.ErrConflict)
	}
	if !attendance.CanTransition(cur.State, p.To) {
		return TransitionError(prefix, p, "%w", &attendance.TransitionError{From: cur.State, To: p.To})
	}
	if p.ExpectAgentID != "" && cur.AgentID != p.ExpectAgentID {
		return TransitionError(prefix, p, "agent is %q, want %q: %w", cur.AgentID, p.ExpectAgentID, attendance.ErrConflict)
	}
	if p.ExpectVersion != 0 && cur.Version != p.ExpectVersion {
		return TransitionError(prefix, p, "version is %d, want %d: %w", cur.Version, p.ExpectVersion, attendance.ErrConflict)
	}
	// An offer without a deadline never expires.
	if !p.OfferValidAt.IsZero() && !cur.OfferDeadline.IsZero() && !cur.OfferDeadline.After(apply(norm, p.OfferValidAt)) {
		return TransitionError(prefix, p, "deadline %s is not after %s: %w", cur.OfferDeadline.Format(time.RFC3339Nano),
			stamp(norm, p.OfferValidAt), attendance.ErrOfferExpired)
	}
	if !p.OfferExpiredAt.IsZero() && !OfferDue(cur, apply(norm, p.OfferExpiredAt)) {
		return TransitionError(prefix, p, "offer is not due at %s: %w", stamp(norm, p.OfferExpiredAt),
			attendance.ErrConflict)
	}
	return nil
}

// apply returns norm(t), or t when norm is nil.
func apply(norm func(time.Time) time.Time, t time.Time) time.Time {
	if norm == nil {
		return t
	}
	return norm(t)
}

// stamp formats a time of the params for an error message: in UTC when the
// store normalizes times, as given otherwise.
func stamp(norm func(time.Time) time.Time, t time.Time) string {
	if norm != nil {
		t = t.UTC()
	}
	return t.Format(time.RFC3339Nano)
}

// OfferDue reports whether c is an offer whose deadline is at or before t.
// An offer without a deadline never falls due.
func OfferDue(c *attendance.Conversation, t time.Time) bool {
	return c.State == attendance.StateOffered && !c.OfferDeadline.IsZero() && !c.OfferDeadline.After(t)
}

// Owners returns who holds the conversation before and after the move
// (empty when nobody does).
func Owners(cur *attendance.Conversation, p *attendance.TransitionParams) (prev, next string) {
	if cur.State.HoldsAgent() {
		prev = cur.AgentID
	}
	if p.To.HoldsAgent() {
		next = p.AgentID
	}
	return prev, next
}

// Target checks that agent a, the new owner, may take one more
// conversation: it is online (ErrAgentUnavailable) and its load is below
// maxLoad (ErrAgentAtCapacity).
func Target(prefix string, a *attendance.Agent, maxLoad int, p *attendance.TransitionParams) error {
	switch {
	case a.Presence != attendance.PresenceOnline:
		return TransitionError(prefix, p, "agent %q is %s: %w", a.ID, a.Presence, attendance.ErrAgentUnavailable)
	case a.Load >= maxLoad:
		return TransitionError(prefix, p, "agent %q has load %d of max %d: %w", a.ID, a.Load, maxLoad, attendance.ErrAgentAtCapacity)
	}
	return nil
}

// Apply returns the conversation and system message after the move; it
// changes no row. The message is a copy of p.Message: it shares no pointer
// with the caller's.
func Apply(cur attendance.Conversation, p *attendance.TransitionParams, norm func(time.Time) time.Time) (attendance.Conversation, attendance.Message) {
	_, newOwner := Owners(&cur, p)
	at := apply(norm, p.At)
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
		next.OfferDeadline = apply(norm, p.OfferDeadline)
	}
	if p.TransferNote != "" || isTransfer(p) {
		// A transfer sets its own note, even none: the previous transfer's
		// note would mislead the next agent.
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

	msg := CopyMessage(p.Message)
	msg.CreatedAt = apply(norm, msg.CreatedAt)
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

// Created returns the conversation and its "opened" system message as
// CreateConversation stores them: the conversation at LastSeq 1 with no
// offer deadline, the message (a copy of opened) at Seq 1 with the
// conversation's ID and KindSystem. norm is as for Apply.
func Created(c attendance.Conversation, opened attendance.Message, norm func(time.Time) time.Time) (attendance.Conversation, attendance.Message) {
	c.ArrivedAt = apply(norm, c.ArrivedAt)
	c.CreatedAt = apply(norm, c.CreatedAt)
	c.UpdatedAt = apply(norm, c.UpdatedAt)
	c.OfferDeadline = time.Time{}
	c.LastSeq = 1
	msg := CopyMessage(opened)
	msg.CreatedAt = apply(norm, msg.CreatedAt)
	msg.ConversationID = c.ID
	msg.Seq = 1
	msg.Kind = attendance.KindSystem
	return c, msg
}

// isTransfer reports whether p records a transfer (its system message's
// event says so).
func isTransfer(p *attendance.TransitionParams) bool {
	return p.Message.Event != nil && p.Message.Event.Type == attendance.EventTransferred
}
