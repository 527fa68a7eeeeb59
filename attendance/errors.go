package attendance

import "errors"

// Sentinel errors. Every error the engine and the stores return matches one
// of these with errors.Is; the transport maps them to protocol codes.
var (
	// ErrNotFound: an unknown agent, conversation, subject or queue ID.
	ErrNotFound = errors.New("attendance: not found")
	// ErrForbidden: the principal may not act on or read that object.
	ErrForbidden = errors.New("attendance: forbidden")
	// ErrConflict: a conditional write lost a race; the object changed
	// underneath. Re-read and decide again.
	ErrConflict = errors.New("attendance: conflict")
	// ErrInvalidTransition: the move is not in the transition table, e.g.
	// acting on a finalized conversation.
	ErrInvalidTransition = errors.New("attendance: invalid transition")
	// ErrAgentAtCapacity: the agent's load (offered + active) is at Max.
	ErrAgentAtCapacity = errors.New("attendance: agent at capacity")
	// ErrAgentUnavailable: the agent is not online. (Routing offers a
	// queue's chats only to the agents serving it; a transfer to a named
	// agent may pick any online agent, a specialist from another team say.)
	ErrAgentUnavailable = errors.New("attendance: agent unavailable")
	// ErrOfferExpired: the offer's deadline passed before it was accepted.
	ErrOfferExpired = errors.New("attendance: offer expired")
	// ErrInvalidArgument: malformed input (empty ID, bad profile, unknown
	// enum value). The wrapping message names the field.
	ErrInvalidArgument = errors.New("attendance: invalid argument")
	// ErrEmptyMessage: a message with no text and no attachment.
	ErrEmptyMessage = errors.New("attendance: empty message")
	// ErrMessageTooLarge: a message body above Config.MaxMessageBytes.
	ErrMessageTooLarge = errors.New("attendance: message too large")
	// ErrUnknownSubject: the subject is not configured.
	ErrUnknownSubject = errors.New("attendance: unknown subject")
	// ErrUnknownReason: the finalize reason is not configured.
	ErrUnknownReason = errors.New("attendance: unknown finalize reason")
	// ErrLimit: a protective limit was reached, e.g. a beneficiary's open
	// conversations (Config.MaxOpenPerBeneficiary).
	ErrLimit = errors.New("attendance: limit reached")
	// ErrClosed: the engine or subscription was stopped.
	ErrClosed = errors.New("attendance: closed")
	// ErrUnavailable: the store could not serve the call for now (a SQLite
	// database locked past its busy timeout, say); nothing was written, and
	// the call may be retried.
	ErrUnavailable = errors.New("attendance: store unavailable")
)
