package memdata_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets/memdata"
)

// The demo's Conversations authorize like the engine: the agent holding the
// conversation sees it, another agent does not.
func ExampleNewDemo() {
	ctx := context.Background()
	demo := memdata.NewDemo(time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC))

	conv, err := demo.Conversations.AuthorizeView(ctx, attendance.AgentPrincipal(memdata.DemoAgentID), memdata.DemoConversationID)
	fmt.Println(conv.BeneficiaryID, conv.State, err)

	_, err = demo.Conversations.AuthorizeView(ctx, attendance.AgentPrincipal(memdata.DemoOtherAgentID), memdata.DemoConversationID)
	fmt.Println(errors.Is(err, attendance.ErrForbidden))

	b, _ := demo.Directory.Beneficiary(ctx, memdata.DemoBeneficiaryID)
	fmt.Println(b.Name, b.CPF)
	// Output:
	// ben-0001 active <nil>
	// true
	// Maria Aparecida Souza ***.154.920-**
}
