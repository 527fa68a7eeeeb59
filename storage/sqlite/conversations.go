package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/internal/rules"
)

const (
	qInsertConversation = `INSERT INTO conversations (` + convCols + `)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)`
	qGetConversation    = `SELECT ` + convCols + ` FROM conversations WHERE id = ?1`
	qCountOpen          = `SELECT count(*) FROM conversations WHERE beneficiary_id = ?1 AND state IN ('queued', 'offered', 'active')`
	qUpdateConversation = `UPDATE conversations SET
		state = ?2, agent_id = ?3, last_agent_id = ?4, queue_id = ?5, offer_deadline = ?6,
		transfer_note = ?7, final_reason = ?8, final_note = ?9, last_seq = ?10, version = ?11, updated_at = ?12
		WHERE id = ?1 AND version = ?13`
	qInsertMessage = `INSERT INTO messages (` + msgCols + `) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)`
)

func conversationArgs(c attendance.Conversation) []any {
	return []any{c.ID, c.BeneficiaryID, c.SubjectID, c.QueueID, c.Priority, c.Channel, c.Protocol, string(c.State),
		rules.NullString(c.AgentID), c.LastAgentID, timeArg(c.ArrivedAt), timeArg(c.OfferDeadline),
		c.TransferNote, c.FinalReason, c.FinalNote, c.LastSeq, c.Version, timeArg(c.CreatedAt), timeArg(c.UpdatedAt)}
}

// CreateConversation stores a new queued conversation and its "opened"
// system message as Seq 1 (the store sets the message's ConversationID, Seq
// and Kind). The conversation must be queued, at Version 0, with no agent;
// IDs, BeneficiaryID and QueueID must be set (ErrInvalidArgument). A
// duplicate ID is ErrConflict; a beneficiary with params.MaxOpen open
// conversations already is ErrLimit.
func (s *Store) CreateConversation(ctx context.Context, params attendance.CreateConversationParams) (attendance.Conversation, attendance.Message, error) {
	c := params.Conversation
	if err := rules.NewConversation(pkg, c, params.Opened); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	c, msg := rules.Created(c, params.Opened, rules.NormTime)
	margs, err := messageArgs(msg)
	if err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	err = s.w.do(ctx, func(t *wtx) error {
		what := fmt.Sprintf("create conversation %q", c.ID)
		if _, err := t.exec(qInsertConversation, conversationArgs(c)...); err != nil {
			return translate(what, err)
		}
		if _, err := t.exec(qInsertMessage, margs...); err != nil {
			return translate(what+": opened message", err)
		}
		if params.MaxOpen > 0 {
			// The single writer makes the insert and the count one step;
			// inserting first keeps a duplicate ID ErrConflict, and the
			// error rolls the insert back.
			var open int
			if err := t.queryRow(qCountOpen, c.BeneficiaryID).Scan(&open); err != nil {
				return translate(what, err)
			}
			if open > params.MaxOpen {
				return fmt.Errorf("sqlite: %s: beneficiary %q already has %d open conversations: %w", what, c.BeneficiaryID, open-1, attendance.ErrLimit)
			}
		}
		return nil
	})
	if err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	return c, rules.NormMessage(msg), nil
}

// GetConversation returns one conversation, or ErrNotFound.
func (s *Store) GetConversation(ctx context.Context, id string) (attendance.Conversation, error) {
	if err := s.readCheck(ctx); err != nil {
		return attendance.Conversation{}, err
	}
	c, err := scanConversation(s.rdb.QueryRowContext(ctx, qGetConversation, id))
	if err != nil {
		return attendance.Conversation{}, translate(fmt.Sprintf("get conversation %q", id), err)
	}
	return c, nil
}

