package queue

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestItemOrder(t *testing.T) {
	tests := []struct {
		name string
		a, b Item
		want bool
	}{
		{"higher priority first", Item{ID: "b", Priority: 2, Arrival: 9}, Item{ID: "a", Priority: 1, Arrival: 1}, true},
		{"earlier arrival first", Item{ID: "b", Arrival: 1}, Item{ID: "a", Arrival: 2}, true},
		{"later arrival after", Item{ID: "a", Arrival: 2}, Item{ID: "b", Arrival: 1}, false},
		{"ID breaks ties", Item{ID: "a", Arrival: 1}, Item{ID: "b", Arrival: 1}, true},
		{"not before itself", Item{ID: "a", Arrival: 1}, Item{ID: "a", Arrival: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.a.Before(tt.b))
		})
	}
}

func TestCandidateOrder(t *testing.T) {
	tests := []struct {
		name string
		a, b Candidate
		want bool
	}{
		{"below Min beats less loaded at Min", Candidate{ID: "a", Load: 2, Min: 3, Max: 5}, Candidate{ID: "b", Load: 1, Min: 1, Max: 5}, true},
		{"less loaded first", Candidate{ID: "b", Load: 1, Max: 5}, Candidate{ID: "a", Load: 2, Max: 5}, true},
		{"idle longest first", Candidate{ID: "b", Load: 1, Max: 5, LastAssigned: 1}, Candidate{ID: "a", Load: 1, Max: 5, LastAssigned: 2}, true},
		{"ID breaks ties", Candidate{ID: "a", Max: 5}, Candidate{ID: "b", Max: 5}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.a.Better(tt.b))
			require.Equal(t, !tt.want, tt.b.Better(tt.a))
		})
	}
}

// TestWaitingMatchesSortedModel drives the treap and a sorted slice with the
// same random operations and compares order, first item and ranks.
func TestWaitingMatchesSortedModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var w Waiting
	model := map[string]Item{}
	for step := range 5000 {
		id := fmt.Sprintf("c%d", rng.IntN(300))
		switch rng.IntN(3) {
		case 0, 1:
			it := Item{ID: id, Priority: rng.IntN(3), Arrival: rng.Int64N(1000)}
			w.Insert(it)
			model[id] = it
		case 2:
			_, had := model[id]
			require.Equal(t, had, w.Remove(id), "step %d", step)
			delete(model, id)
		}
		want := make([]Item, 0, len(model))
		for _, it := range model {
			want = append(want, it)
		}
		sort.Slice(want, func(i, j int) bool { return want[i].Before(want[j]) })
		require.Equal(t, len(want), w.Len())
		if step%97 == 0 {
			require.Equal(t, want, w.Items(), "step %d", step)
			for i, it := range want {
				r, ok := w.Rank(it.ID)
				require.True(t, ok)
				require.Equal(t, i+1, r)
			}
		}
		first, ok := w.First()
		require.Equal(t, len(want) > 0, ok)
		if ok {
			require.Equal(t, want[0], first)
		}
	}
}

func TestPoolBestAndBestWhere(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var p Pool
	model := map[string]Candidate{}
	for step := range 3000 {
		id := fmt.Sprintf("a%d", rng.IntN(100))
		if rng.IntN(4) == 0 {
			p.Remove(id)
			delete(model, id)
		} else {
			c := Candidate{ID: id, Load: rng.IntN(4), Min: rng.IntN(3), Max: 5, LastAssigned: rng.Int64N(50)}
			p.Set(c)
			model[id] = c
		}
		all := make([]Candidate, 0, len(model))
		for _, c := range model {
			all = append(all, c)
		}
		slices.SortFunc(all, func(a, b Candidate) int {
			if a.Better(b) {
				return -1
			}
			return 1
		})
		require.Equal(t, len(all), p.Len())
		best, ok := p.Best()
		require.Equal(t, len(all) > 0, ok)
		if ok {
			require.Equal(t, all[0], best, "step %d", step)
		}
		// The best candidate with an odd load, found by the frontier walk.
		odd := func(c Candidate) bool { return c.Load%2 == 1 }
		got, ok := p.BestWhere(odd)
		i := slices.IndexFunc(all, odd)
		require.Equal(t, i >= 0, ok)
		if ok {
			require.Equal(t, all[i], got, "step %d", step)
		}
	}
}

