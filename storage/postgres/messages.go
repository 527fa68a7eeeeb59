package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/internal/rules"
)

// AppendMessage appends a participant's message with the next Seq in one
// statement (one round trip, one commit): it raises the conversation's
// LastSeq under the row lock and inserts the message, returning the
// conversation as it left it, or does nothing. A conversation that is not
// params.BeneficiaryID's (when set) is ErrForbidden. A repeated (sender,
// IdempotencyKey) in the same conversation returns the first message with
// created == false, whatever the conversation's state now is. Otherwise the state must be one of params.States
// (ErrInvalidTransition). It returns ErrNotFound for an unknown
// conversation and ErrInvalidArgument for a message without
// ConversationID, ID, a known Kind, Sender or CreatedAt, or for empty or
// unknown States.
func (s *Store) AppendMessage(ctx context.Context, params attendance.AppendMessageParams) (attendance.Message, attendance.Conversation, bool, error) {
	var none attendance.Conversation
	if err := s.check(ctx); err != nil {
		return attendance.Message{}, none, false, err
	}
	if err := rules.Append(pkg, &params); err != nil {
		return attendance.Message{}, none, false, err
	}
	m := rules.NormMessage(params.Message)
	what := fmt.Sprintf("append message to conversation %q", m.ConversationID)
	states := make([]string, len(params.States))
	for i, st := range params.States {
		states[i] = string(st)
	}
	args, err := messageArgs(m)
	if err != nil {
		return attendance.Message{}, none, false, err
	}
	args[1] = states                          // $2: the seq comes from the conversation row
	args = append(args, params.AgentID)       // $12: the owner, or '' for anyone
	args = append(args, params.BeneficiaryID) // $13: the beneficiary, or '' for anyone

	for attempt := 0; ; attempt++ {
		c, err := scanConversation(s.pool.QueryRow(ctx, s.q.appendMessage, args...))
		if err == nil {
			m.Seq = c.LastSeq
			return m, c, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) && pgCode(err) != codeUniqueViolation {
			return attendance.Message{}, none, false, translate(what, err)
		}
		// Nothing was written: say why, in the contract's order.
		var state, owner, beneficiary string
		if err := s.pool.QueryRow(ctx, s.q.conversationState, m.ConversationID).Scan(&state, &owner, &beneficiary); err != nil {
			return attendance.Message{}, none, false, translate(what, err)
		}
		if params.BeneficiaryID != "" && beneficiary != params.BeneficiaryID {
			return attendance.Message{}, none, false, fmt.Errorf("postgres: %s: it is not beneficiary %q's: %w", what, params.BeneficiaryID, attendance.ErrForbidden)
		}
		if m.IdempotencyKey != "" {
			prev, err := scanMessage(s.pool.QueryRow(ctx, s.q.findIdempotent,
				m.ConversationID, string(m.Sender.Role), m.Sender.ID, m.IdempotencyKey))
			if err == nil {
				return prev, none, false, nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return attendance.Message{}, none, false, translate(what, err)
			}
		}
		if !slices.Contains(params.States, attendance.State(state)) {
			return attendance.Message{}, none, false, fmt.Errorf("postgres: %s: state is %s, want one of %v: %w",
				what, state, params.States, attendance.ErrInvalidTransition)
		}
		if params.AgentID != "" && owner != params.AgentID {
			return attendance.Message{}, none, false, fmt.Errorf("postgres: %s: it is not agent %q's: %w", what, params.AgentID, attendance.ErrForbidden)
		}
		// The state moved out of States and back between the two
		// statements; try again.
		if attempt >= s.cfg.MaxRetries {
			return attendance.Message{}, none, false, fmt.Errorf("postgres: %s: the conversation kept changing: %w", what, attendance.ErrConflict)
		}
	}
}

