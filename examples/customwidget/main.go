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
	"github.com/mosiachat/mosiachat/widgets"
	"github.com/mosiachat/mosiachat/widgets/examplewidgets"
	"github.com/mosiachat/mosiachat/widgets/memdata"
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	now := time.Now()
	// In a real host the engine authorizes fetches (it implements
	// widgets.Access); here an in-memory demo stands in for it.
	demo := memdata.NewDemo(now)

	reg, err := widgets.NewRegistry(demo.Conversations, &widgets.Config{
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
	profile := attendance.Profile{
		Min: 1, Max: 3, Queues: []string{"financeiro"},
		Widgets: []string{"carencias", examplewidgets.BankSlipsID, examplewidgets.CopayStatementID, examplewidgets.UsageStatementID, "reembolsos"},
	}
	if err := reg.CheckProfile(profile); err != nil {
		return err
	}

	// 4. The panel fetches them all for the conversation being served.
	results, err := reg.Fetch(ctx, widgets.FetchParams{
		Principal:      attendance.AgentPrincipal(memdata.DemoAgentID),
		Profile:        profile,
		ConversationID: memdata.DemoConversationID,
	})
	if err != nil {
		return err
	}
	fmt.Printf("Widgets de %s na conversa %s:\n\n", memdata.DemoAgentID, memdata.DemoConversationID)
	if err := widgets.WriteText(os.Stdout, results); err != nil {
		return err
	}

	// Another agent cannot see this conversation's widgets.
	_, err = reg.Fetch(ctx, widgets.FetchParams{
		Principal:      attendance.AgentPrincipal(memdata.DemoOtherAgentID),
		Profile:        profile,
		ConversationID: memdata.DemoConversationID,
	})
	fmt.Printf("\n%s tentando ver os widgets: forbidden=%v\n", memdata.DemoOtherAgentID, errors.Is(err, attendance.ErrForbidden))
	return nil
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
	memdata.DemoBeneficiaryID: widgets.NewDate(2019, time.March, 1),
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
