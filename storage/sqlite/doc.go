// Package sqlite is an [attendance.Store] in one SQLite file, the embedded
// default of MosiaChat: no server to run, one file to back up. It uses
// modernc.org/sqlite (pure Go, no cgo) and passes the conformance suite in
// storage/storagetest.
//
//	store, err := sqlite.Open(ctx, "/var/lib/mosiachat/chat.db", nil)
//	if err != nil { ... }
//	defer store.Close()
//
// The schema is embedded in the binary and migrated on Open, inside one
// write transaction. A database written by a newer version of this package
// is refused (ErrSchemaTooNew) rather than misread.
//
// # Durability
//
// The file is in WAL mode with synchronous=FULL (Config.Synchronous): every
// commit is fsynced before the call that made it returns, so a message
// whose AppendMessage returned success survives a crash of the process, of
// the machine or a power loss. WAL with synchronous=NORMAL would survive a
// process crash but may lose the last commits on power loss; it is
// available, never the default.
//
// # Concurrency
//
// A *Store is safe for concurrent use. Reads run on a pool of read-only
// connections (Config.MaxReadConns) and never wait for writes: WAL gives
// each read a consistent snapshot. All writes of a Store go to one writer
// goroutine that owns the one write connection: it takes the writes queued
// while the previous commit was on its way to disk, runs them in one
// BEGIN IMMEDIATE transaction, each inside its own savepoint (so one failed
// write leaves no trace and does not fail the others), and commits once.
// Every caller returns after the commit that holds its write. This group
// commit is what lets 64 concurrent senders go faster than one fsync each;
// a lone caller waits for nobody.
//
// Several Stores, in one process or in several, may open the same file:
// BEGIN IMMEDIATE takes SQLite's write lock before reading anything, so
// writers of different Stores queue on the lock (Config.BusyTimeout)
// instead of failing with "database is locked", and every Transition
// checks and moves a conversation under that lock. No agent's load can
// pass Max whatever the number of Stores or engines.
//
// # Errors
//
// Every error names its operation and object and starts with "sqlite:".
// Contract errors match the attendance sentinels with errors.Is:
// ErrNotFound (unknown ID, or a row the database did not have),
// ErrConflict (a conditional write lost, or a duplicate ID),
// ErrInvalidTransition, ErrAgentAtCapacity, ErrAgentUnavailable,
// ErrOfferExpired and ErrInvalidArgument. Open's errors name the file and
// what is wrong with it: a directory, not a SQLite database, corrupt,
// read-only, another application's database (ErrNotMosiaChat) or a newer
// schema (ErrSchemaTooNew). After Close, methods return an error matching
// attendance.ErrClosed. A failed call changes nothing.
//
// # Lifecycle
//
// Open starts the writer goroutine; Close stops it, fails what is still
// queued with ErrClosed, and closes the file. ctx bounds the wait of a call
// until its write is taken by the writer; once taken, the write runs to its
// commit (a few milliseconds, bounded by Config.BusyTimeout when another
// process holds the lock) and its result is returned even if ctx ended
// meanwhile.
//
// Times are stored as microseconds since the Unix epoch, UTC: every time a
// Store returns is in UTC, truncated to the microsecond.
package sqlite
