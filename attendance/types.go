package attendance

import (
	"fmt"
	"slices"
	"time"
)

// Role is what a principal is to the engine.
type Role string

const (
	// RoleAgent serves conversations offered or assigned to them.
	RoleAgent Role = "agent"
	// RoleSupervisor may read every conversation; acts like an agent otherwise.
	RoleSupervisor Role = "supervisor"
	// RoleBeneficiary is a plan member; acts only on their own conversations.
	RoleBeneficiary Role = "beneficiary"
	// RoleSystem is the engine itself (system messages, expiries).
	RoleSystem Role = "system"
)

// Principal is who is calling: the host's authentication turns a request into
// one, and the engine's authorization decides what it may do.
type Principal struct {
	Role Role   `json:"role"`
	ID   string `json:"id"`
}

// AgentPrincipal returns the principal of an agent.
func AgentPrincipal(id string) Principal { return Principal{Role: RoleAgent, ID: id} }

// BeneficiaryPrincipal returns the principal of a beneficiary.
func BeneficiaryPrincipal(id string) Principal { return Principal{Role: RoleBeneficiary, ID: id} }

// SupervisorPrincipal returns the principal of a supervisor.
func SupervisorPrincipal(id string) Principal { return Principal{Role: RoleSupervisor, ID: id} }

// SystemPrincipal is the engine acting on its own.
var SystemPrincipal = Principal{Role: RoleSystem, ID: "system"}

// Presence is an agent's availability.
type Presence string

const (
	// PresenceOnline: receives offers.
	PresenceOnline Presence = "online"
	// PresenceAway: keeps active chats, receives no new offers; pending offers
	// go back to the queue.
	PresenceAway Presence = "away"
	// PresenceOffline: like away, and the agent is not connected.
	PresenceOffline Presence = "offline"
)

// Valid reports whether p is a known presence.
func (p Presence) Valid() bool {
	return p == PresenceOnline || p == PresenceAway || p == PresenceOffline
}

// Profile is an agent's working parameters (perfil).
type Profile struct {
	// Min is the number of simultaneous chats the agent should have; agents
	// below Min are offered chats first. 0 <= Min <= Max.
	Min int `json:"min"`
	// Max is the most simultaneous chats (offered + active). Max >= 1.
	Max int `json:"max"`
	// Queues the agent serves. At least one, each listed once.
	Queues []string `json:"queues"`
	// OfferTimeout is how long an offer waits for accept before it goes back
	// to the queue. Zero means Config.DefaultOfferTimeout.
	OfferTimeout time.Duration `json:"offer_timeout"`
	// AutoAcceptBelowMin: while the agent's load is below Min, an offer is
	// accepted at once (the chat goes straight to Em Atendimento).
	AutoAcceptBelowMin bool `json:"auto_accept_below_min"`
	// Widgets the profile may see (widget IDs). Empty means none.
	Widgets []string `json:"widgets,omitempty"`
	// Shortcuts is the name of the shortcut set the profile uses.
	Shortcuts string `json:"shortcuts,omitempty"`
}

// Validate reports a malformed profile as ErrInvalidArgument naming the field.
func (p Profile) Validate() error {
	switch {
	case p.Max < 1:
		return fmt.Errorf("%w: profile Max must be at least 1, got %d", ErrInvalidArgument, p.Max)
	case p.Min < 0:
		return fmt.Errorf("%w: profile Min must not be negative, got %d", ErrInvalidArgument, p.Min)
	case p.Min > p.Max:
		return fmt.Errorf("%w: profile Min %d is above Max %d", ErrInvalidArgument, p.Min, p.Max)
	case len(p.Queues) == 0:
		return fmt.Errorf("%w: profile must serve at least one queue", ErrInvalidArgument)
	case p.OfferTimeout < 0:
		return fmt.Errorf("%w: profile OfferTimeout must not be negative", ErrInvalidArgument)
	}
	for i, q := range p.Queues {
		if slices.Contains(p.Queues[:i], q) {
			return fmt.Errorf("%w: profile lists queue %q twice", ErrInvalidArgument, q)
		}
	}
	return nil
}

// Serves reports whether the profile serves queueID.
func (p Profile) Serves(queueID string) bool {
	for _, q := range p.Queues {
		if q == queueID {
			return true
		}
	}
	return false
}

