// Package client is a Go client of the MosiaChat WebSocket protocol
// (docs/protocol.md), used by the tests, the load generator and
// integrators.
//
// Dial connects, sends the hello and returns a Client that stays connected
// until Close: when the connection drops it reconnects with exponential
// backoff and jitter, and resumes each conversation from the last sequence
// number it delivered on Events, so the application sees every message
// once and in order.
//
// # Concurrency
//
// A Client is safe for concurrent use. Events must be read continuously: a
// full channel stops the client reading the socket, and if that lasts the
// server closes the connection as a slow reader (the client then resumes).
// Replies come on the same socket, so a command whose reply is awaited on
// the goroutine that reads Events waits, while the channel is full, until
// its ctx ends: answer events from another goroutine, or give such
// commands a deadline.
//
// # Liveness
//
// The server sends a heartbeat every interval its hello result announces;
// when nothing at all arrives for two intervals (or for 20 s before the
// hello's reply), the client drops the connection and reconnects, so a
// link that died without a word (a NAT that forgot it) is replaced. The
// wait before a reconnection grows from MinBackoff to MaxBackoff, with
// jitter, and starts over only after a connection that lasted MaxBackoff.
//
// # Errors
//
// An error reply is an *Error with the protocol Code; Dial returns the
// refusal of the first hello the same way (except invalid_sequence: the
// client drops the cursor the server named and tries again). Commands that cannot be safely
// repeated fail with ErrConnectionLost when the connection drops after
// they were written and before their reply (one not written yet waits for
// the next connection); Close fails those waiting with ErrClosed. A
// command's ctx bounds the wait for its reply, never the shared
// connection; reads, typing, presence and sends with an idempotency
// key (Send always sets one) are sent again on the next connection.
// rate_limited replies are retried after the delay the server asks for.
//
// A reconnection whose credentials the server refuses (unauthenticated or
// forbidden: a revoked session, an expired token that Config.Header could
// not refresh) stops the client, since trying again would not change
// them: pending and later commands fail with that *Error, Events is
// closed, and Err returns it. A server that cannot check credentials for
// the moment answers unavailable instead, and the client keeps trying.
package client
