// Command customwidget is a host app that adds its own widget provider next
// to the example ones and prints the widgets an agent sees for a demo
// conversation. No server, no database: run it with
//
//	go run ./examples/customwidget
//
// See README.md for a walk-through.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
	"github.com/mosiachat/mosiachat/widgets"
	"github.com/mosiachat/mosiachat/widgets/examplewidgets"
)

// The demo's people. The example widgets invent data from the beneficiary ID.
const (
	beneficiaryID = "ben-0001"
	agentID       = "ana"
	otherAgentID  = "bruno"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	// The engine authorizes every widget fetch: it implements
	// widgets.Access. Here it runs on the in-memory store with one agent and
	// one conversation, which the agent accepts.
	engine, conversationID, err := demoEngine(ctx)
	if err != nil {
		return err
	}

	reg, err := widgets.NewRegistry(engine, &widgets.Config{
		DefaultTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	if err := examplewidgets.RegisterAll(reg, nil); err != nil {
		return err
	}

	// 1. Our own provider: the beneficiary's grace periods (carências).
	err = reg.Register(widgets.Widget{
		ID:       "carencias",
		Title:    "Carências",
		Provider: widgets.ProviderFunc(gracePeriods),
	})
	if err != nil {
		return err
	}

	// 2. A provider whose backend is slow: it gets its own timeout, and its
	//    box shows an error while the others render normally.
	err = reg.Register(widgets.Widget{
		ID:      "reembolsos",
		Title:   "Reembolsos",
		Timeout: 100 * time.Millisecond,
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			select {
			case <-time.After(5 * time.Second): // the reimbursement system is having a bad day
				return widgets.Result{}, errors.New("unreachable")
			case <-ctx.Done():
				return widgets.Result{}, ctx.Err()
			}
		}),
	})
	if err != nil {
		return err
	}

	// 3. The agent's profile lists the widgets they may see, in order.
	agent, err := engine.Agent(ctx, attendance.AgentPrincipal(agentID), agentID)
	if err != nil {
		return err
	}
	if err := reg.CheckProfile(agent.Profile); err != nil {
		return err
	}

	// 4. The panel fetches them all for the conversation being served.
	results, err := reg.Fetch(ctx, widgets.FetchParams{
		Principal:      attendance.AgentPrincipal(agentID),
		Profile:        agent.Profile,
		ConversationID: conversationID,
	})
	if err != nil {
		return err
	}
	fmt.Printf("Widgets de %s no atendimento de %s:\n\n", agentID, beneficiaryID)
	if err := widgets.WriteText(os.Stdout, results); err != nil {
		return err
	}

	// Another agent cannot see this conversation's widgets.
	_, err = reg.Fetch(ctx, widgets.FetchParams{
		Principal:      attendance.AgentPrincipal(otherAgentID),
		Profile:        agent.Profile,
		ConversationID: conversationID,
	})
	fmt.Printf("\n%s tentando ver os widgets: forbidden=%v\n", otherAgentID, errors.Is(err, attendance.ErrForbidden))
	return nil
}

// demoEngine wires an engine on the in-memory store: one queue, one agent
// whose profile lists the widgets, online; a beneficiary opens a chat about
// bank slips and the agent accepts it.
func demoEngine(ctx context.Context) (*attendance.Engine, string, error) {
	engine, err := attendance.New(memory.New(), &attendance.Config{
		Queues:          []attendance.Queue{{ID: "financeiro", Name: "Financeiro"}},
		Subjects:        []attendance.Subject{{ID: "boletos", Name: "Boletos e pagamentos", QueueID: "financeiro"}},
		FinalizeReasons: []attendance.FinalizeReason{{ID: "resolvido", Label: "Resolvido"}},
	})
	if err != nil {
		return nil, "", err
	}
	profile := attendance.Profile{
		Min: 1, Max: 3, Queues: []string{"financeiro"},
		Widgets: []string{"carencias", examplewidgets.BankSlipsID, examplewidgets.CopayStatementID, examplewidgets.UsageStatementID, "reembolsos"},
	}
	ana := attendance.AgentPrincipal(agentID)
	if _, err := engine.UpsertAgent(ctx, attendance.AgentParams{ID: agentID, Name: "Ana Lima", Profile: profile}); err != nil {
		return nil, "", err
	}
	if _, err := engine.UpsertAgent(ctx, attendance.AgentParams{ID: otherAgentID, Name: "Bruno Dias", Profile: profile}); err != nil {
		return nil, "", err
	}
	if _, err := engine.SetPresence(ctx, ana, attendance.PresenceOnline); err != nil {
		return nil, "", err
	}
	conv, err := engine.Open(ctx, attendance.BeneficiaryPrincipal(beneficiaryID), attendance.OpenParams{SubjectID: "boletos"})
	if err != nil {
		return nil, "", err
	}
	if conv.State == attendance.StateOffered {
		if conv, err = engine.Accept(ctx, ana, conv.ID); err != nil {
			return nil, "", err
		}
	}
	return engine, conv.ID, nil
}

// gracePeriods is a whole provider: it reads the request, asks "the host's
// systems" (a map here) and returns a structured result. The panel renders
// it with no front-end code of its own.
func gracePeriods(ctx context.Context, req widgets.Request) (widgets.Result, error) {
	start, ok := planStart[req.BeneficiaryID()]
	if !ok {
		return widgets.Result{Note: "Beneficiário sem carências registradas."}, nil
	}
	rows := make([][]widgets.Value, 0, len(graceDays))
	for _, g := range graceDays {
		ends := start.AddDays(g.days)
		status := "Cumprida"
		if ends.After(widgets.DateOf(time.Now())) {
			status = "Em carência"
		}
		rows = append(rows, []widgets.Value{
			widgets.TextValue(g.coverage), widgets.NumberValue(float64(g.days)), widgets.DateValue(ends), widgets.TextValue(status),
		})
	}
	return widgets.Result{
		Fields: []widgets.Field{{Label: "Início da cobertura", Value: widgets.DateValue(start)}},
		Tables: []widgets.Table{{
			Columns: []widgets.Column{
				{Label: "Cobertura", Kind: widgets.KindText},
				{Label: "Prazo (dias)", Kind: widgets.KindNumber},
				{Label: "Cumprida em", Kind: widgets.KindDate},
				{Label: "Situação", Kind: widgets.KindText},
			},
			Rows: rows,
		}},
	}, nil
}

// planStart and graceDays stand in for the host's plan system.
var planStart = map[string]widgets.Date{
	beneficiaryID: widgets.NewDate(2019, time.March, 1),
}

var graceDays = []struct {
	coverage string
	days     int
}{
	{"Urgência e emergência", 1},
	{"Consultas e exames simples", 30},
	{"Exames complexos e terapias", 180},
	{"Internações e cirurgias", 180},
	{"Parto a termo", 300},
}
