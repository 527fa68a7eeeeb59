package attendance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// maxRouteFailures bounds the stale decisions one routing pass may make in a
// row before it gives up until the next change or sweep.
const maxRouteFailures = 64

// postCommitTimeout bounds the work that follows a successful write (index
// update, routing, publishing). That work does not stop when the caller's
// context is cancelled: the write has happened and the others must hear of it.
const postCommitTimeout = 30 * time.Second

// update runs apply under e.mu with the index loaded, routes what can be
// routed, then publishes notes and the routing's notifications. A failure
// marks the index for a full reload by the next operation or sweep.
func (e *Engine) update(ctx context.Context, notes []Notification, apply func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), postCommitTimeout)
	defer cancel()
	e.mu.Lock()
	err := e.ensureLoaded(ctx)
	if err == nil && apply != nil {
		err = apply(ctx)
	}
	if err == nil {
		err = e.routeLocked(ctx, &notes)
	}
	e.mu.Unlock()
	if err != nil {
		e.markResync()
	}
	e.publish(ctx, notes...)
	return err
}

// route offers waiting conversations to agents until no queue has both a
// waiting conversation and an agent with room.
func (e *Engine) route(ctx context.Context) error { return e.update(ctx, nil, nil) }

// commit records a successful transition of a conversation. A routing
// failure is logged, not returned: the transition itself has happened and
// the sweep will route later.
func (e *Engine) commit(ctx context.Context, before, after Conversation) {
	err := e.update(ctx, changed(before, after), func(ctx context.Context) error {
		return e.applyLocked(ctx, before, after)
	})
	if err != nil {
		e.log.Warn("attendance: routing after a change failed", "conversation", after.ID, "err", err)
	}
}

// routeLocked is route with e.mu held, after update loaded the index;
// notifications go to notes.
func (e *Engine) routeLocked(ctx context.Context, notes *[]Notification) error {
	if err := e.catchUp(ctx); err != nil {
		return err
	}
	for failures := 0; failures < maxRouteFailures; {
		d, ok := e.router.NextAvoiding(e.passedOver)
		if !ok {
			return nil
		}
		a := e.agents[d.Agent]
		now := e.cfg.Now()
		p := TransitionParams{
			ConversationID: d.Item.ID,
			From:           []State{StateQueued},
			To:             StateOffered,
			AgentID:        a.ID,
			OfferDeadline:  now.Add(e.offerTimeout(a)),
			At:             now,
		}
		ev := Event{Type: EventOffered, From: StateQueued, To: StateOffered, AgentID: a.ID, QueueID: d.Queue}
		if a.Profile.AutoAcceptBelowMin && a.Load < a.Profile.Min {
			p.To, p.OfferDeadline = StateActive, time.Time{}
			ev.Type, ev.To = EventAutoAccepted, StateActive
		}
		p.Message = e.systemMessage(d.Item.ID, ev, now)
		before := Conversation{ID: d.Item.ID, State: StateQueued, QueueID: d.Queue}
		after, _, err := e.store.Transition(ctx, p)
		switch {
		case err == nil:
			failures = 0
			// The offer is made: it is announced even if bringing the index
			// up to date fails below (update publishes notes either way).
			*notes = append(*notes, changed(before, after)...)
			if err := e.applyLocked(ctx, before, after); err != nil {
				return err
			}
		case errors.Is(err, ErrAgentAtCapacity), errors.Is(err, ErrAgentUnavailable):
			failures++
			if err := e.refreshAgent(ctx, a.ID); err != nil {
				return err
			}
		case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalidTransition):
			// The conversation moved, or (not found) it or the agent is gone.
			failures++
			if err := e.refreshConversation(ctx, d.Item.ID); err != nil {
				return err
			}
			if err := e.refreshAgent(ctx, a.ID); err != nil {
				return err
			}
		default:
			return fmt.Errorf("attendance: offer %s to %s: %w", d.Item.ID, a.ID, err)
		}
	}
	return nil
}

// passedOver reports whether an agent declined or let expire an offer of the
// conversation; routing tries someone else first. Called with e.mu held.
func (e *Engine) passedOver(convID, agentID string) bool { return e.declined[convID][agentID] }

func (e *Engine) offerTimeout(a Agent) time.Duration {
	if a.Profile.OfferTimeout > 0 {
		return a.Profile.OfferTimeout
	}
	return e.cfg.DefaultOfferTimeout
}

// applyLocked brings the routing index up to date after a conversation moved
// from before to after. Both the conversation and the agents concerned are
// re-read from the store under e.mu: the write happened before the lock was
// taken, and a later write may already have been applied, so neither before
// nor after can be trusted to be current. Called with e.mu held.
func (e *Engine) applyLocked(ctx context.Context, before, after Conversation) error {
	if err := e.refreshConversation(ctx, after.ID); err != nil {
		return err
	}
	// before may be stale (read before the write); LastAgentID names the
	// agent who held the conversation when the write happened.
	for _, id := range concerned(before, after) {
		if err := e.refreshAgent(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) markResync() {
	e.dirtyMu.Lock()
	e.resync = true
	e.dirtyMu.Unlock()
}

// ExpireOffers returns to their queues the offers whose deadline has passed
// and routes them again. Each expiry is a conditional write, so when several
// engines sweep at once each offer expires exactly once. It returns how many
// offers this call expired. A started engine calls it every SweepInterval.
func (e *Engine) ExpireOffers(ctx context.Context) (int, error) {
	now := e.cfg.Now()
	due, err := e.store.ListConversations(ctx, ListConversationsFilter{States: []State{StateOffered}, OfferExpiredAt: now})
	if err != nil {
		return 0, fmt.Errorf("attendance: list expired offers: %w", err)
	}
	n := 0
	for _, c := range due {
		ok, err := e.releaseOffer(ctx, c, EventOfferExpired, now)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, e.route(ctx)
}

// releaseOffer returns an offered conversation to its queue. It reports
// false when another caller moved it first.
func (e *Engine) releaseOffer(ctx context.Context, c Conversation, ev EventType, now time.Time) (bool, error) {
	tp := TransitionParams{
		From:          []State{StateOffered},
		ExpectAgentID: c.AgentID,
		To:            StateQueued,
		At:            now,
	}
	if ev == EventOfferExpired {
		tp.OfferExpiredAt = now
	}
	_, err := e.apply(ctx, c, tp, Event{Type: ev, AgentID: c.AgentID, QueueID: c.QueueID})
	switch {
	case errors.Is(err, ErrConflict), errors.Is(err, ErrInvalidTransition), errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("attendance: release offer %s: %w", c.ID, err)
	}
	return true, nil
}

func (e *Engine) systemMessage(convID string, ev Event, now time.Time) Message {
	return Message{
		ID:             e.cfg.NewID(),
		ConversationID: convID,
		Kind:           KindSystem,
		Sender:         SystemPrincipal,
		Event:          &ev,
		CreatedAt:      now,
	}
}

// concerned lists the agents whose load a move from before to after may have
// changed: the previous owner, the new one and the last holder.
func concerned(before, after Conversation) []string {
	ids := make([]string, 0, 3)
	for _, id := range []string{before.AgentID, after.AgentID, after.LastAgentID} {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}
