// Package attendance is the vocabulary and the engine of MosiaChat: the
// domain types (Conversation, Message, Agent, Profile, Queue, Subject,
// events), the one table of state transitions, the typed errors, the
// interfaces the engine consumes (Store, Bus) and the Engine through which
// every state change goes.
//
// # Concurrency
//
// Engine methods are safe for concurrent use. Decisions (offer, accept,
// transfer, finalize, the expiry of an offer) are conditional writes in the
// Store, so two goroutines or two engines sharing one database never both
// win: the loser gets ErrConflict and the engine re-reads and decides again.
//
// # Errors
//
// Every error matches one of the package sentinels with errors.Is:
// ErrNotFound, ErrForbidden, ErrConflict, ErrInvalidTransition,
// ErrAgentAtCapacity, ErrAgentUnavailable, ErrOfferExpired,
// ErrInvalidArgument, ErrEmptyMessage, ErrMessageTooLarge, ErrUnknownSubject,
// ErrUnknownReason, ErrLimit and ErrClosed. Bad input changes nothing.
//
// # Lifecycle
//
// New starts no goroutine. Start(ctx) loads the routing index from the store
// and runs the offer-expiry sweep; Stop(ctx) ends it, closes the
// subscriptions and takes the engine off the bus (a later Start puts it
// back). Without Start the engine still works, and a test drives time with
// an injected clock and ExpireOffers.
package attendance
