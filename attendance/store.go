package attendance

import (
	"context"
	"time"
)

// Store is the source of truth the Engine consumes. Backends live in
// storage/<name> and all pass storage/storagetest.
//
// Every method is safe for concurrent use, by several goroutines and by
// several engines sharing one database. Every method honours ctx
// cancellation and returns ctx's error when it gives up. Errors match the
// package sentinels: ErrNotFound for unknown IDs, ErrConflict when a
// conditional write lost a race, ErrAgentAtCapacity and ErrAgentUnavailable
// when a transition would give a conversation to an agent who cannot take it,
// ErrOfferExpired when accepting an offer after its deadline, and
// ErrInvalidArgument for malformed params.
//
// The decisive operations (offer, accept, decline, expiry, transfer,
// finalize, abandon) are all Transition: one conditional write that checks
// the conversation's state and owner, moves it, adjusts the agents' loads
// and appends the system message, all or nothing. Capacity is enforced
// there, so no agent's load passes Max whatever the number of engines.
type Store interface {
	// UpsertAgent creates an agent or replaces their name and profile. A new
	// agent starts offline with load 0; an existing agent keeps presence and
	// load (a lowered Max only stops new offers).
	UpsertAgent(ctx context.Context, params UpsertAgentParams) (Agent, error)
	// GetAgent returns one agent or ErrNotFound.
	GetAgent(ctx context.Context, id string) (Agent, error)
	// ListAgents returns agents matching the filter, ordered by ID.
	ListAgents(ctx context.Context, filter ListAgentsFilter) ([]Agent, error)
	// SetPresence changes an agent's presence. Coming online sets
	// LastAssignedAt to params.At if the agent was not online.
	SetPresence(ctx context.Context, params SetPresenceParams) (Agent, error)

	// CreateConversation stores a new queued conversation with its "opened"
	// system message as Seq 1. A duplicate ID is ErrConflict. When
	// params.MaxOpen is positive and the beneficiary already has that many
	// conversations queued, offered or active, it is ErrLimit, counted in
	// the same atomic step as the insert (whatever the number of engines).
	CreateConversation(ctx context.Context, params CreateConversationParams) (Conversation, Message, error)
	// GetConversation returns one conversation or ErrNotFound.
	GetConversation(ctx context.Context, id string) (Conversation, error)
	// ListConversations returns conversations matching the filter, ordered
	// by priority (higher first), then ArrivedAt, then ID.
	ListConversations(ctx context.Context, filter ListConversationsFilter) ([]Conversation, error)
	// Transition applies one conditional move; see TransitionParams.
	Transition(ctx context.Context, params TransitionParams) (Conversation, Message, error)

	// AppendMessage appends a participant's message with the next sequence
	// number. When params.BeneficiaryID is set, the conversation must be
	// that beneficiary's (ErrForbidden otherwise, checked first). If
	// params.Message.IdempotencyKey is set and a message from the same
	// sender with that key already exists in the conversation, it returns
	// that message and created == false, changing nothing, whatever the
	// conversation's state and owner now are. The conversation's state must
	// be one of params.States (ErrInvalidTransition otherwise) and, when
	// params.AgentID is set, its owner must be that agent (ErrForbidden
	// otherwise). When created, conv is the conversation as the append left
	// it (its LastSeq is msg.Seq), read in the same atomic step, so the
	// caller can announce the message without reading it again; otherwise
	// conv is the zero Conversation.
	AppendMessage(ctx context.Context, params AppendMessageParams) (msg Message, conv Conversation, created bool, err error)
	// ListMessages returns a conversation's messages with Seq > AfterSeq in
	// order, at most Limit (0 means all).
	ListMessages(ctx context.Context, filter ListMessagesFilter) ([]Message, error)

	// MarkRead raises a participant's read mark; a lower Seq is ignored.
	// A Seq above the conversation's LastSeq is ErrInvalidArgument.
	MarkRead(ctx context.Context, params MarkReadParams) (ReadMark, error)
	// ReadMarks returns the read marks of a conversation.
	ReadMarks(ctx context.Context, conversationID string) ([]ReadMark, error)
}

