package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

// Times are stored as INTEGER microseconds since the Unix epoch in UTC; the
// zero time is stored as NULL. Everything the store returns went through
// normTime, so a value read back equals the value returned by the write.

// normTime returns t in UTC truncated to the microsecond, the precision the
// store keeps. The zero time stays zero.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// timeArg is the SQL value of t: NULL for the zero time, microseconds
// otherwise.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// timeCol is the Go value of a time column.
func timeCol(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// nullString stores an empty string as NULL (used for foreign keys).
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// storedProfile is the JSON form of attendance.Profile kept in
// agents.profile. It has no omitempty, so nil and empty slices survive the
// round trip as they were given.
type storedProfile struct {
	Min                int           `json:"min"`
	Max                int           `json:"max"`
	Queues             []string      `json:"queues"`
	OfferTimeout       time.Duration `json:"offer_timeout"`
	AutoAcceptBelowMin bool          `json:"auto_accept_below_min"`
	Widgets            []string      `json:"widgets"`
	Shortcuts          string        `json:"shortcuts"`
}

func encodeProfile(p attendance.Profile) (string, error) {
	b, err := json.Marshal(storedProfile(p))
	if err != nil {
		return "", fmt.Errorf("sqlite: encode profile: %w", err)
	}
	return string(b), nil
}

func decodeProfile(s string) (attendance.Profile, error) {
	var sp storedProfile
	if err := json.Unmarshal([]byte(s), &sp); err != nil {
		return attendance.Profile{}, fmt.Errorf("sqlite: decode profile: %w", err)
	}
	return attendance.Profile(sp), nil
}

// encodeJSON stores a nil pointer as NULL and anything else as JSON text.
func encodeJSON[T any](v *T) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode %T: %w", v, err)
	}
	return string(b), nil
}

// decodeJSON is the inverse of encodeJSON.
func decodeJSON[T any](v sql.NullString) (*T, error) {
	if !v.Valid {
		return nil, nil
	}
	out := new(T)
	if err := json.Unmarshal([]byte(v.String), out); err != nil {
		return nil, fmt.Errorf("sqlite: decode %T: %w", out, err)
	}
	return out, nil
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

const agentCols = `id, name, profile, presence, load, last_assigned_at`

func scanAgent(r scanner) (attendance.Agent, error) {
	var (
		a        attendance.Agent
		profile  string
		presence string
		last     sql.NullInt64
	)
	if err := r.Scan(&a.ID, &a.Name, &profile, &presence, &a.Load, &last); err != nil {
		return attendance.Agent{}, err
	}
	p, err := decodeProfile(profile)
	if err != nil {
		return attendance.Agent{}, err
	}
	a.Profile = p
	a.Presence = attendance.Presence(presence)
	a.LastAssignedAt = timeCol(last)
	return a, nil
}

const convCols = `id, beneficiary_id, subject_id, queue_id, priority, channel, protocol, state,
	agent_id, last_agent_id, arrived_at, offer_deadline, transfer_note, final_reason, final_note,
	last_seq, version, created_at, updated_at`

func scanConversation(r scanner) (attendance.Conversation, error) {
	var (
		c                                   attendance.Conversation
		state                               string
		agentID                             sql.NullString
		arrived, deadline, created, updated sql.NullInt64
	)
	err := r.Scan(&c.ID, &c.BeneficiaryID, &c.SubjectID, &c.QueueID, &c.Priority, &c.Channel, &c.Protocol, &state,
		&agentID, &c.LastAgentID, &arrived, &deadline, &c.TransferNote, &c.FinalReason, &c.FinalNote,
		&c.LastSeq, &c.Version, &created, &updated)
	if err != nil {
		return attendance.Conversation{}, err
	}
	c.State = attendance.State(state)
	c.AgentID = agentID.String
	c.ArrivedAt = timeCol(arrived)
	c.OfferDeadline = timeCol(deadline)
	c.CreatedAt = timeCol(created)
	c.UpdatedAt = timeCol(updated)
	return c, nil
}

const msgCols = `conversation_id, seq, id, kind, sender_role, sender_id, body, attachment, event,
	idempotency_key, created_at`

func scanMessage(r scanner) (attendance.Message, error) {
	var (
		m                 attendance.Message
		kind, role        string
		attachment, event sql.NullString
		created           sql.NullInt64
	)
	err := r.Scan(&m.ConversationID, &m.Seq, &m.ID, &kind, &role, &m.Sender.ID, &m.Body, &attachment, &event,
		&m.IdempotencyKey, &created)
	if err != nil {
		return attendance.Message{}, err
	}
	m.Kind = attendance.MessageKind(kind)
	m.Sender.Role = attendance.Role(role)
	if m.Attachment, err = decodeJSON[attendance.Attachment](attachment); err != nil {
		return attendance.Message{}, err
	}
	if m.Event, err = decodeJSON[attendance.Event](event); err != nil {
		return attendance.Message{}, err
	}
	m.CreatedAt = timeCol(created)
	return m, nil
}

// messageArgs are the values of msgCols for m, in order.
func messageArgs(m attendance.Message) ([]any, error) {
	att, err := encodeJSON(m.Attachment)
	if err != nil {
		return nil, err
	}
	ev, err := encodeJSON(m.Event)
	if err != nil {
		return nil, err
	}
	return []any{m.ConversationID, m.Seq, m.ID, string(m.Kind), string(m.Sender.Role), m.Sender.ID, m.Body,
		att, ev, m.IdempotencyKey, timeArg(m.CreatedAt)}, nil
}

// normMessage is m as the store keeps it: times normalized, pointers copied
// so the caller's values are never shared.
func normMessage(m attendance.Message) attendance.Message {
	m.CreatedAt = normTime(m.CreatedAt)
	if m.Attachment != nil {
		a := *m.Attachment
		m.Attachment = &a
	}
	if m.Event != nil {
		e := *m.Event
		m.Event = &e
	}
	return m
}

// normConversation is c with its times normalized.
func normConversation(c attendance.Conversation) attendance.Conversation {
	c.ArrivedAt = normTime(c.ArrivedAt)
	c.OfferDeadline = normTime(c.OfferDeadline)
	c.CreatedAt = normTime(c.CreatedAt)
	c.UpdatedAt = normTime(c.UpdatedAt)
	return c
}