func TestRouterNext(t *testing.T) {
	r := NewRouter()
	_, ok := r.Next()
	require.False(t, ok, "empty router decides nothing")

	r.Enqueue("billing", Item{ID: "late", Arrival: 20})
	r.Enqueue("billing", Item{ID: "early", Arrival: 10})
	r.Enqueue("clinical", Item{ID: "urgent", Priority: 5, Arrival: 30})
	_, ok = r.Next()
	require.False(t, ok, "no agent, no decision")

	r.SetAgent(AgentState{ID: "ana", Online: true, Max: 2, Queues: []string{"billing"}})
	d, ok := r.Next()
	require.True(t, ok)
	require.Equal(t, Decision{Queue: "billing", Item: Item{ID: "early", Arrival: 10}, Agent: "ana"}, d,
		"the clinical queue has no agent, so billing's first is next")

	r.SetAgent(AgentState{ID: "bia", Online: true, Max: 2, Queues: []string{"billing", "clinical"}})
	d, ok = r.Next()
	require.True(t, ok)
	require.Equal(t, "urgent", d.Item.ID, "higher priority first across queues")
	require.Equal(t, "bia", d.Agent)

	// Full or offline agents are no candidates.
	r.SetAgent(AgentState{ID: "bia", Online: true, Load: 2, Max: 2, Queues: []string{"billing", "clinical"}})
	r.SetAgent(AgentState{ID: "ana", Online: false, Max: 2, Queues: []string{"billing"}})
	_, ok = r.Next()
	require.False(t, ok)

	// Avoiding: bia declined "early", so ana (worse: more loaded) gets it;
	// with nobody else, bia gets it again.
	r.SetAgent(AgentState{ID: "bia", Online: true, Max: 2, Queues: []string{"billing"}})
	r.SetAgent(AgentState{ID: "ana", Online: true, Load: 1, Max: 2, Queues: []string{"billing"}})
	r.Dequeue("urgent")
	avoid := func(item, agent string) bool { return item == "early" && agent == "bia" }
	d, _ = r.NextAvoiding(avoid)
	require.Equal(t, "ana", d.Agent)
	r.RemoveAgent("ana")
	d, _ = r.NextAvoiding(avoid)
	require.Equal(t, "bia", d.Agent)

	q, rank, ok := r.Position("late")
	require.True(t, ok)
	require.Equal(t, "billing", q)
	require.Equal(t, 2, rank)
	require.Equal(t, 2, r.Waiting("billing"))
	require.Equal(t, 2, r.OnlineSlots("billing"), "bia alone (ana was removed), Max 2")
	r.SetAgent(AgentState{ID: "cris", Online: true, Max: 3, Queues: []string{"billing", "clinical"}})
	require.Equal(t, 5, r.OnlineSlots("billing"))
	r.SetAgent(AgentState{ID: "bia", Online: false, Max: 2, Queues: []string{"billing"}})
	require.Equal(t, 3, r.OnlineSlots("billing"))
	r.RemoveAgent("cris")
	require.Equal(t, 0, r.OnlineSlots("billing"))
	r.SetAgent(AgentState{ID: "bia", Online: true, Max: 2, Queues: []string{"billing"}})

	r.Enqueue("clinical", Item{ID: "late", Arrival: 20})
	q, rank, _ = r.Position("late")
	require.Equal(t, "clinical", q, "enqueue moves an item between queues")
	require.Equal(t, 1, rank)
	require.Equal(t, 1, r.Waiting("billing"))
}
