// Package storagetest is the conformance suite of attendance.Store: every
// backend (storage/memory, storage/sqlite, storage/postgres, and any new
// one) runs it with one call from its own tests:
//
//	func TestStore(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) attendance.Store {
//			return mybackend.Open(t.TempDir()) // a fresh, empty store
//		})
//	}
//
// The suite checks the contract written in the doc comments of
// attendance.Store and its params: agents and presence, conversation
// creation, listing order and filters, every condition of Transition with
// the load bookkeeping it implies, message sequence numbers, idempotent
// sends, read marks, and races that must have exactly one winner (offers
// against an agent's Max, accept/expire/decline of one offer, concurrent
// appends and retries).
//
// It is split by area: agents.go, conversations.go, transitions.go,
// messages.go and concurrency.go; storagetest.go holds Run and the shared
// fixtures.
//
// Two more tests are for backends whose Stores share a database (SQLite,
// PostgreSQL): RunEngines (engines.go) runs several engines, each on its
// own Store, on one database and checks the engine invariants in the rows;
// RunCrash (crash.go) kills a writing child process with SIGKILL and checks
// that every acknowledged write survived. RunCrash re-executes the test
// binary, so the backend also needs a TestCrashHelper calling CrashChild.
// RunEngines is built on Cluster, which the engine's own randomized tests
// also drive on the memory store, so one checker states the invariants.
//
// # Concurrency
//
// Every test runs in parallel with the others (t.Parallel) and calls
// newStore once, so newStore must be safe for concurrent use and must give
// each call its own empty store (its own file, schema or database). The
// concurrency tests start up to 64 goroutines against one store; a SQL
// backend needs a connection pool that lets them wait rather than fail.
//
// # Errors
//
// The suite checks errors only with errors.Is and errors.As against the
// attendance sentinels (and context.Canceled), never by message. An illegal
// move must be an *attendance.TransitionError naming both states. Times are
// compared with time.Time.Equal and the suite uses times truncated to the
// microsecond in UTC, so a backend may store microseconds and return any
// location.
//
// # Contract readings
//
// Where the attendance.Store doc leaves a choice, the suite pins one down so
// all backends agree:
//
//   - A Transition's Message gets Kind = KindSystem, the next Seq and the
//     ConversationID; if its Event is set, the store fills Event.From and
//     Event.To with the actual move.
//   - Empty TransferNote, FinalReason and FinalNote keep the stored value; a
//     non-empty one replaces it (so a transfer note survives the accept). A
//     transfer (its Message.Event is EventTransferred) sets TransferNote
//     even when empty: an earlier transfer's note does not reach the next
//     agent.
//   - The agent whose offer is declined, expired or transferred away stays
//     LastAgentID until someone else holds the conversation.
//   - A retried AppendMessage (same sender and key) returns the first message
//     even if the conversation has since left params.States.
//   - Empty params.States in AppendMessage, To holding an agent with an empty
//     AgentID, unknown states, negative Limit or AfterSeq are
//     ErrInvalidArgument.
//   - MarkRead with a Seq at or below the stored mark returns the stored mark
//     unchanged (At included). ReadMarks and ListMessages of an unknown
//     conversation are ErrNotFound.
package storagetest
