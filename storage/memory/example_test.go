package memory_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
)

// Example walks one conversation through the store: an agent with Max 1
// comes online, a queued chat is offered and accepted, and a second offer to
// the full agent is refused.
func Example() {
	ctx := context.Background()
	now := time.Date(2025, time.June, 2, 9, 0, 0, 0, time.UTC)
	store := memory.New()

	agent, err := store.UpsertAgent(ctx, attendance.UpsertAgentParams{
		ID:      "ana",
		Name:    "Ana",
		Profile: attendance.Profile{Max: 1, Queues: []string{"billing"}},
		At:      now,
	})
	if err != nil {
		panic(err)
	}
	agent, _ = store.SetPresence(ctx, attendance.SetPresenceParams{AgentID: agent.ID, Presence: attendance.PresenceOnline, At: now})

	open := func(id string) attendance.Conversation {
		c, _, err := store.CreateConversation(ctx, attendance.CreateConversationParams{
			Conversation: attendance.Conversation{
				ID: id, BeneficiaryID: "ben-" + id, QueueID: "billing",
				State: attendance.StateQueued, ArrivedAt: now, CreatedAt: now, UpdatedAt: now,
			},
			Opened: attendance.Message{
				ID: id + "-opened", Sender: attendance.BeneficiaryPrincipal("ben-" + id), CreatedAt: now,
				Event: &attendance.Event{Type: attendance.EventOpened},
			},
		})
		if err != nil {
			panic(err)
		}
		return c
	}
	offer := func(c attendance.Conversation) (attendance.Conversation, error) {
		c, _, err := store.Transition(ctx, attendance.TransitionParams{
			ConversationID: c.ID,
			From:           []attendance.State{attendance.StateQueued},
			To:             attendance.StateOffered,
			AgentID:        agent.ID,
			OfferDeadline:  now.Add(30 * time.Second),
			At:             now,
			Message:        attendance.Message{ID: c.ID + "-offered", Sender: attendance.SystemPrincipal, Event: &attendance.Event{Type: attendance.EventOffered}},
		})
		return c, err
	}

	first, second := open("c1"), open("c2")
	first, _ = offer(first)
	first, msg, err := store.Transition(ctx, attendance.TransitionParams{
		ConversationID: first.ID,
		From:           []attendance.State{attendance.StateOffered},
		ExpectAgentID:  agent.ID,
		OfferValidAt:   now.Add(5 * time.Second),
		To:             attendance.StateActive,
		AgentID:        agent.ID,
		At:             now.Add(5 * time.Second),
		Message:        attendance.Message{ID: "c1-accepted", Sender: attendance.AgentPrincipal(agent.ID), Event: &attendance.Event{Type: attendance.EventAccepted}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(first.ID, first.State, "seq", msg.Seq, msg.Event.From, "->", msg.Event.To)

	_, err = offer(second)
	fmt.Println(second.ID, "at capacity:", errors.Is(err, attendance.ErrAgentAtCapacity))

	agent, _ = store.GetAgent(ctx, agent.ID)
	fmt.Println(agent.ID, "load", agent.Load, "of", agent.Profile.Max)
	// Output:
	// c1 active seq 3 offered -> active
	// c2 at capacity: true
	// ana load 1 of 1
}