// UpsertAgentParams are the arguments of Store.UpsertAgent.
type UpsertAgentParams struct {
	ID      string
	Name    string
	Profile Profile
	// At is the time of the change.
	At time.Time
}

// ListAgentsFilter selects agents; zero fields match all.
type ListAgentsFilter struct {
	Presence Presence
	// QueueID selects agents whose profile serves that queue.
	QueueID string
}

// SetPresenceParams are the arguments of Store.SetPresence.
type SetPresenceParams struct {
	AgentID  string
	Presence Presence
	At       time.Time
}

// CreateConversationParams are the arguments of Store.CreateConversation.
// Conversation must be in StateQueued with Version 0; Opened is its first
// system message (Seq and ConversationID are set by the store).
type CreateConversationParams struct {
	Conversation Conversation
	Opened       Message
	// MaxOpen, if positive, caps the beneficiary's open conversations
	// (queued, offered or active) the new one would join.
	MaxOpen int
}

// ListConversationsFilter selects conversations; zero fields match all.
type ListConversationsFilter struct {
	States        []State
	QueueID       string
	AgentID       string
	BeneficiaryID string
	// OfferExpiredAt selects offered conversations whose deadline is at or
	// before this time.
	OfferExpiredAt time.Time
	// Limit caps the result; 0 means no cap.
	Limit int
}

// TransitionParams describe one conditional move of a conversation. The store
// checks, in one atomic write:
//
//   - the conversation exists (ErrNotFound) and its State is one of From
//     (ErrConflict otherwise, or ErrInvalidTransition if it is terminal);
//   - if ExpectAgentID is set, the conversation's AgentID equals it
//     (ErrConflict otherwise);
//   - if ExpectVersion is non-zero, the Version equals it (ErrConflict);
//   - if OfferValidAt is set, the offer deadline is after it (ErrOfferExpired);
//   - if OfferExpiredAt is set, the offer deadline is at or before it
//     (ErrConflict otherwise): this is how exactly one caller expires an offer;
//   - if To holds an agent and AgentID differs from the current owner, that
//     agent exists, is online (ErrAgentUnavailable) and has Load < Max
//     (ErrAgentAtCapacity).
//
// Then it sets State = To, AgentID (empty unless To holds an agent), QueueID
// if set, OfferDeadline (zero unless To is offered), the notes and reasons,
// adjusts loads (the previous owner -1 if they no longer hold it, the new
// owner +1 and LastAssignedAt = At), Version+1, appends Message as a system
// message with the next Seq, and returns the new conversation and message.
type TransitionParams struct {
	ConversationID string
	From           []State
	ExpectAgentID  string
	ExpectVersion  int64
	OfferValidAt   time.Time
	OfferExpiredAt time.Time

	To            State
	AgentID       string
	QueueID       string
	OfferDeadline time.Time
	TransferNote  string
	FinalReason   string
	FinalNote     string
	At            time.Time
	Message       Message
}

// AppendMessageParams are the arguments of Store.AppendMessage. Message's
// ConversationID, ID, Kind, Sender and CreatedAt must be set; Seq is
// assigned by the store.
type AppendMessageParams struct {
	Message Message
	// States the conversation must be in.
	States []State
	// AgentID, if set, must be the conversation's current owner
	// (ErrForbidden otherwise): an agent writes only while the conversation
	// is theirs, checked in the same atomic step as the append. A retried
	// idempotency key still returns the first message.
	AgentID string
	// BeneficiaryID, if set, must be the conversation's beneficiary
	// (ErrForbidden otherwise): a beneficiary writes only to their own
	// conversations. A conversation's beneficiary never changes.
	BeneficiaryID string
}

// ListMessagesFilter selects a conversation's messages.
type ListMessagesFilter struct {
	ConversationID string
	AfterSeq       int64
	Limit          int
}

// MarkReadParams are the arguments of Store.MarkRead.
type MarkReadParams struct {
	ConversationID string
	Participant    Principal
	Seq            int64
	At             time.Time
}
