package attendance_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
)

// TestNotifyResyncReloadsTheIndex runs two engines on one store, each with
// a bus of its own, so that neither hears the other: B learns of A's agent
// only when its bus says that notifications may have been lost.
func TestNotifyResyncReloadsTheIndex(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	store := memory.New()
	cfgA := testConfig(clock)
	cfgA.Bus = attendance.NewLocalBus()
	cfgB := *cfgA // one NewID for both engines
	busB := attendance.NewLocalBus()
	cfgB.Bus = busB
	a, err := attendance.New(store, cfgA)
	require.NoError(t, err)
	b, err := attendance.New(store, &cfgB)
	require.NoError(t, err)
	_, err = b.ExpireOffers(ctx) // B's index is loaded, without the agent
	require.NoError(t, err)

	supervisor, err := b.Subscribe(ctx, attendance.Principal{Role: attendance.RoleSupervisor, ID: "sup"}, attendance.SubscribeParams{})
	require.NoError(t, err)
	defer supervisor.Close()
	agent, err := b.Subscribe(ctx, agentP("ana"), attendance.SubscribeParams{})
	require.NoError(t, err)
	defer agent.Close()

	_, err = a.UpsertAgent(ctx, attendance.AgentParams{ID: "ana", Name: "Ana", Profile: attendance.Profile{Min: 1, Max: 1, Queues: []string{"geral"}}})
	require.NoError(t, err)
	_, err = a.SetPresence(ctx, agentP("ana"), attendance.PresenceOnline)
	require.NoError(t, err)
	c, err := b.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
	require.NoError(t, err)
	_, err = b.ExpireOffers(ctx)
	require.NoError(t, err)
	got, err := store.GetConversation(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, attendance.StateQueued, got.State, "B has not heard of Ana")

	require.NoError(t, busB.Publish(ctx, attendance.Notification{Kind: attendance.NotifyResync}))
	_, err = b.ExpireOffers(ctx)
	require.NoError(t, err)
	got, err = store.GetConversation(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, attendance.StateOffered, got.State, "the resync reloaded B's index")
	require.Equal(t, "ana", got.AgentID)

	// A supervisor hears of the resync; an agent hears only of the offer.
	waitCtx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	ns, err := supervisor.Next(waitCtx)
	require.NoError(t, err)
	require.Contains(t, ns, attendance.Notification{Kind: attendance.NotifyResync})
	ns, err = agent.Next(waitCtx)
	require.NoError(t, err)
	for _, n := range ns {
		require.NotEqual(t, attendance.NotifyResync, n.Kind)
	}
}
