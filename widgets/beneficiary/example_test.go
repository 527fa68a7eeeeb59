package beneficiary_test

import (
	"context"
	"fmt"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets/beneficiary"
	"github.com/mosiachat/mosiachat/widgets/memdata"
)

func Example() {
	ctx := context.Background()
	demo := memdata.NewDemo(time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC))
	journey, err := beneficiary.NewJourney(demo.Conversations, demo.Occurrences, &beneficiary.JourneyConfig{
		Events: demo.Events, Subjects: demo.Subjects, Queues: demo.Queues,
	})
	if err != nil {
		panic(err)
	}
	// demo.Conversations stands in for the engine's AuthorizeView.
	svc, err := beneficiary.New(demo.Conversations, demo.Directory, demo.Occurrences, journey, nil)
	if err != nil {
		panic(err)
	}
	agent := attendance.AgentPrincipal(memdata.DemoAgentID)

	b, _ := svc.Beneficiary(ctx, agent, memdata.DemoConversationID)
	fmt.Println(b.Name, b.CPF, b.Plan.Name)

	page, _ := svc.Journey(ctx, agent, memdata.DemoConversationID, "", 3)
	for _, e := range page.Entries {
		fmt.Println(e.At.Format("02/01 15:04"), e.Title)
	}
	fmt.Println(page.NextPageToken != "")
	// Output:
	// Maria Aparecida Souza ***.154.920-** Essencial Enfermaria
	// 10/03 09:14 Atendimento iniciado por ana
	// 10/03 09:12 Atendimento por chat — protocolo 20260300002051
	// 08/03 08:00 Notificação: boleto de março disponível
	// true
}
