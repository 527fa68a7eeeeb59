// Package queue is MosiaChat's routing policy and its data structures, pure:
// no I/O, no clock, no goroutines.
//
// A queue's waiting conversations are ordered by priority (higher first) and
// then by arrival (earlier first), in a [Waiting] set that also answers a
// conversation's position. The agents that can take a conversation from a
// queue sit in a [Pool], best first: agents below their profile's Min, then
// the least loaded (load = offered + active), then the one idle longest. A
// [Router] ties queues and agents together and says which offer to make next.
//
// # Cost
//
// Insert, remove and rank of a waiting item, and the update of an agent
// serving q queues, cost O(log n) and O(q log n); picking the next offer
// costs O(Q) in the number of queues, whatever the number of agents.
//
// # Concurrency
//
// Nothing here is safe for concurrent use; the attendance engine guards its
// router with a mutex.
package queue