// Agent is a person who serves in the panel, as the store keeps them.
type Agent struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Profile  Profile  `json:"profile"`
	Presence Presence `json:"presence"`
	// Load is the number of conversations offered to or active with the
	// agent, maintained by the store in the same write as each transition.
	Load int `json:"load"`
	// LastAssignedAt is when the agent last received a conversation (or came
	// online); routing prefers the agent idle longest.
	LastAssignedAt time.Time `json:"last_assigned_at"`
}

// Queue is where conversations wait (fila).
type Queue struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Subject is the topic a beneficiary picks (assunto); it decides the queue
// and the priority.
type Subject struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	QueueID string `json:"queue_id"`
	// Priority orders conversations within a queue: higher first.
	Priority int `json:"priority"`
}

// FinalizeReason is one of the configured reasons to close a conversation.
type FinalizeReason struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Conversation is one attendance, from the request to its end.
type Conversation struct {
	ID            string `json:"id"`
	BeneficiaryID string `json:"beneficiary_id"`
	SubjectID     string `json:"subject_id"`
	QueueID       string `json:"queue_id"`
	Priority      int    `json:"priority"`
	Channel       string `json:"channel"`
	// Protocol is the human-facing attendance number.
	Protocol string `json:"protocol"`
	State    State  `json:"state"`
	// AgentID is the owner while offered or active; empty otherwise.
	AgentID string `json:"agent_id,omitempty"`
	// LastAgentID is the last agent who held it (kept after finalize).
	LastAgentID string `json:"last_agent_id,omitempty"`
	// ArrivedAt is when the conversation first entered a queue; transfers
	// keep it, so a transferred chat does not go to the back of the line.
	ArrivedAt time.Time `json:"arrived_at"`
	// OfferDeadline is when the current offer expires (offered only).
	OfferDeadline time.Time `json:"offer_deadline,omitzero"`
	TransferNote  string    `json:"transfer_note,omitempty"`
	FinalReason   string    `json:"final_reason,omitempty"`
	FinalNote     string    `json:"final_note,omitempty"`
	// LastSeq is the sequence number of the newest message.
	LastSeq int64 `json:"last_seq"`
	// Version counts the transitions; it grows by one with each.
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MessageKind says what a conversation log entry carries.
type MessageKind string

const (
	// KindText is a text message from a participant.
	KindText MessageKind = "text"
	// KindAttachment is a file sent by a participant; Attachment is set.
	KindAttachment MessageKind = "attachment"
	// KindSystem records a transition; Event is set.
	KindSystem MessageKind = "system"
)

// EventType names a transition recorded in a system message.
type EventType string

const (
	EventOpened       EventType = "opened"        // the beneficiary opened it
	EventOffered      EventType = "offered"       // offered to Event.AgentID
	EventAccepted     EventType = "accepted"      // accepted by Event.AgentID
	EventAutoAccepted EventType = "auto_accepted" // given straight to Event.AgentID
	EventDeclined     EventType = "declined"      // declined by Event.AgentID
	EventOfferExpired EventType = "offer_expired" // offer to Event.AgentID timed out
	EventOfferRevoked EventType = "offer_revoked" // agent went away with it offered
	EventTransferred  EventType = "transferred"   // to Event.QueueID or Event.AgentID
	EventFinalized    EventType = "finalized"     // closed with Event.Reason
	EventAbandoned    EventType = "abandoned"     // the beneficiary left
)

// Event is the transition a system message records.
type Event struct {
	Type    EventType `json:"type"`
	From    State     `json:"from,omitempty"`
	To      State     `json:"to"`
	AgentID string    `json:"agent_id,omitempty"`
	QueueID string    `json:"queue_id,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Note    string    `json:"note,omitempty"`
}

// Attachment describes a stored file; the bytes live in a blob store.
type Attachment struct {
	BlobID      string `json:"blob_id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// Message is one entry of a conversation's log: a text, an attachment or a
// system message. Seq numbers a conversation's log from 1 with no gaps.
type Message struct {
	ID             string      `json:"id"`
	ConversationID string      `json:"conversation_id"`
	Seq            int64       `json:"seq"`
	Kind           MessageKind `json:"kind"`
	Sender         Principal   `json:"sender"`
	Body           string      `json:"body,omitempty"`
	Attachment     *Attachment `json:"attachment,omitempty"`
	Event          *Event      `json:"event,omitempty"`
	// IdempotencyKey is the sender's key; a retried send with the same key
	// returns the first message.
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

// ReadMark is the last sequence a participant has read in a conversation.
type ReadMark struct {
	ConversationID string    `json:"conversation_id"`
	Participant    Principal `json:"participant"`
	Seq            int64     `json:"seq"`
	At             time.Time `json:"at"`
}