// ListMessages returns a conversation's messages with Seq > AfterSeq in Seq
// order, at most Limit of them (0 means all). It returns ErrNotFound for an
// unknown conversation and ErrInvalidArgument for an empty ID or a negative
// AfterSeq or Limit.
func (s *Store) ListMessages(ctx context.Context, filter attendance.ListMessagesFilter) ([]attendance.Message, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := rules.ListMessages(pkg, filter); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("list messages of conversation %q", filter.ConversationID)
	var limit any
	if filter.Limit > 0 {
		limit = filter.Limit
	}
	rows, err := s.pool.Query(ctx, s.q.listMessages, filter.ConversationID, filter.AfterSeq, limit)
	if err != nil {
		return nil, translate(what, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (attendance.Message, error) { return scanMessage(r) })
	if err != nil {
		return nil, translate(what, err)
	}
	if len(out) == 0 {
		// Conversations are never deleted, so an empty page of an existing
		// conversation stays valid.
		if err := s.exists(ctx, what, filter.ConversationID); err != nil {
			return nil, err
		}
		out = make([]attendance.Message, 0)
	}
	return out, nil
}

// exists returns ErrNotFound unless the conversation exists.
func (s *Store) exists(ctx context.Context, what, id string) error {
	var ok bool
	if err := s.pool.QueryRow(ctx, s.q.conversationExists, id).Scan(&ok); err != nil {
		return translate(what, err)
	}
	if !ok {
		return fmt.Errorf("postgres: %s: %w", what, attendance.ErrNotFound)
	}
	return nil
}

// MarkRead raises a participant's read mark to params.Seq and returns the
// mark now stored; a Seq at or below the current mark changes nothing. It
// returns ErrNotFound for an unknown conversation and ErrInvalidArgument for
// an empty ID or participant, a negative Seq or one above LastSeq.
func (s *Store) MarkRead(ctx context.Context, params attendance.MarkReadParams) (attendance.ReadMark, error) {
	if err := s.check(ctx); err != nil {
		return attendance.ReadMark{}, err
	}
	if err := rules.MarkRead(pkg, params); err != nil {
		return attendance.ReadMark{}, err
	}
	what := fmt.Sprintf("mark read in conversation %q", params.ConversationID)
	// LastSeq only grows, so checking it before the upsert is safe.
	var lastSeq int64
	if err := s.pool.QueryRow(ctx, s.q.lastSeq, params.ConversationID).Scan(&lastSeq); err != nil {
		return attendance.ReadMark{}, translate(what, err)
	}
	if params.Seq > lastSeq {
		return attendance.ReadMark{}, rules.Invalid(pkg, what, "Seq %d is above LastSeq %d", params.Seq, lastSeq)
	}
	role, id := string(params.Participant.Role), params.Participant.ID
	out := attendance.ReadMark{ConversationID: params.ConversationID, Participant: params.Participant}
	var at pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, s.q.upsertMark, params.ConversationID, role, id, params.Seq, timeArg(params.At)).Scan(&out.Seq, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		// The stored mark is at or above Seq: return it.
		err = s.pool.QueryRow(ctx, s.q.getMark, params.ConversationID, role, id).Scan(&out.Seq, &at)
	}
	if err != nil {
		return attendance.ReadMark{}, translate(what, err)
	}
	out.At = timeCol(at)
	return out, nil
}

// ReadMarks returns the read marks of a conversation ordered by participant
// role, then ID. It returns ErrNotFound for an unknown conversation.
func (s *Store) ReadMarks(ctx context.Context, conversationID string) ([]attendance.ReadMark, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("read marks of conversation %q", conversationID)
	rows, err := s.pool.Query(ctx, s.q.readMarks, conversationID)
	if err != nil {
		return nil, translate(what, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (attendance.ReadMark, error) {
		var (
			m    = attendance.ReadMark{ConversationID: conversationID}
			role string
			at   pgtype.Timestamptz
		)
		if err := r.Scan(&role, &m.Participant.ID, &m.Seq, &at); err != nil {
			return m, err
		}
		m.Participant.Role = attendance.Role(role)
		m.At = timeCol(at)
		return m, nil
	})
	if err != nil {
		return nil, translate(what, err)
	}
	if len(out) == 0 {
		if err := s.exists(ctx, what, conversationID); err != nil {
			return nil, err
		}
		out = make([]attendance.ReadMark, 0)
	}
	return out, nil
}
