// Package memdata holds in-memory implementations of the interfaces the
// widget area consumes, for tests, examples and demos; they are not meant
// for production. [Conversations] is a conversation fake that implements
// both widgets.Access (authorizing like the engine's AuthorizeView) and
// beneficiary.ConversationLister; [Directory], [Occurrences] and [Events]
// implement the beneficiary package's host interfaces; [NewDemo] fills them
// with one fictitious beneficiary and their history.
//
// All names, CPFs, card numbers and amounts here are invented.
//
// # Concurrency
//
// Every type is safe for concurrent use. Values are copied in and out, so a
// caller never shares memory with the store.
//
// # Errors
//
// attendance's sentinels: ErrNotFound, ErrForbidden, ErrInvalidArgument,
// ErrConflict and ErrInvalidTransition.
package memdata
