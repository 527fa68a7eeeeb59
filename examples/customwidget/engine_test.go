package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
	"github.com/mosiachat/mosiachat/widgets"
	"github.com/mosiachat/mosiachat/widgets/beneficiary"
	"github.com/mosiachat/mosiachat/widgets/memdata"
)

// The engine and the stores satisfy the small interfaces the widget area
// consumes, so they plug in directly.
var (
	_ widgets.Access                 = (*attendance.Engine)(nil)
	_ beneficiary.ConversationLister = (*memory.Store)(nil)
	_ beneficiary.ConversationLister = attendance.Store(nil)
)

// TestWithEngine runs the widgets and the journey against the real engine
// and in-memory store through a conversation's life.
func TestWithEngine(t *testing.T) {
	ctx := t.Context()
	engine, convID, err := demoEngine(ctx)
	require.NoError(t, err)
	reg, err := widgets.NewRegistry(engine, nil)
	require.NoError(t, err)
	require.NoError(t, reg.Register(widgets.Widget{ID: "carencias", Title: "Carências", Provider: widgets.ProviderFunc(gracePeriods)}))

	ana := attendance.AgentPrincipal(agentID)
	agent, err := engine.Agent(ctx, ana, agentID)
	require.NoError(t, err)
	fetch := func(p attendance.Principal) error {
		_, err := reg.Fetch(ctx, widgets.FetchParams{Principal: p, Profile: agent.Profile, ConversationID: convID, Only: []string{"carencias"}})
		return err
	}
	require.NoError(t, fetch(ana))
	require.ErrorIs(t, fetch(attendance.AgentPrincipal(otherAgentID)), attendance.ErrForbidden)
	require.ErrorIs(t, fetch(attendance.BeneficiaryPrincipal(beneficiaryID)), attendance.ErrForbidden)
	require.NoError(t, fetch(attendance.SupervisorPrincipal("sara")))

	// The journey reads the engine's store.
	journey, err := beneficiary.NewJourney(engine.Store(), memdata.NewOccurrences(), nil)
	require.NoError(t, err)
	page, err := journey.Page(ctx, beneficiary.JourneyQuery{BeneficiaryID: beneficiaryID})
	require.NoError(t, err)
	require.Len(t, page.Entries, 2) // the conversation and its accept
	require.Equal(t, beneficiary.EntryConversationEvent, page.Entries[0].Kind)

	_, err = engine.Finalize(ctx, ana, attendance.FinalizeParams{ConversationID: convID, Reason: "resolvido"})
	require.NoError(t, err)
	require.ErrorIs(t, fetch(ana), attendance.ErrForbidden, "a finalized conversation is no longer hers")

	page, err = journey.Page(ctx, beneficiary.JourneyQuery{BeneficiaryID: beneficiaryID})
	require.NoError(t, err)
	require.Len(t, page.Entries, 3)
	require.Equal(t, "Atendimento finalizado: resolvido", page.Entries[0].Title)
}
