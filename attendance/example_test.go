package attendance_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
)

// exampleEngine is a one-queue contact center on the in-memory store.
func exampleEngine() *attendance.Engine {
	e, err := attendance.New(memory.New(), &attendance.Config{
		Queues:          []attendance.Queue{{ID: "geral", Name: "Atendimento geral"}},
		Subjects:        []attendance.Subject{{ID: "reembolso", Name: "Reembolso", QueueID: "geral"}},
		FinalizeReasons: []attendance.FinalizeReason{{ID: "resolvido", Label: "Resolvido"}},
	})
	if err != nil {
		panic(err)
	}
	return e
}

// A whole attendance: an agent comes online, a beneficiary opens a chat, the
// agent accepts, they talk, the agent finalizes.
func Example() {
	ctx := context.Background()
	e := exampleEngine()
	ana := attendance.AgentPrincipal("ana")
	maria := attendance.BeneficiaryPrincipal("maria")

	_, _ = e.UpsertAgent(ctx, attendance.AgentParams{ID: "ana", Name: "Ana", Profile: attendance.Profile{Min: 1, Max: 3, Queues: []string{"geral"}}})
	_, _ = e.SetPresence(ctx, ana, attendance.PresenceOnline)

	c, _ := e.Open(ctx, maria, attendance.OpenParams{SubjectID: "reembolso"})
	fmt.Println("opened:", c.State, "to", c.AgentID)

	c, _ = e.Accept(ctx, ana, c.ID)
	fmt.Println("accepted:", c.State)

	_, _ = e.Send(ctx, maria, attendance.SendParams{ConversationID: c.ID, Body: "Olá!", IdempotencyKey: "maria-1"})
	m, _ := e.Send(ctx, ana, attendance.SendParams{ConversationID: c.ID, Body: "Bom dia, Maria!", IdempotencyKey: "ana-1"})
	fmt.Println("agent's message is #", m.Seq)

	c, _ = e.Finalize(ctx, ana, attendance.FinalizeParams{ConversationID: c.ID, Reason: "resolvido"})
	fmt.Println("finalized:", c.State, c.FinalReason)
	// Output:
	// opened: offered to ana
	// accepted: active
	// agent's message is # 5
	// finalized: finalized resolvido
}

// A retried send with the same idempotency key returns the first message.
func ExampleEngine_Send_idempotent() {
	ctx := context.Background()
	e := exampleEngine()
	maria := attendance.BeneficiaryPrincipal("maria")
	c, _ := e.Open(ctx, maria, attendance.OpenParams{SubjectID: "reembolso"})

	first, _ := e.Send(ctx, maria, attendance.SendParams{ConversationID: c.ID, Body: "Olá?", IdempotencyKey: "k1"})
	retry, _ := e.Send(ctx, maria, attendance.SendParams{ConversationID: c.ID, Body: "Olá?", IdempotencyKey: "k1"})
	fmt.Println(first.ID == retry.ID, first.Seq, retry.Seq)
	// Output: true 2 2
}

// A beneficiary waiting with no agent online sees their place in line.
func ExampleEngine_QueueStatus() {
	ctx := context.Background()
	e := exampleEngine()
	for _, b := range []string{"joao", "rita"} {
		_, _ = e.Open(ctx, attendance.BeneficiaryPrincipal(b), attendance.OpenParams{SubjectID: "reembolso"})
	}
	maria := attendance.BeneficiaryPrincipal("maria")
	c, _ := e.Open(ctx, maria, attendance.OpenParams{SubjectID: "reembolso"})
	st, _ := e.QueueStatus(ctx, maria, c.ID)
	fmt.Println("position", st.Position, "of", st.Waiting)
	// Output: position 3 of 3
}

// Transferring to another agent is an offer to that agent; an offline agent
// is a typed error and nothing changes.
func ExampleEngine_Transfer() {
	ctx := context.Background()
	e := exampleEngine()
	ana, bia := attendance.AgentPrincipal("ana"), attendance.AgentPrincipal("bia")
	profile := attendance.Profile{Max: 2, Queues: []string{"geral"}}
	_, _ = e.UpsertAgent(ctx, attendance.AgentParams{ID: "ana", Profile: profile})
	_, _ = e.UpsertAgent(ctx, attendance.AgentParams{ID: "bia", Profile: profile})
	_, _ = e.SetPresence(ctx, ana, attendance.PresenceOnline)
	c, _ := e.Open(ctx, attendance.BeneficiaryPrincipal("maria"), attendance.OpenParams{SubjectID: "reembolso"})
	_, _ = e.Accept(ctx, ana, c.ID)

	_, err := e.Transfer(ctx, ana, attendance.TransferParams{ConversationID: c.ID, AgentID: "bia"})
	fmt.Println(errors.Is(err, attendance.ErrAgentUnavailable))

	_, _ = e.SetPresence(ctx, bia, attendance.PresenceOnline)
	c, _ = e.Transfer(ctx, ana, attendance.TransferParams{ConversationID: c.ID, AgentID: "bia", Note: "assunto de reembolso"})
	fmt.Println(c.State, "to", c.AgentID, "-", c.TransferNote)
	// Output:
	// true
	// offered to bia - assunto de reembolso
}

// An offer not accepted within the profile's OfferTimeout goes back to the
// queue at its original place and is offered again.
func ExampleEngine_ExpireOffers() {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	e, _ := attendance.New(memory.New(), &attendance.Config{
		Queues:          []attendance.Queue{{ID: "geral"}},
		Subjects:        []attendance.Subject{{ID: "reembolso", QueueID: "geral"}},
		FinalizeReasons: []attendance.FinalizeReason{{ID: "resolvido"}},
		Now:             func() time.Time { return now },
	})
	ana := attendance.AgentPrincipal("ana")
	_, _ = e.UpsertAgent(ctx, attendance.AgentParams{ID: "ana", Profile: attendance.Profile{Max: 1, Queues: []string{"geral"}, OfferTimeout: 20 * time.Second}})
	_, _ = e.SetPresence(ctx, ana, attendance.PresenceOnline)
	c, _ := e.Open(ctx, attendance.BeneficiaryPrincipal("maria"), attendance.OpenParams{SubjectID: "reembolso"})
	fmt.Println("deadline in", c.OfferDeadline.Sub(now))

	now = now.Add(21 * time.Second)
	n, _ := e.ExpireOffers(ctx)
	fmt.Println("expired:", n)
	// Output:
	// deadline in 20s
	// expired: 1
}
