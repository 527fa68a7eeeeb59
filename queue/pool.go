package queue

import "container/heap"

// Candidate is an agent that can take a conversation: online, serving the
// queue, with Load < Max.
type Candidate struct {
	ID       string
	Load     int
	Min, Max int
	// LastAssigned is when the agent last received a conversation; smaller
	// means idle longer.
	LastAssigned int64
}

// Better reports whether a is chosen before b: agents below their Min first,
// then the least loaded, then the one idle longest, then the smaller ID.
func (a Candidate) Better(b Candidate) bool {
	aBelow, bBelow := a.Load < a.Min, b.Load < b.Min
	if aBelow != bBelow {
		return aBelow
	}
	if a.Load != b.Load {
		return a.Load < b.Load
	}
	if a.LastAssigned != b.LastAssigned {
		return a.LastAssigned < b.LastAssigned
	}
	return a.ID < b.ID
}

// Pool is the set of candidates of one queue, best first. Set and Remove cost
// O(log n), Best O(1). The zero value is empty. Not safe for concurrent use.
type Pool struct {
	h candidateHeap
}

// Len returns the number of candidates.
func (p *Pool) Len() int { return len(p.h.items) }

// Best returns the candidate routing would pick.
func (p *Pool) Best() (Candidate, bool) {
	if len(p.h.items) == 0 {
		return Candidate{}, false
	}
	return p.h.items[0].c, true
}

// Set adds c or updates the candidate with c's ID.
func (p *Pool) Set(c Candidate) {
	if p.h.byID == nil {
		p.h.byID = make(map[string]*poolEntry)
	}
	if e, ok := p.h.byID[c.ID]; ok {
		e.c = c
		heap.Fix(&p.h, e.pos)
		return
	}
	heap.Push(&p.h, &poolEntry{c: c})
}

// Remove deletes the candidate with that ID, if present.
func (p *Pool) Remove(id string) {
	if e, ok := p.h.byID[id]; ok {
		heap.Remove(&p.h, e.pos)
	}
}

// BestWhere returns the best candidate for which ok is true. It visits
// candidates in order of preference, so it costs O(k log k) for the k
// candidates it rejects before it finds one.
func (p *Pool) BestWhere(ok func(Candidate) bool) (Candidate, bool) {
	items := p.h.items
	if len(items) == 0 {
		return Candidate{}, false
	}
	frontier := &indexHeap{items: items, idx: []int{0}}
	for frontier.Len() > 0 {
		i := heap.Pop(frontier).(int)
		if ok(items[i].c) {
			return items[i].c, true
		}
		for _, child := range [2]int{2*i + 1, 2*i + 2} {
			if child < len(items) {
				heap.Push(frontier, child)
			}
		}
	}
	return Candidate{}, false
}

// poolEntry is a candidate and its position in the heap; entries are
// pointers so a swap updates two ints instead of an index map.
type poolEntry struct {
	c   Candidate
	pos int
}

// candidateHeap is a binary heap of entries with an ID -> entry index.
type candidateHeap struct {
	items []*poolEntry
	byID  map[string]*poolEntry
}

func (h *candidateHeap) Len() int           { return len(h.items) }
func (h *candidateHeap) Less(i, j int) bool { return h.items[i].c.Better(h.items[j].c) }
func (h *candidateHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].pos = i
	h.items[j].pos = j
}
func (h *candidateHeap) Push(x any) {
	e := x.(*poolEntry)
	e.pos = len(h.items)
	h.items = append(h.items, e)
	h.byID[e.c.ID] = e
}
func (h *candidateHeap) Pop() any {
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	delete(h.byID, last.c.ID)
	return last
}

// indexHeap orders positions of a candidate heap by preference.
type indexHeap struct {
	items []*poolEntry
	idx   []int
}

func (h *indexHeap) Len() int           { return len(h.idx) }
func (h *indexHeap) Less(i, j int) bool { return h.items[h.idx[i]].c.Better(h.items[h.idx[j]].c) }
func (h *indexHeap) Swap(i, j int)      { h.idx[i], h.idx[j] = h.idx[j], h.idx[i] }
func (h *indexHeap) Push(x any)         { h.idx = append(h.idx, x.(int)) }
func (h *indexHeap) Pop() any {
	last := h.idx[len(h.idx)-1]
	h.idx = h.idx[:len(h.idx)-1]
	return last
}
