package rules

import (
	"fmt"

	"github.com/mosiachat/mosiachat/attendance"
)

// Invalid returns an ErrInvalidArgument error of the backend named prefix:
// "prefix: what: detail".
func Invalid(prefix, what, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %s: %w", prefix, what, fmt.Sprintf(format, args...), attendance.ErrInvalidArgument)
}

// Agent validates the params of UpsertAgent.
func Agent(prefix string, p attendance.UpsertAgentParams) error {
	if p.ID == "" {
		return Invalid(prefix, "upsert agent", "empty ID")
	}
	if err := p.Profile.Validate(); err != nil {
		return fmt.Errorf("%s: upsert agent %q: %w", prefix, p.ID, err)
	}
	return nil
}

// ListAgents validates the filter of ListAgents.
func ListAgents(prefix string, f attendance.ListAgentsFilter) error {
	if f.Presence != "" && !f.Presence.Valid() {
		return Invalid(prefix, "list agents", "unknown presence %q", f.Presence)
	}
	return nil
}

// Presence validates the params of SetPresence.
func Presence(prefix string, p attendance.SetPresenceParams) error {
	if p.AgentID == "" {
		return Invalid(prefix, "set presence", "empty agent ID")
	}
	if !p.Presence.Valid() {
		return Invalid(prefix, fmt.Sprintf("set presence of agent %q", p.AgentID), "unknown presence %q", p.Presence)
	}
	return nil
}

// NewConversation validates the params of CreateConversation.
func NewConversation(prefix string, c attendance.Conversation, opened attendance.Message) error {
	what := fmt.Sprintf("create conversation %q", c.ID)
	switch {
	case c.ID == "":
		return Invalid(prefix, what, "empty ID")
	case c.BeneficiaryID == "":
		return Invalid(prefix, what, "empty BeneficiaryID")
	case c.QueueID == "":
		return Invalid(prefix, what, "empty QueueID")
	case c.State != attendance.StateQueued:
		return Invalid(prefix, what, "state is %q, want %q", c.State, attendance.StateQueued)
	case c.Version != 0:
		return Invalid(prefix, what, "Version is %d, want 0", c.Version)
	case c.AgentID != "":
		return Invalid(prefix, what, "a queued conversation has no AgentID, got %q", c.AgentID)
	case opened.ID == "":
		return Invalid(prefix, what, "empty opened message ID")
	}
	return nil
}

// ListConversations validates the filter of ListConversations.
func ListConversations(prefix string, f attendance.ListConversationsFilter) error {
	for _, st := range f.States {
		if !st.Valid() {
			return Invalid(prefix, "list conversations", "unknown state %q", st)
		}
	}
	if f.Limit < 0 {
		return Invalid(prefix, "list conversations", "negative Limit %d", f.Limit)
	}
	return nil
}

// Transition validates the params of Transition.
func Transition(prefix string, p *attendance.TransitionParams) error {
	what := fmt.Sprintf("transition conversation %q", p.ConversationID)
	if p.ConversationID == "" {
		return Invalid(prefix, what, "empty conversation ID")
	}
	if len(p.From) == 0 {
		return Invalid(prefix, what, "empty From")
	}
	for _, st := range p.From {
		if !st.Valid() {
			return Invalid(prefix, what, "unknown From state %q", st)
		}
	}
	if !p.To.Valid() {
		return Invalid(prefix, what, "unknown To state %q", p.To)
	}
	if p.To.HoldsAgent() && p.AgentID == "" {
		return Invalid(prefix, what, "empty AgentID for state %s", p.To)
	}
	if p.Message.ID == "" {
		return Invalid(prefix, what, "empty message ID")
	}
	return nil
}

// Append validates the params of AppendMessage.
func Append(prefix string, p *attendance.AppendMessageParams) error {
	m := &p.Message
	invalid := func(format string, args ...any) error { // formats only on error: Append runs per message
		return Invalid(prefix, fmt.Sprintf("append message to conversation %q", m.ConversationID), format, args...)
	}
	switch {
	case m.ConversationID == "":
		return invalid("empty ConversationID")
	case m.ID == "":
		return invalid("empty message ID")
	case m.Kind != attendance.KindText && m.Kind != attendance.KindAttachment && m.Kind != attendance.KindSystem:
		return invalid("unknown Kind %q", m.Kind)
	case m.Sender.Role == "" || m.Sender.ID == "":
		return invalid("empty Sender")
	case m.CreatedAt.IsZero():
		return invalid("zero CreatedAt")
	case len(p.States) == 0:
		return invalid("empty States")
	}
	for _, st := range p.States {
		if !st.Valid() {
			return invalid("unknown state %q", st)
		}
	}
	return nil
}

// ListMessages validates the filter of ListMessages.
func ListMessages(prefix string, f attendance.ListMessagesFilter) error {
	switch {
	case f.ConversationID == "":
		return Invalid(prefix, "list messages", "empty ConversationID")
	case f.AfterSeq < 0:
		return Invalid(prefix, fmt.Sprintf("list messages of conversation %q", f.ConversationID), "negative AfterSeq %d", f.AfterSeq)
	case f.Limit < 0:
		return Invalid(prefix, fmt.Sprintf("list messages of conversation %q", f.ConversationID), "negative Limit %d", f.Limit)
	}
	return nil
}

// MarkRead validates the params of MarkRead. Whether Seq is above the
// conversation's LastSeq is checked by the store once it is read.
func MarkRead(prefix string, p attendance.MarkReadParams) error {
	what := fmt.Sprintf("mark read in conversation %q", p.ConversationID)
	switch {
	case p.ConversationID == "":
		return Invalid(prefix, "mark read", "empty ConversationID")
	case p.Participant.Role == "" || p.Participant.ID == "":
		return Invalid(prefix, what, "empty Participant")
	case p.Seq < 0:
		return Invalid(prefix, what, "negative Seq %d", p.Seq)
	}
	return nil
}
