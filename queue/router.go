package queue

import "slices"

// AgentState is what the router knows of an agent.
type AgentState struct {
	ID           string
	Online       bool
	Load         int
	Min, Max     int
	LastAssigned int64
	Queues       []string
}

func (a AgentState) eligible() bool { return a.Online && a.Load < a.Max }

func (a AgentState) candidate() Candidate {
	return Candidate{ID: a.ID, Load: a.Load, Min: a.Min, Max: a.Max, LastAssigned: a.LastAssigned}
}

// Decision is one routing choice: offer Item (waiting in Queue) to Agent.
type Decision struct {
	Queue string
	Item  Item
	Agent string
}

// Router holds the waiting items and the candidate agents of every queue and
// picks the next offer. Updating an agent costs O(q log n) for an agent
// serving q queues; Next costs O(Q) for Q queues with both waiting items and
// candidates. Not safe for concurrent use; the zero value is not usable, call
// NewRouter.
type Router struct {
	queues map[string]*queueState
	agents map[string]AgentState
	// itemQueue maps an item ID to its queue.
	itemQueue map[string]string
}

type queueState struct {
	waiting     Waiting
	pool        Pool
	onlineSlots int
}

// countSlots adds (sign 1) or removes (sign -1) an agent's places from the
// online slots of the queues it serves.
func (r *Router) countSlots(a AgentState, sign int) {
	if !a.Online {
		return
	}
	for _, qid := range a.Queues {
		r.queue(qid).onlineSlots += sign * a.Max
	}
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	return &Router{
		queues:    make(map[string]*queueState),
		agents:    make(map[string]AgentState),
		itemQueue: make(map[string]string),
	}
}

func (r *Router) queue(id string) *queueState {
	q, ok := r.queues[id]
	if !ok {
		q = &queueState{}
		r.queues[id] = q
	}
	return q
}

// SetAgent adds or replaces an agent.
func (r *Router) SetAgent(a AgentState) {
	old, had := r.agents[a.ID]
	if had {
		r.countSlots(old, -1)
	}
	r.countSlots(a, 1)
	if had && slices.Equal(old.Queues, a.Queues) {
		a.Queues = old.Queues // keep the router's own copy
	} else {
		if had {
			for _, qid := range old.Queues {
				r.queue(qid).pool.Remove(a.ID)
			}
		}
		a.Queues = slices.Clone(a.Queues)
	}
	r.agents[a.ID] = a
	if !a.eligible() {
		for _, qid := range a.Queues {
			r.queue(qid).pool.Remove(a.ID)
		}
		return
	}
	c := a.candidate()
	for _, qid := range a.Queues {
		r.queue(qid).pool.Set(c)
	}
}

// Agent returns what the router knows of an agent.
func (r *Router) Agent(id string) (AgentState, bool) {
	a, ok := r.agents[id]
	return a, ok
}

// RemoveAgent forgets an agent.
func (r *Router) RemoveAgent(id string) {
	if old, ok := r.agents[id]; ok {
		r.countSlots(old, -1)
		for _, qid := range old.Queues {
			r.queue(qid).pool.Remove(id)
		}
		delete(r.agents, id)
	}
}

// Enqueue puts an item in a queue, moving it if it waits elsewhere.
func (r *Router) Enqueue(queueID string, it Item) {
	r.Dequeue(it.ID)
	r.queue(queueID).waiting.Insert(it)
	r.itemQueue[it.ID] = queueID
}

// Dequeue removes an item from whatever queue holds it.
func (r *Router) Dequeue(id string) bool {
	qid, ok := r.itemQueue[id]
	if !ok {
		return false
	}
	delete(r.itemQueue, id)
	return r.queue(qid).waiting.Remove(id)
}

// Position returns the queue holding the item and its 1-based rank there.
func (r *Router) Position(id string) (queueID string, rank int, ok bool) {
	qid, ok := r.itemQueue[id]
	if !ok {
		return "", 0, false
	}
	rank, ok = r.queue(qid).waiting.Rank(id)
	return qid, rank, ok
}

// Waiting returns the number of items in a queue.
func (r *Router) Waiting(queueID string) int {
	if q, ok := r.queues[queueID]; ok {
		return q.waiting.Len()
	}
	return 0
}

// OnlineSlots returns the sum of Max over the online agents serving a queue:
// how many conversations the queue's agents can hold at once. O(1).
func (r *Router) OnlineSlots(queueID string) int {
	if q, ok := r.queues[queueID]; ok {
		return q.onlineSlots
	}
	return 0
}

// Items returns a queue's items in service order.
func (r *Router) Items(queueID string) []Item {
	if q, ok := r.queues[queueID]; ok {
		return q.waiting.Items()
	}
	return nil
}

// Next returns the offer routing would make now: among the queues that have
// both a waiting item and a candidate, the queue whose first item comes first
// (priority, then arrival), and that queue's best candidate. It changes
// nothing; the caller applies the decision (or learns it is stale) and tells
// the router.
func (r *Router) Next() (Decision, bool) { return r.NextAvoiding(nil) }

// NextAvoiding is Next, but for each item it passes over the candidates for
// which avoid(itemID, agentID) is true (agents who declined that item), unless
// no other candidate is left.
func (r *Router) NextAvoiding(avoid func(itemID, agentID string) bool) (Decision, bool) {
	var best Decision
	found := false
	for qid, q := range r.queues {
		it, ok := q.waiting.First()
		if !ok || found && !it.Before(best.Item) {
			continue
		}
		c, ok := q.pool.Best()
		if !ok {
			continue
		}
		if avoid != nil && avoid(it.ID, c.ID) {
			if other, ok := q.pool.BestWhere(func(c Candidate) bool { return !avoid(it.ID, c.ID) }); ok {
				c = other
			}
		}
		best = Decision{Queue: qid, Item: it, Agent: c.ID}
		found = true
	}
	return best, found
}
