package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/internal/rules"
)

const (
	qConversationSeq = `SELECT state, last_seq FROM conversations WHERE id = ?1`
	qFindIdempotent  = `SELECT ` + msgCols + ` FROM messages
		WHERE conversation_id = ?1 AND sender_role = ?2 AND sender_id = ?3 AND idempotency_key = ?4 AND idempotency_key <> ''`
	qSetLastSeq   = `UPDATE conversations SET last_seq = ?2 WHERE id = ?1`
	qListMessages = `SELECT ` + msgCols + ` FROM messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3`
	qUpsertMark   = `INSERT INTO read_marks (conversation_id, participant_role, participant_id, seq, at)
		VALUES (?1, ?2, ?3, ?4, ?5)
		ON CONFLICT (conversation_id, participant_role, participant_id)
		DO UPDATE SET seq = excluded.seq, at = excluded.at WHERE excluded.seq > read_marks.seq`
	qGetMark = `SELECT seq, at FROM read_marks
		WHERE conversation_id = ?1 AND participant_role = ?2 AND participant_id = ?3`
	qReadMarks = `SELECT participant_role, participant_id, seq, at FROM read_marks
		WHERE conversation_id = ?1 ORDER BY participant_role, participant_id`
	qConversationExists = `SELECT 1 FROM conversations WHERE id = ?1`
)

// writeStatements are prepared once on the write connection.
var writeStatements = []string{
	qUpsertAgent, qDeleteAgentQueues, qInsertAgentQueue, qSetPresence, qGetAgent, qAddLoad, qSubtractLoad,
	qInsertConversation, qGetConversation, qCountOpen, qUpdateConversation, qInsertMessage,
	qConversationSeq, qFindIdempotent, qSetLastSeq, qUpsertMark, qGetMark,
}

// AppendMessage appends a participant's message with the next Seq, in a
// write transaction that may be shared with other concurrent writes (group
// commit); it returns after that transaction committed, with the
// conversation as the append left it. A conversation that is not
// params.BeneficiaryID's (when set) is ErrForbidden. A repeated (sender,
// IdempotencyKey) in the same conversation returns the first message with
// created == false, whatever the conversation's state now is. Otherwise the
// state must be one of params.States (ErrInvalidTransition). It returns
// ErrNotFound for an unknown conversation and ErrInvalidArgument for a
// message without ConversationID, ID, a known Kind, Sender or CreatedAt, or
// for empty or unknown States.
func (s *Store) AppendMessage(ctx context.Context, params attendance.AppendMessageParams) (attendance.Message, attendance.Conversation, bool, error) {
	if err := rules.Append(pkg, &params); err != nil {
		return attendance.Message{}, attendance.Conversation{}, false, err
	}
	m := rules.NormMessage(params.Message)
	var (
		out     attendance.Message
		conv    attendance.Conversation
		created bool
	)
	err := s.w.do(ctx, func(t *wtx) error {
		what := fmt.Sprintf("append message to conversation %q", m.ConversationID)
		c, err := scanConversation(t.queryRow(qGetConversation, m.ConversationID))
		if err != nil {
			return translate(what, err)
		}
		if params.BeneficiaryID != "" && c.BeneficiaryID != params.BeneficiaryID {
			return fmt.Errorf("sqlite: %s: it is not beneficiary %q's: %w", what, params.BeneficiaryID, attendance.ErrForbidden)
		}
		if m.IdempotencyKey != "" {
			prev, err := scanMessage(t.queryRow(qFindIdempotent, m.ConversationID, string(m.Sender.Role), m.Sender.ID, m.IdempotencyKey))
			switch {
			case err == nil:
				out, conv, created = prev, attendance.Conversation{}, false
				return nil
			case !errors.Is(err, sql.ErrNoRows):
				return translate(what, err)
			}
		}
		if !slices.Contains(params.States, c.State) {
			return fmt.Errorf("sqlite: %s: state is %s, want one of %v: %w", what, c.State, params.States, attendance.ErrInvalidTransition)
		}
		if params.AgentID != "" && c.AgentID != params.AgentID {
			return fmt.Errorf("sqlite: %s: it is not agent %q's: %w", what, params.AgentID, attendance.ErrForbidden)
		}
		msg := m
		msg.Seq = c.LastSeq + 1
		if _, err := t.exec(qSetLastSeq, msg.ConversationID, msg.Seq); err != nil {
			return translate(what, err)
		}
		args, err := messageArgs(msg)
		if err != nil {
			return err
		}
		if _, err := t.exec(qInsertMessage, args...); err != nil {
			return translate(what, err)
		}
		c.LastSeq = msg.Seq
		out, conv, created = msg, c, true
		return nil
	})
	if err != nil {
		return attendance.Message{}, attendance.Conversation{}, false, err
	}
	return rules.NormMessage(out), conv, created, nil
}

