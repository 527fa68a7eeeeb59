package widgets_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets"
)

// oneConversation is the smallest Access: one active conversation held by
// agent "ana". Hosts pass the engine instead.
type oneConversation struct{ conv attendance.Conversation }

func (o oneConversation) AuthorizeView(_ context.Context, p attendance.Principal, id string) (attendance.Conversation, error) {
	if id != o.conv.ID {
		return attendance.Conversation{}, attendance.ErrNotFound
	}
	if p.Role == attendance.RoleAgent && p.ID != o.conv.AgentID {
		return attendance.Conversation{}, attendance.ErrForbidden
	}
	return o.conv, nil
}

func Example() {
	access := oneConversation{attendance.Conversation{
		ID: "c1", BeneficiaryID: "ben-42", State: attendance.StateActive, AgentID: "ana",
	}}
	reg, err := widgets.NewRegistry(access, nil)
	if err != nil {
		panic(err)
	}

	// A provider is a function from a conversation to a structured result.
	err = reg.Register(widgets.Widget{
		ID:    "mensalidades",
		Title: "Mensalidades",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			return widgets.Result{
				Fields: []widgets.Field{{Label: "Beneficiário", Value: widgets.TextValue(req.BeneficiaryID())}},
				Tables: []widgets.Table{{
					Columns: []widgets.Column{
						{Label: "Competência", Kind: widgets.KindText},
						{Label: "Vencimento", Kind: widgets.KindDate},
						{Label: "Valor", Kind: widgets.KindMoney},
					},
					Rows: [][]widgets.Value{
						{widgets.TextValue("02/2026"), widgets.DateValue(widgets.NewDate(2026, 2, 10)), widgets.MoneyValue(48790)},
						{widgets.TextValue("03/2026"), widgets.DateValue(widgets.NewDate(2026, 3, 10)), widgets.MoneyValue(52315)},
					},
				}},
				Links: []widgets.Link{{Label: "Portal", URL: "https://portal.example.com"}},
			}, nil
		}),
	})
	if err != nil {
		panic(err)
	}
	// A provider that fails shows an error in its own box only.
	_ = reg.Register(widgets.Widget{
		ID:    "indisponivel",
		Title: "Reembolsos",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			return widgets.Result{}, errors.New("reimbursement service is down")
		}),
	})

	profile := attendance.Profile{Min: 1, Max: 3, Queues: []string{"geral"}, Widgets: []string{"mensalidades", "indisponivel"}}
	results, err := reg.Fetch(context.Background(), widgets.FetchParams{
		Principal:      attendance.AgentPrincipal("ana"),
		Profile:        profile,
		ConversationID: "c1",
	})
	if err != nil {
		panic(err)
	}
	_ = widgets.WriteText(os.Stdout, results)
	// Output:
	// == Mensalidades ==
	//   Beneficiário: ben-42
	//   | Competência | Vencimento |     Valor |
	//   |-------------|------------|-----------|
	//   | 02/2026     | 10/02/2026 | R$ 487,90 |
	//   | 03/2026     | 10/03/2026 | R$ 523,15 |
	//   Links:
	//     - Portal: https://portal.example.com
	//
	// == Reembolsos ==
	//   [erro: provider_error] O widget está indisponível no momento.
}

func ExampleRegistry_Fetch_forbidden() {
	access := oneConversation{attendance.Conversation{ID: "c1", State: attendance.StateActive, AgentID: "ana"}}
	reg, _ := widgets.NewRegistry(access, nil)
	_, err := reg.Fetch(context.Background(), widgets.FetchParams{
		Principal:      attendance.AgentPrincipal("bruno"),
		ConversationID: "c1",
	})
	fmt.Println(errors.Is(err, attendance.ErrForbidden))
	// Output: true
}

func ExampleResult_Validate() {
	res := widgets.Result{Tables: []widgets.Table{{
		Columns: []widgets.Column{{Label: "Vencimento", Kind: widgets.KindDate}},
		Rows:    [][]widgets.Value{{widgets.MoneyValue(100)}},
	}}}
	err := res.Validate()
	fmt.Println(errors.Is(err, widgets.ErrMalformedResult))
	fmt.Println(err)
	// Output:
	// true
	// widgets: malformed result: tables[0].rows[0][0]: money value in a date column
}

func ExampleBRL_String() {
	fmt.Println(widgets.BRL(123456))
	fmt.Println(widgets.Reais(89, 90))
	// Output:
	// R$ 1.234,56
	// R$ 89,90
}
