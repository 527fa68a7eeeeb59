// Package postgres is an [attendance.Store] in a PostgreSQL schema, and an
// [attendance.Bus] over LISTEN/NOTIFY, for hosts that run several engine
// nodes on one database. It uses
// github.com/jackc/pgx/v5 (pgxpool) and passes the conformance suite in
// storage/storagetest.
//
//	store, err := postgres.Open(ctx, "postgres://app@db:5432/app", &postgres.Config{Schema: "mosiachat"})
//	if err != nil { ... }
//	defer store.Close()
//
// The tables live in one schema (Config.Schema, default "mosiachat"),
// created if missing; tests and hosts isolate themselves by choosing it.
// The schema's migrations are embedded in the binary and applied on Open in
// one transaction, under an advisory lock so that nodes starting together
// migrate once; a schema written by a newer version of this package is
// refused (ErrSchemaTooNew) rather than misread. Versions are recorded in
// the schema's schema_migrations table.
//
// # Bus
//
// A Bus (OpenBus) is an [attendance.Bus] over LISTEN/NOTIFY, so that the
// engines of several nodes hear each other's changes at once rather than at
// their next resync:
//
//	bus, err := postgres.OpenBus(ctx, dsn, &postgres.BusConfig{Schema: "mosiachat"})
//	if err != nil { ... }
//	defer bus.Close()
//	engine, err := attendance.New(store, &attendance.Config{ ..., Bus: bus})
//
// The channel is derived from BusConfig.Schema, so buses hear only those
// on the same schema. Publish sends the notification's JSON with
// pg_notify; one dedicated connection LISTENs and hears every bus on the
// schema, its own included. PostgreSQL caps a payload at 8000 bytes: a
// larger notification is sent trimmed (agent IDs dropped from the end,
// then all but its kind, conversation and origin, at worst only a resync)
// and receivers follow it with an [attendance.NotifyResync]. When the
// listener's connection is lost (or fails the ping it gets after
// BusConfig.PingInterval of silence), it is reopened with a growing delay,
// and since notifications may have been missed meanwhile the handlers then
// get an [attendance.NotifyResync], on which engines reload their routing
// index from the store. The store stays the truth: the bus is a doorbell.
//
// # Durability
//
// A call returns after its transaction committed, and the store relies on
// the server's settings for what a commit means: with PostgreSQL's default
// synchronous_commit=on (and fsync=on) a committed message survives a crash
// of the server or the machine. A server run with synchronous_commit=off
// may lose the last commits on a crash; do not do that for chat history.
//
// # Concurrency
//
// A *Store is safe for concurrent use, and any number of Stores in any
// number of processes may share one schema: the database decides. Each
// Transition is one transaction that locks the conversation row (SELECT
// ... FOR UPDATE), checks it, takes the new owner's slot with a
// conditional UPDATE (presence = 'online' AND load < max_load) under the
// agent's row lock, gives the slot of the previous owner back, moves the
// conversation and appends the system message with Seq = LastSeq+1, all or
// nothing. Agent rows are updated in ID order so that crossing transfers do
// not deadlock; a transaction that still loses to another (deadlock,
// serialization failure) is run again, up to Config.MaxRetries times, and
// then reported as ErrConflict. AppendMessage is a single statement that
// raises LastSeq under the conversation's row lock and inserts the message,
// so a send costs one round trip and one commit, and concurrent sends are
// committed together by the server's group commit.
//
// A *Bus is safe for concurrent use. Its handlers are called one at a time
// from its listener goroutine, with no lock of the bus held, so a handler
// may subscribe or unsubscribe; a handler that blocks holds up the others.
//
// # Errors
//
// Every error names its operation and object and starts with "postgres:".
// Contract errors match the attendance sentinels with errors.Is:
// ErrNotFound (unknown ID), ErrConflict (a conditional write lost, a
// duplicate ID, a serialization failure or deadlock after the retries),
// ErrInvalidTransition, ErrAgentAtCapacity, ErrAgentUnavailable,
// ErrOfferExpired and ErrInvalidArgument (also for a DSN that does not
// parse). Open's errors say what failed: the DSN, the connection (with the
// user, host and database, never the password), the login, the database,
// the schema, or its version (ErrSchemaTooNew). A cancelled ctx gives an
// error matching ctx's. After Close, methods return an error matching
// attendance.ErrClosed. A failed call changes nothing. OpenBus fails like
// Open; Publish returns the NOTIFY's error (matching ctx's, or
// attendance.ErrClosed after Close) and never drops a notification
// silently: one too large is trimmed and logged.
//
// # Lifecycle
//
// Open connects (bounded by ctx), migrates and returns a Store whose pool
// keeps its own goroutines; Close closes the pool. OpenBus connects and
// LISTENs (bounded by ctx) before it returns, then starts the listener
// goroutine; Bus.Close stops it and waits for it, and no handler runs after
// Close returns. Close a Bus after the engines that use it have stopped. Times are stored as
// timestamptz: every time a Store returns is in UTC, truncated to the
// microsecond.
package postgres