// ListMessages returns a conversation's messages with Seq > AfterSeq in Seq
// order, at most Limit of them (0 means all). It returns ErrNotFound for an
// unknown conversation and ErrInvalidArgument for an empty ID or a negative
// AfterSeq or Limit.
func (s *Store) ListMessages(ctx context.Context, filter attendance.ListMessagesFilter) ([]attendance.Message, error) {
	if err := rules.ListMessages(pkg, filter); err != nil {
		return nil, err
	}
	if err := s.readCheck(ctx); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("list messages of conversation %q", filter.ConversationID)
	limit := int64(filter.Limit)
	if limit == 0 {
		limit = -1 // no limit
	}
	// One read transaction, so that the existence check and the rows come
	// from the same snapshot.
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, translate(what, err)
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, qConversationExists, filter.ConversationID).Scan(&one); err != nil {
		return nil, translate(what, err)
	}
	rows, err := tx.QueryContext(ctx, qListMessages, filter.ConversationID, filter.AfterSeq, limit)
	if err != nil {
		return nil, translate(what, err)
	}
	defer rows.Close()
	out := make([]attendance.Message, 0)
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, translate(what, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(what, err)
	}
	return out, nil
}

// MarkRead raises a participant's read mark to params.Seq and returns the
// mark now stored; a Seq at or below the current mark changes nothing. It
// returns ErrNotFound for an unknown conversation and ErrInvalidArgument for
// an empty ID or participant, a negative Seq or one above LastSeq.
func (s *Store) MarkRead(ctx context.Context, params attendance.MarkReadParams) (attendance.ReadMark, error) {
	if err := rules.MarkRead(pkg, params); err != nil {
		return attendance.ReadMark{}, err
	}
	var out attendance.ReadMark
	err := s.w.do(ctx, func(t *wtx) error {
		what := fmt.Sprintf("mark read in conversation %q", params.ConversationID)
		var (
			state   string
			lastSeq int64
		)
		if err := t.queryRow(qConversationSeq, params.ConversationID).Scan(&state, &lastSeq); err != nil {
			return translate(what, err)
		}
		if params.Seq > lastSeq {
			return rules.Invalid(pkg, what, "Seq %d is above LastSeq %d", params.Seq, lastSeq)
		}
		role, id := string(params.Participant.Role), params.Participant.ID
		if _, err := t.exec(qUpsertMark, params.ConversationID, role, id, params.Seq, timeArg(params.At)); err != nil {
			return translate(what, err)
		}
		var at sql.NullInt64
		out = attendance.ReadMark{ConversationID: params.ConversationID, Participant: params.Participant}
		if err := t.queryRow(qGetMark, params.ConversationID, role, id).Scan(&out.Seq, &at); err != nil {
			return translate(what, err)
		}
		out.At = timeCol(at)
		return nil
	})
	if err != nil {
		return attendance.ReadMark{}, err
	}
	return out, nil
}

// ReadMarks returns the read marks of a conversation ordered by participant
// role, then ID. It returns ErrNotFound for an unknown conversation.
func (s *Store) ReadMarks(ctx context.Context, conversationID string) ([]attendance.ReadMark, error) {
	if err := s.readCheck(ctx); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("read marks of conversation %q", conversationID)
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, translate(what, err)
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, qConversationExists, conversationID).Scan(&one); err != nil {
		return nil, translate(what, err)
	}
	rows, err := tx.QueryContext(ctx, qReadMarks, conversationID)
	if err != nil {
		return nil, translate(what, err)
	}
	defer rows.Close()
	out := make([]attendance.ReadMark, 0)
	for rows.Next() {
		var (
			m    = attendance.ReadMark{ConversationID: conversationID}
			role string
			at   sql.NullInt64
		)
		if err := rows.Scan(&role, &m.Participant.ID, &m.Seq, &at); err != nil {
			return nil, translate(what, err)
		}
		m.Participant.Role = attendance.Role(role)
		m.At = timeCol(at)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(what, err)
	}
	return out, nil
}
