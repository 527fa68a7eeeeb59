// Package memory is an in-memory [attendance.Store]: the default backend of
// tests, benchmarks and the minimal examples. It keeps everything in maps and
// slices behind one lock and forgets it all when the process ends.
//
// It passes the conformance suite in storage/storagetest, so it behaves like
// the SQL backends in every observable way except durability.
//
// # Concurrency
//
// A *Store is safe for concurrent use by any number of goroutines. Every
// method runs under one sync.RWMutex, so each call, and in particular each
// Transition and AppendMessage, is atomic: two callers racing for the same
// offer or the same agent's last free slot can never both win. Sharing one
// Store between several engines in one process is fine; sharing it between
// processes is impossible (use storage/sqlite or storage/postgres).
//
// Values returned are copies: changing a returned Agent's Profile.Queues or a
// Message's Event never changes what the store holds, and neither does
// changing the params after a call.
//
// AppendMessage and Transition are O(1) (plus the map lookups), ListMessages
// is O(result), ListConversations and ListAgents scan and sort.
//
// # Memory
//
// Messages are kept encoded, one conversation's after another's in a few
// byte chunks, not as attendance.Message values: byte slices hold no
// pointers, so the garbage collector never scans them, and a process that
// holds a long history pays for it in bytes (a message's text and IDs plus
// a few dozen bytes) but not in longer collections. Reading a message decodes a
// fresh copy; its CreatedAt is in UTC, as the SQL stores return it.
//
// # Errors
//
// Every error matches an attendance sentinel with errors.Is (ErrNotFound,
// ErrConflict, ErrInvalidTransition, ErrAgentAtCapacity, ErrAgentUnavailable,
// ErrOfferExpired, ErrInvalidArgument), wrapped with a message prefixed
// "memory:" that names the method and the object. Illegal moves are
// *attendance.TransitionError. A cancelled ctx returns ctx.Err() before
// anything is read or changed. A call that fails changes nothing.
package memory
