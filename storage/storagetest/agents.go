package storagetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// agents covers UpsertAgent, GetAgent, ListAgents and SetPresence.
func (s suite) agents(t *testing.T) {
	s.run(t, "UpsertCreatesOfflineAgent", func(t *testing.T, f *fixture) {
		params := attendance.UpsertAgentParams{
			ID:   newID("agent"),
			Name: "Ana Souza",
			Profile: attendance.Profile{
				Min: 1, Max: 4, Queues: []string{f.queue, "queue-other"},
				OfferTimeout: offerTTL, AutoAcceptBelowMin: true,
				Widgets: []string{"usage"}, Shortcuts: "nurses",
			},
			At: base,
		}
		got, err := f.s.UpsertAgent(f.ctx, params)
		require.NoError(t, err)
		want := attendance.Agent{
			ID: params.ID, Name: params.Name, Profile: params.Profile,
			Presence: attendance.PresenceOffline, Load: 0,
		}
		want.LastAssignedAt = got.LastAssignedAt // unspecified for a new agent
		requireAgent(t, want, got)
		requireAgent(t, got, f.getAgent(params.ID))
	})

	s.run(t, "UpsertReplacesNameAndProfileKeepsPresenceAndLoad", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(3)
		f.offer(f.conversation().ID, a.ID)
		before := f.getAgent(a.ID)
		require.Equal(t, 1, before.Load)

		profile := f.profile(5)
		profile.Queues = append(profile.Queues, "queue-extra")
		profile.Widgets = nil
		got, err := f.s.UpsertAgent(f.ctx, attendance.UpsertAgentParams{
			ID: a.ID, Name: "Renamed", Profile: profile, At: at(5),
		})
		require.NoError(t, err)
		want := before
		want.Name = "Renamed"
		want.Profile = profile
		requireAgent(t, want, got)
		requireAgent(t, want, f.getAgent(a.ID))
	})

	s.run(t, "UpsertLoweredMaxOnlyStopsNewOffers", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(3)
		f.offer(f.conversation().ID, a.ID)
		f.activate(f.conversation().ID, a.ID)
		_, err := f.s.UpsertAgent(f.ctx, attendance.UpsertAgentParams{ID: a.ID, Name: a.Name, Profile: f.profile(1), At: at(5)})
		require.NoError(t, err)
		require.Equal(t, 2, f.load(a.ID), "a lowered Max keeps the load")

		c := f.conversation()
		before := f.snapshot(c.ID, a.ID)
		_, _, err = f.s.Transition(f.ctx, f.offerParams(c.ID, a.ID))
		require.ErrorIs(t, err, attendance.ErrAgentAtCapacity)
		f.requireUnchanged(before)
	})

	s.run(t, "UpsertRejectsInvalid", func(t *testing.T, f *fixture) {
		_, err := f.s.UpsertAgent(f.ctx, attendance.UpsertAgentParams{Name: "No ID", Profile: f.profile(1), At: base})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument, "empty ID")

		bad := map[string]attendance.Profile{
			"Max zero":          {Max: 0, Queues: []string{f.queue}},
			"Min negative":      {Min: -1, Max: 1, Queues: []string{f.queue}},
			"Min above Max":     {Min: 3, Max: 2, Queues: []string{f.queue}},
			"no queues":         {Max: 2},
			"negative timeouts": {Max: 2, Queues: []string{f.queue}, OfferTimeout: -1},
		}
		for name, p := range bad {
			id := newID("agent")
			_, err := f.s.UpsertAgent(f.ctx, attendance.UpsertAgentParams{ID: id, Name: name, Profile: p, At: base})
			require.ErrorIs(t, err, attendance.ErrInvalidArgument, name)
			_, err = f.s.GetAgent(f.ctx, id)
			require.ErrorIs(t, err, attendance.ErrNotFound, "%s: a rejected agent must not be stored", name)
		}

		// A bad profile does not touch an existing agent.
		a := f.onlineAgent(2)
		_, err = f.s.UpsertAgent(f.ctx, attendance.UpsertAgentParams{ID: a.ID, Name: "x", Profile: attendance.Profile{Max: 0}, At: base})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument)
		requireAgent(t, a, f.getAgent(a.ID))
	})

	s.run(t, "GetUnknown", func(t *testing.T, f *fixture) {
		_, err := f.s.GetAgent(f.ctx, newID("agent"))
		require.ErrorIs(t, err, attendance.ErrNotFound)
	})

	s.run(t, "ListOrderAndFilters", func(t *testing.T, f *fixture) {
		prefix := newID("agent")
		mk := func(suffix string, presence attendance.Presence, queues ...string) attendance.Agent {
			p := f.profile(2)
			p.Queues = queues
			a, err := f.s.UpsertAgent(f.ctx, attendance.UpsertAgentParams{ID: prefix + suffix, Name: suffix, Profile: p, At: base})
			require.NoError(t, err)
			if presence != attendance.PresenceOffline {
				a, err = f.s.SetPresence(f.ctx, attendance.SetPresenceParams{AgentID: a.ID, Presence: presence, At: base})
				require.NoError(t, err)
			}
			return a
		}
		// Created out of order; listed by ID.
		c := mk("-c", attendance.PresenceOnline, "q-a", "q-b")
		a := mk("-a", attendance.PresenceOnline, "q-a")
		d := mk("-d", attendance.PresenceAway, "q-b")
		b := mk("-b", attendance.PresenceOffline, "q-a")

		ids := func(filter attendance.ListAgentsFilter) []string {
			t.Helper()
			agents, err := f.s.ListAgents(f.ctx, filter)
			require.NoError(t, err)
			out := make([]string, len(agents))
			for i, ag := range agents {
				out[i] = ag.ID
			}
			return out
		}
		require.Equal(t, []string{a.ID, b.ID, c.ID, d.ID}, ids(attendance.ListAgentsFilter{}), "all, by ID")
		require.Equal(t, []string{a.ID, c.ID}, ids(attendance.ListAgentsFilter{Presence: attendance.PresenceOnline}))
		require.Equal(t, []string{d.ID}, ids(attendance.ListAgentsFilter{Presence: attendance.PresenceAway}))
		require.Equal(t, []string{b.ID}, ids(attendance.ListAgentsFilter{Presence: attendance.PresenceOffline}))
		require.Equal(t, []string{a.ID, b.ID, c.ID}, ids(attendance.ListAgentsFilter{QueueID: "q-a"}))
		require.Equal(t, []string{c.ID, d.ID}, ids(attendance.ListAgentsFilter{QueueID: "q-b"}))
		require.Equal(t, []string{c.ID}, ids(attendance.ListAgentsFilter{QueueID: "q-b", Presence: attendance.PresenceOnline}))
		require.Empty(t, ids(attendance.ListAgentsFilter{QueueID: "q-none"}))

		agents, err := f.s.ListAgents(f.ctx, attendance.ListAgentsFilter{QueueID: "q-a", Presence: attendance.PresenceOnline})
		require.NoError(t, err)
		require.Len(t, agents, 2)
		requireAgent(t, a, agents[0])
		requireAgent(t, c, agents[1])

		_, err = f.s.ListAgents(f.ctx, attendance.ListAgentsFilter{Presence: "busy"})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	})

	s.run(t, "ListEmpty", func(t *testing.T, f *fixture) {
		agents, err := f.s.ListAgents(f.ctx, attendance.ListAgentsFilter{})
		require.NoError(t, err)
		require.Empty(t, agents)
	})

	s.run(t, "SetPresence", func(t *testing.T, f *fixture) {
		a := f.agent(2)
		set := func(p attendance.Presence, sec int) attendance.Agent {
			t.Helper()
			got, err := f.s.SetPresence(f.ctx, attendance.SetPresenceParams{AgentID: a.ID, Presence: p, At: at(sec)})
			require.NoError(t, err)
			require.Equal(t, p, got.Presence)
			requireAgent(t, got, f.getAgent(a.ID))
			return got
		}
		got := set(attendance.PresenceOnline, 10)
		requireTime(t, at(10), got.LastAssignedAt, "coming online sets LastAssignedAt")
		got = set(attendance.PresenceOnline, 20)
		requireTime(t, at(10), got.LastAssignedAt, "staying online keeps LastAssignedAt")
		got = set(attendance.PresenceAway, 30)
		requireTime(t, at(10), got.LastAssignedAt, "going away keeps LastAssignedAt")
		got = set(attendance.PresenceOnline, 40)
		requireTime(t, at(40), got.LastAssignedAt, "back online from away")
		got = set(attendance.PresenceOffline, 50)
		requireTime(t, at(40), got.LastAssignedAt, "going offline keeps LastAssignedAt")
		got = set(attendance.PresenceOnline, 60)
		requireTime(t, at(60), got.LastAssignedAt, "back online from offline")
		require.Equal(t, 0, got.Load)
	})

	s.run(t, "SetPresenceKeepsLoad", func(t *testing.T, f *fixture) {
		a := f.onlineAgent(3)
		f.offer(f.conversation().ID, a.ID)
		f.activate(f.conversation().ID, a.ID)
		for _, p := range []attendance.Presence{attendance.PresenceAway, attendance.PresenceOffline, attendance.PresenceOnline} {
			got, err := f.s.SetPresence(f.ctx, attendance.SetPresenceParams{AgentID: a.ID, Presence: p, At: at(20)})
			require.NoError(t, err)
			require.Equal(t, 2, got.Load, "presence %s", p)
		}
	})

	s.run(t, "SetPresenceErrors", func(t *testing.T, f *fixture) {
		_, err := f.s.SetPresence(f.ctx, attendance.SetPresenceParams{AgentID: newID("agent"), Presence: attendance.PresenceOnline, At: base})
		require.ErrorIs(t, err, attendance.ErrNotFound, "unknown agent")
		_, err = f.s.SetPresence(f.ctx, attendance.SetPresenceParams{Presence: attendance.PresenceOnline, At: base})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument, "empty ID")

		a := f.agent(1)
		_, err = f.s.SetPresence(f.ctx, attendance.SetPresenceParams{AgentID: a.ID, Presence: "busy", At: base})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument, "unknown presence")
		_, err = f.s.SetPresence(f.ctx, attendance.SetPresenceParams{AgentID: a.ID, At: base})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument, "empty presence")
		requireAgent(t, a, f.getAgent(a.ID))
	})

	s.run(t, "ReturnsCopies", func(t *testing.T, f *fixture) {
		params := attendance.UpsertAgentParams{ID: newID("agent"), Name: "Copy", Profile: f.profile(2), At: base}
		got, err := f.s.UpsertAgent(f.ctx, params)
		require.NoError(t, err)
		want := f.getAgent(params.ID)
		want.Profile.Queues = []string{f.queue}
		want.Profile.Widgets = []string{"usage", "bank-slips"}

		// Changing the params or a returned value must not reach the store.
		params.Profile.Queues[0] = "mutated"
		params.Profile.Widgets[0] = "mutated"
		got.Profile.Queues[0] = "mutated"
		got.Profile.Widgets[1] = "mutated"
		read := f.getAgent(params.ID)
		read.Profile.Queues[0] = "mutated"
		listed, err := f.s.ListAgents(f.ctx, attendance.ListAgentsFilter{})
		require.NoError(t, err)
		require.Len(t, listed, 1)
		listed[0].Profile.Widgets[0] = "mutated"

		requireAgent(t, want, f.getAgent(params.ID))
	})
}
