package queue

import (
	"container/heap"
	"fmt"
	"testing"
)

// BenchmarkRouterDecision measures one routing decision at steady state with
// n agents and n waiting conversations in one queue: pick (Next), remove the
// item, raise the agent's load, then the agent finishes a chat (load back
// down) and a new conversation arrives, so the sizes stay n.
func BenchmarkRouterDecision(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			r := NewRouter()
			queues := []string{"q"}
			agents := make([]AgentState, n)
			for i := range agents {
				agents[i] = AgentState{ID: fmt.Sprintf("a%05d", i), Online: true, Min: 1, Max: 4, Load: i % 3, LastAssigned: int64(i), Queues: queues}
				r.SetAgent(agents[i])
			}
			for i := range n {
				r.Enqueue("q", Item{ID: fmt.Sprintf("c%d", i), Arrival: int64(i)})
			}
			index := make(map[string]int, n)
			for i, a := range agents {
				index[a.ID] = i
			}
			next := int64(n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				d, ok := r.Next()
				if !ok {
					b.Fatal("no decision")
				}
				r.Dequeue(d.Item.ID)
				a := &agents[index[d.Agent]]
				a.Load++
				a.LastAssigned = next
				r.SetAgent(*a)
				a.Load--
				r.SetAgent(*a)
				r.Enqueue("q", Item{ID: fmt.Sprintf("c%d", next), Arrival: next})
				next++
			}
		})
	}
}

// BenchmarkBaselineHeapPick is the floor routing is compared with: a plain
// binary heap of n agents keyed by load, doing only the pick and the
// re-insert of the picked agent, with no queue of conversations at all.
func BenchmarkBaselineHeapPick(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("agents=%d", n), func(b *testing.B) {
			h := make(loadHeap, n)
			for i := range h {
				h[i] = i % 3
			}
			heap.Init(&h)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				l := heap.Pop(&h).(int)
				heap.Push(&h, l)
			}
		})
	}
}

type loadHeap []int

func (h loadHeap) Len() int           { return len(h) }
func (h loadHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h loadHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *loadHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *loadHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
