// Command minimal runs a short scripted attendance and prints what happens:
// two agents come online, three beneficiaries open chats, offers are
// accepted, declined and let expire, a chat is transferred and finalized.
//
//	go run ./examples/minimal
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

func main() {
	db := flag.String("db", "memory", storeFlagHelp)
	flag.Parse()
	ctx := context.Background()
	store, closeStore, err := openStore(ctx, *db)
	if err != nil {
		log.Fatal(err)
	}
	defer closeStore()
	if err := run(ctx, store); err != nil {
		fmt.Fprintln(os.Stderr, "minimal:", err)
		os.Exit(1)
	}
}

// clock is the scripted time: the script moves it to show offer timeouts
// without waiting.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func run(ctx context.Context, store attendance.Store) error {
	clk := &clock{now: time.Now().UTC()}
	engine, err := attendance.New(store, &attendance.Config{
		Queues: []attendance.Queue{{ID: "geral", Name: "Atendimento geral"}, {ID: "financeiro", Name: "Financeiro"}},
		Subjects: []attendance.Subject{
			{ID: "reembolso", Name: "Reembolso", QueueID: "geral"},
			{ID: "autorizacao", Name: "Autorização de exame", QueueID: "geral", Priority: 5},
			{ID: "boleto", Name: "Segunda via de boleto", QueueID: "financeiro"},
		},
		FinalizeReasons:     []attendance.FinalizeReason{{ID: "resolvido", Label: "Resolvido"}},
		DefaultOfferTimeout: 30 * time.Second,
		Now:                 clk.Now,
	})
	if err != nil {
		return err
	}
	s := script{ctx: ctx, e: engine}
	ana, bruno := attendance.AgentPrincipal("ana"), attendance.AgentPrincipal("bruno")
	s.must(engine.UpsertAgent(ctx, attendance.AgentParams{ID: "ana", Name: "Ana", Profile: attendance.Profile{Min: 1, Max: 2, Queues: []string{"geral"}}}))
	s.must(engine.UpsertAgent(ctx, attendance.AgentParams{ID: "bruno", Name: "Bruno", Profile: attendance.Profile{Min: 0, Max: 1, Queues: []string{"geral", "financeiro"}}}))
	s.must(engine.SetPresence(ctx, ana, attendance.PresenceOnline))
	s.say("Ana (Min 1, Max 2, geral) and Bruno (Max 1, geral + financeiro) are online")

	maria := attendance.BeneficiaryPrincipal("maria")
	c1 := s.open(maria, "reembolso")
	s.show(c1.ID)
	s.must(engine.Accept(ctx, ana, c1.ID))
	s.send(maria, c1.ID, "Olá! Quero saber do meu reembolso de consulta.")
	s.send(ana, c1.ID, "Bom dia, Maria! Vou verificar para você.")

	joao := attendance.BeneficiaryPrincipal("joao")
	c2 := s.open(joao, "autorizacao")
	s.show(c2.ID)
	s.must(engine.Decline(ctx, ana, c2.ID))
	s.say("Ana declined; nobody else has room, so it comes back to her")
	s.show(c2.ID)
	rita := attendance.BeneficiaryPrincipal("rita")
	c3 := s.open(rita, "boleto")
	st, err := engine.QueueStatus(ctx, rita, c3.ID)
	if err != nil {
		return err
	}
	s.say("Nobody serves financeiro yet: Rita waits, position %d, estimated wait %s", st.Position, st.EstimatedWait)
	s.must(engine.SetPresence(ctx, bruno, attendance.PresenceOnline))
	s.say("Bruno comes online and gets Rita's chat")
	s.show(c3.ID)

	clk.advance(31 * time.Second)
	n, err := engine.ExpireOffers(ctx)
	if err != nil {
		return err
	}
	s.say("31 seconds later: %d offer(s) expired and went back to the queue", n)
	s.show(c2.ID)
	s.show(c3.ID)

	s.must(engine.Transfer(ctx, ana, attendance.TransferParams{ConversationID: c1.ID, QueueID: "financeiro", Note: "reembolso aprovado; falta o boleto"}))
	s.say("Ana transferred Maria's chat to financeiro (it keeps its arrival time)")
	s.show(c1.ID)

	for _, c := range []string{c2.ID, c3.ID, c1.ID} {
		conv, err := engine.Conversation(ctx, attendance.SystemPrincipal, c)
		if err != nil {
			return err
		}
		if conv.State != attendance.StateOffered {
			continue
		}
		agent := attendance.AgentPrincipal(conv.AgentID)
		s.must(engine.Accept(ctx, agent, c))
		s.must(engine.Finalize(ctx, agent, attendance.FinalizeParams{ConversationID: c, Reason: "resolvido"}))
		s.say("%s accepted and finalized %s", conv.AgentID, conv.Protocol)
	}
	for _, c := range []string{c1.ID, c2.ID, c3.ID} {
		s.show(c)
	}
	fmt.Println("\nMaria's conversation, as its history records it:")
	ms, err := engine.Messages(ctx, maria, c1.ID, 0, 0)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if ev := m.Event; ev != nil {
			fmt.Printf("  #%d  [%s] -> %s  agent=%q queue=%q reason=%q note=%q\n", m.Seq, ev.Type, ev.To, ev.AgentID, ev.QueueID, ev.Reason, ev.Note)
		} else {
			fmt.Printf("  #%d  %s: %s\n", m.Seq, m.Sender.ID, m.Body)
		}
	}
	return s.err
}

// script runs steps, printing each, and keeps the first error.
type script struct {
	ctx context.Context
	e   *attendance.Engine
	err error
}

func (s *script) must(_ any, err error) {
	if err != nil && s.err == nil {
		s.err = err
		fmt.Println("  error:", err)
	}
}

func (s *script) say(format string, args ...any) { fmt.Printf("- "+format+"\n", args...) }

func (s *script) open(p attendance.Principal, subject string) attendance.Conversation {
	c, err := s.e.Open(s.ctx, p, attendance.OpenParams{SubjectID: subject})
	s.must(nil, err)
	s.say("%s opens a chat about %q (protocol %s)", p.ID, subject, c.Protocol)
	return c
}

func (s *script) send(p attendance.Principal, convID, body string) {
	m, err := s.e.Send(s.ctx, p, attendance.SendParams{ConversationID: convID, Body: body, IdempotencyKey: fmt.Sprintf("%s-%d", p.ID, time.Now().UnixNano())})
	s.must(nil, err)
	s.say("%s writes (#%d): %s", p.ID, m.Seq, body)
}

func (s *script) show(convID string) {
	c, err := s.e.Conversation(s.ctx, attendance.SystemPrincipal, convID)
	s.must(nil, err)
	owner := c.AgentID
	if owner == "" {
		owner = "-"
	}
	s.say("  %s of %s: %s, queue %s, agent %s", c.Protocol, c.BeneficiaryID, c.State, c.QueueID, owner)
}
