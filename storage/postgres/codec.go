package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/internal/rules"
)

// pkg prefixes the errors of this package.
const pkg = "postgres"

// Times are stored as timestamptz (microsecond precision); the zero time is
// stored as NULL. Everything the store returns went through rules.NormTime,
// so a value read back equals the value returned by the write.

// timeArg is the SQL value of t: NULL for the zero time.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return rules.NormTime(t)
}

// timeCol is the Go value of a timestamptz column.
func timeCol(v pgtype.Timestamptz) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return rules.NormTime(v.Time)
}

const agentCols = `id, name, profile, presence, load, last_assigned_at`

func scanAgent(r pgx.Row) (attendance.Agent, error) {
	var (
		a        attendance.Agent
		profile  []byte
		presence string
		last     pgtype.Timestamptz
	)
	if err := r.Scan(&a.ID, &a.Name, &profile, &presence, &a.Load, &last); err != nil {
		return attendance.Agent{}, err
	}
	p, err := rules.DecodeProfile(pkg, profile)
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

func scanConversation(r pgx.Row) (attendance.Conversation, error) {
	var (
		c                                   attendance.Conversation
		state                               string
		agentID                             pgtype.Text
		arrived, deadline, created, updated pgtype.Timestamptz
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

func scanMessage(r pgx.Row) (attendance.Message, error) {
	var (
		m                 attendance.Message
		kind, role        string
		attachment, event []byte
		created           pgtype.Timestamptz
	)
	err := r.Scan(&m.ConversationID, &m.Seq, &m.ID, &kind, &role, &m.Sender.ID, &m.Body, &attachment, &event,
		&m.IdempotencyKey, &created)
	if err != nil {
		return attendance.Message{}, err
	}
	m.Kind = attendance.MessageKind(kind)
	m.Sender.Role = attendance.Role(role)
	if m.Attachment, err = rules.DecodeJSON[attendance.Attachment](pkg, attachment); err != nil {
		return attendance.Message{}, err
	}
	if m.Event, err = rules.DecodeJSON[attendance.Event](pkg, event); err != nil {
		return attendance.Message{}, err
	}
	m.CreatedAt = timeCol(created)
	return m, nil
}

// messageArgs are the values of msgCols for m, in order.
func messageArgs(m attendance.Message) ([]any, error) {
	att, err := rules.EncodeJSON(pkg, m.Attachment)
	if err != nil {
		return nil, err
	}
	ev, err := rules.EncodeJSON(pkg, m.Event)
	if err != nil {
		return nil, err
	}
	return []any{m.ConversationID, m.Seq, m.ID, string(m.Kind), string(m.Sender.Role), m.Sender.ID, m.Body,
		att, ev, m.IdempotencyKey, timeArg(m.CreatedAt)}, nil
}
