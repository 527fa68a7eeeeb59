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
//
// # Errors
//
// An error reply is an *Error with the protocol Code. Commands that cannot
// be safely repeated fail with ErrConnectionLost when the connection drops
// before their reply; reads, typing, presence and sends with an idempotency
// key (Send always sets one) are sent again on the next connection.
// rate_limited replies are retried after the delay the server asks for.
package client