// ListConversations returns the conversations matching filter, ordered by
// priority (higher first), then ArrivedAt, then ID, at most filter.Limit of
// them. An unknown state or a negative Limit is ErrInvalidArgument. With
// OfferExpiredAt set, only offered conversations with a deadline at or
// before it match.
func (s *Store) ListConversations(ctx context.Context, filter attendance.ListConversationsFilter) ([]attendance.Conversation, error) {
	if err := rules.ListConversations(pkg, filter); err != nil {
		return nil, err
	}
	if err := s.readCheck(ctx); err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	if len(filter.States) > 0 {
		marks := make([]string, len(filter.States))
		for i, st := range filter.States {
			marks[i] = "?"
			args = append(args, string(st))
		}
		where = append(where, "state IN ("+strings.Join(marks, ", ")+")")
	}
	if filter.QueueID != "" {
		where = append(where, "queue_id = ?")
		args = append(args, filter.QueueID)
	}
	if filter.AgentID != "" {
		where = append(where, "agent_id = ?")
		args = append(args, filter.AgentID)
	}
	if filter.BeneficiaryID != "" {
		where = append(where, "beneficiary_id = ?")
		args = append(args, filter.BeneficiaryID)
	}
	if !filter.OfferExpiredAt.IsZero() {
		where = append(where, "state = 'offered' AND offer_deadline IS NOT NULL AND offer_deadline <= ?")
		args = append(args, timeArg(rules.NormTime(filter.OfferExpiredAt)))
	}
	q := `SELECT ` + convCols + ` FROM conversations`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY priority DESC, arrived_at, id"
	if filter.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, filter.Limit)
	}
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate("list conversations", err)
	}
	defer rows.Close()
	out := make([]attendance.Conversation, 0)
	for rows.Next() {
		c, err := scanConversation(rows)
		if err != nil {
			return nil, translate("list conversations", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("list conversations", err)
	}
	return out, nil
}

// Transition applies one conditional move in one write transaction,
// checking in this order: params (ErrInvalidArgument), the conversation
// exists (ErrNotFound), its state is one of From (ErrConflict, or a
// *attendance.TransitionError if it is terminal), the move is in the
// transition table (*TransitionError), ExpectAgentID and ExpectVersion
// (ErrConflict), OfferValidAt (ErrOfferExpired), OfferExpiredAt
// (ErrConflict) and, when the conversation changes hands, the new owner
// exists (ErrNotFound), is online (ErrAgentUnavailable) and has Load < Max
// (ErrAgentAtCapacity). On success it moves the conversation, adjusts both
// agents' loads and appends params.Message as a system message; on failure
// nothing changes.
//
// Zero-deadline offers never expire. Non-empty notes and reasons replace
// the stored ones; empty ones keep them. If params.Message.Event is set, its
// From and To are set to the actual move.
func (s *Store) Transition(ctx context.Context, params attendance.TransitionParams) (attendance.Conversation, attendance.Message, error) {
	if err := rules.Transition(pkg, &params); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	p := &params
	var (
		next attendance.Conversation
		msg  attendance.Message
	)
	err := s.w.do(ctx, func(t *wtx) error {
		cur, err := scanConversation(t.queryRow(qGetConversation, p.ConversationID))
		if err != nil {
			return translate(fmt.Sprintf("transition conversation %q to %s", p.ConversationID, p.To), err)
		}
		if err := rules.Conversation(pkg, &cur, p, rules.NormTime); err != nil {
			return err
		}
		prevOwner, newOwner := rules.Owners(&cur, p)
		if newOwner != "" && newOwner != prevOwner {
			a, err := scanAgent(t.queryRow(qGetAgent, newOwner))
			if err != nil {
				return translate(fmt.Sprintf("transition conversation %q to %s: agent %q", p.ConversationID, p.To, newOwner), err)
			}
			if err := rules.Target(pkg, &a, a.Profile.Max, p); err != nil {
				return err
			}
		}

		n, m := rules.Apply(cur, p, rules.NormTime)
		what := fmt.Sprintf("transition conversation %q to %s", p.ConversationID, p.To)
		if prevOwner != "" && prevOwner != newOwner {
			if _, err := t.exec(qSubtractLoad, prevOwner); err != nil {
				return translate(what, err)
			}
		}
		if newOwner != "" && newOwner != prevOwner {
			if _, err := t.exec(qAddLoad, newOwner, timeArg(n.UpdatedAt)); err != nil {
				return translate(what, err)
			}
		}
		res, err := t.exec(qUpdateConversation, n.ID, string(n.State), rules.NullString(n.AgentID), n.LastAgentID, n.QueueID,
			timeArg(n.OfferDeadline), n.TransferNote, n.FinalReason, n.FinalNote, n.LastSeq, n.Version,
			timeArg(n.UpdatedAt), cur.Version)
		if err != nil {
			return translate(what, err)
		}
		if rows, err := res.RowsAffected(); err != nil || rows != 1 {
			// Cannot happen while writes are serialized; kept as a guard.
			return fmt.Errorf("sqlite: %s: conversation changed underneath: %w", what, attendance.ErrConflict)
		}
		margs, err := messageArgs(m)
		if err != nil {
			return err
		}
		if _, err := t.exec(qInsertMessage, margs...); err != nil {
			return translate(what+": system message", err)
		}
		next, msg = n, m
		return nil
	})
	if err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	return next, rules.NormMessage(msg), nil
}
