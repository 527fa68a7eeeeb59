// Package transport puts the attendance engine on the wire: a WebSocket
// protocol for agents, supervisors and beneficiaries (github.com/coder/websocket),
// HTTP for attachments, and the types of the protocol. The protocol is
// written down in docs/protocol.md; transport/client is a Go client for it.
//
// A host creates a Server over its *attendance.Engine, starts it, and mounts
// Server.Handler (WebSocket) and Server.AttachmentHandler (HTTP) on its own
// mux. Authentication is the host's: Config.Authenticate turns each request
// into an attendance.Principal. Authorization is the engine's.
//
// # Delivery
//
// The engine's notifications are doorbells. The Server follows them once,
// routes each to the sessions concerned, and a small pool of workers reads
// the engine for those sessions: the messages after the last sequence
// number sent to that client, then snapshots, offers, queue positions and
// read marks. So a connection's outbound path never blocks the engine, and
// a client that reconnects names the last sequence it saw per conversation
// and gets everything after it, in order, once.
//
// A message sent through a session takes a shorter way to the sessions of
// the same Server that stream its conversation: the sender's goroutine
// does for each of them what a worker would do for the message's doorbell,
// when no worker holds that session, and the doorbell is then dropped on
// arrival. Busy sessions, and sessions on other nodes, still get it from
// the doorbell, so the order and the resume rules do not change.
//
// # Other wires
//
// Session and Conn are the seam between the protocol and a wire. The
// WebSocket handler is one Conn; a Server-Sent Events stream or a
// messaging adapter would implement Conn, call Server.Attach, and feed the
// client's frames to Session.Handle.
//
// # Concurrency
//
// Server methods are safe for concurrent use. With several nodes, messages,
// states, read marks and typing indicators reach everyone through the
// engine's bus (typing is never stored).
//
// # Errors
//
// Every engine error and every transport refusal becomes one protocol Code
// in one table (CodeOf): engine sentinels map to not_found, forbidden,
// conflict, invalid_transition, and so on; the transport adds
// malformed_frame, unknown_type, rate_limited, invalid_sequence, too_large,
// unsupported_type and others. Internal errors are logged, never sent.
//
// # Lifecycle
//
// NewServer starts nothing. Start subscribes to the engine and starts the
// dispatcher and workers; Stop closes every connection with status 1001 and
// waits. An idle connection holds one goroutine (its reader); a writer
// goroutine exists only while frames wait to be written.
package transport
