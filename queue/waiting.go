package queue

// Item is a conversation waiting in a queue.
type Item struct {
	ID string
	// Priority: higher is served first.
	Priority int
	// Arrival orders items of equal priority: earlier first. Any monotonic
	// unit works (the engine uses Unix nanoseconds of the first arrival).
	Arrival int64
}

// Before reports whether a is served before b: higher priority, then earlier
// arrival, then smaller ID (so the order is total and deterministic).
func (a Item) Before(b Item) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	if a.Arrival != b.Arrival {
		return a.Arrival < b.Arrival
	}
	return a.ID < b.ID
}

// Waiting is the ordered set of items of one queue. Insert, Remove, First and
// Rank cost O(log n) expected. The zero value is an empty set. Not safe for
// concurrent use.
type Waiting struct {
	root *node
	byID map[string]*node
	rng  uint64
}

// node is a treap node: a binary search tree by Item order and a heap by
// weight, with subtree sizes for Rank.
type node struct {
	item        Item
	weight      uint64
	size        int
	left, right *node
}

func size(n *node) int {
	if n == nil {
		return 0
	}
	return n.size
}

func (n *node) fix() { n.size = 1 + size(n.left) + size(n.right) }

// nextWeight is a xorshift generator: deterministic, no global state.
func (w *Waiting) nextWeight() uint64 {
	if w.rng == 0 {
		w.rng = 0x9e3779b97f4a7c15
	}
	w.rng ^= w.rng << 13
	w.rng ^= w.rng >> 7
	w.rng ^= w.rng << 17
	return w.rng
}

// split divides t into the items before it and the rest.
func split(t *node, it Item) (l, r *node) {
	if t == nil {
		return nil, nil
	}
	if t.item.Before(it) {
		t.right, r = split(t.right, it)
		t.fix()
		return t, r
	}
	l, t.left = split(t.left, it)
	t.fix()
	return l, t
}

// merge joins l and r where every item of l is before every item of r.
func merge(l, r *node) *node {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.weight > r.weight:
		l.right = merge(l.right, r)
		l.fix()
		return l
	default:
		r.left = merge(l, r.left)
		r.fix()
		return r
	}
}

// Len returns the number of items.
func (w *Waiting) Len() int { return size(w.root) }

// Contains reports whether an item with that ID is present.
func (w *Waiting) Contains(id string) bool {
	_, ok := w.byID[id]
	return ok
}

// Insert adds it, replacing an item with the same ID.
func (w *Waiting) Insert(it Item) {
	w.Remove(it.ID)
	if w.byID == nil {
		w.byID = make(map[string]*node)
	}
	n := &node{item: it, weight: w.nextWeight(), size: 1}
	l, r := split(w.root, it)
	w.root = merge(merge(l, n), r)
	w.byID[it.ID] = n
}

// Remove deletes the item with that ID and reports whether it was present.
func (w *Waiting) Remove(id string) bool {
	n, ok := w.byID[id]
	if !ok {
		return false
	}
	delete(w.byID, id)
	w.root = remove(w.root, n.item)
	return true
}

func remove(t *node, it Item) *node {
	if t == nil {
		return nil
	}
	switch {
	case t.item.ID == it.ID:
		return merge(t.left, t.right)
	case it.Before(t.item):
		t.left = remove(t.left, it)
	default:
		t.right = remove(t.right, it)
	}
	t.fix()
	return t
}

// First returns the item served next.
func (w *Waiting) First() (Item, bool) {
	t := w.root
	if t == nil {
		return Item{}, false
	}
	for t.left != nil {
		t = t.left
	}
	return t.item, true
}

// Rank returns the 1-based position of the item with that ID.
func (w *Waiting) Rank(id string) (int, bool) {
	n, ok := w.byID[id]
	if !ok {
		return 0, false
	}
	rank, t := 0, w.root
	for t != nil {
		switch {
		case t == n:
			return rank + size(t.left) + 1, true
		case n.item.Before(t.item):
			t = t.left
		default:
			rank += size(t.left) + 1
			t = t.right
		}
	}
	return 0, false
}

// Items returns all items in service order. It costs O(n).
func (w *Waiting) Items() []Item {
	out := make([]Item, 0, w.Len())
	var walk func(*node)
	walk = func(t *node) {
		if t == nil {
			return
		}
		walk(t.left)
		out = append(out, t.item)
		walk(t.right)
	}
	walk(w.root)
	return out
}
