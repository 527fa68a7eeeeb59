package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/internal/rules"
)

func conversationArgs(c attendance.Conversation) []any {
	return []any{c.ID, c.BeneficiaryID, c.SubjectID, c.QueueID, c.Priority, c.Channel, c.Protocol, string(c.State),
		rules.NullString(c.AgentID), c.LastAgentID, timeArg(c.ArrivedAt), timeArg(c.OfferDeadline),
		c.TransferNote, c.FinalReason, c.FinalNote, c.LastSeq, c.Version, timeArg(c.CreatedAt), timeArg(c.UpdatedAt)}
}

// CreateConversation stores a new queued conversation and its "opened"
// system message as Seq 1 (the store sets the message's ConversationID, Seq
// and Kind), in one statement. The conversation must be queued, at Version
// 0, with no agent; IDs, BeneficiaryID and QueueID must be set
// (ErrInvalidArgument). A duplicate ID is ErrConflict. With
// params.MaxOpen, a transaction holding a lock on the beneficiary inserts,
// then counts their open conversations and rolls back with ErrLimit when
// that passes the limit (inserting first keeps a duplicate ID ErrConflict,
// which a retried Open with the same key reads back).
func (s *Store) CreateConversation(ctx context.Context, params attendance.CreateConversationParams) (attendance.Conversation, attendance.Message, error) {
	if err := s.check(ctx); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	c := params.Conversation
	if err := rules.NewConversation(pkg, c, params.Opened); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	c, msg := rules.Created(c, params.Opened, rules.NormTime)
	margs, err := messageArgs(msg)
	if err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	// The message's conversation ID and Seq come from the conversation row.
	args := append(conversationArgs(c), margs[2:]...)
	what := fmt.Sprintf("create conversation %q", c.ID)
	if params.MaxOpen <= 0 {
		if _, err := s.pool.Exec(ctx, s.q.createConversation, args...); err != nil {
			return attendance.Conversation{}, attendance.Message{}, translate(what, err)
		}
		return c, rules.NormMessage(msg), nil
	}
	// The beneficiary's lock (held to the commit) lines up the creations
	// that count their open conversations, whatever the engine, so the
	// count each one reads includes the others'.
	err = s.inTx(ctx, what, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "mosiachat open "+s.cfg.Schema+" "+c.BeneficiaryID); err != nil {
			return translate(what+": lock", err)
		}
		if _, err := tx.Exec(ctx, s.q.createConversation, args...); err != nil {
			return translate(what, err)
		}
		var open int
		if err := tx.QueryRow(ctx, s.q.countOpen, c.BeneficiaryID).Scan(&open); err != nil {
			return translate(what, err)
		}
		if open > params.MaxOpen {
			return fmt.Errorf("postgres: %s: beneficiary %q already has %d open conversations: %w", what, c.BeneficiaryID, open-1, attendance.ErrLimit)
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
	if err := s.check(ctx); err != nil {
		return attendance.Conversation{}, err
	}
	c, err := scanConversation(s.pool.QueryRow(ctx, s.q.getConversation, id))
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
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := rules.ListConversations(pkg, filter); err != nil {
		return nil, err
	}
	// The query holds only the conditions in use, so that each shape gets
	// a plan that uses its index (a catch-all "$1 = '' OR ..." would not).
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if len(filter.States) > 0 {
		states := make([]string, len(filter.States))
		for i, st := range filter.States {
			states[i] = string(st)
		}
		where = append(where, "state = ANY("+arg(states)+"::text[])")
	}
	if filter.QueueID != "" {
		where = append(where, "queue_id = "+arg(filter.QueueID))
	}
	if filter.AgentID != "" {
		where = append(where, "agent_id = "+arg(filter.AgentID))
	}
	if filter.BeneficiaryID != "" {
		where = append(where, "beneficiary_id = "+arg(filter.BeneficiaryID))
	}
	if !filter.OfferExpiredAt.IsZero() {
		where = append(where, "state = 'offered' AND offer_deadline <= "+arg(rules.NormTime(filter.OfferExpiredAt)))
	}
	q := s.q.listConversations
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY priority DESC, arrived_at, id"
	if filter.Limit > 0 {
		q += " LIMIT " + arg(filter.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, translate("list conversations", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (attendance.Conversation, error) { return scanConversation(r) })
	if err != nil {
		return nil, translate("list conversations", err)
	}
	if out == nil {
		out = make([]attendance.Conversation, 0)
	}
	return out, nil
}

// Transition applies one conditional move in one transaction, checking in
// this order: params (ErrInvalidArgument), the conversation exists
// (ErrNotFound), its state is one of From (ErrConflict, or a
// *attendance.TransitionError if it is terminal), the move is in the
// transition table (*TransitionError), ExpectAgentID and ExpectVersion
// (ErrConflict), OfferValidAt (ErrOfferExpired), OfferExpiredAt
// (ErrConflict) and, when the conversation changes hands, the new owner
// exists (ErrNotFound), is online (ErrAgentUnavailable) and has Load < Max
// (ErrAgentAtCapacity). On success it moves the conversation, adjusts both
// agents' loads and appends params.Message as a system message; on failure
// nothing changes.
//
// The conversation row is locked first (SELECT ... FOR UPDATE), so two
// callers moving one conversation line up and the second sees the first's
// result. The new owner's slot is taken by a conditional UPDATE (online and
// load < max_load) under the agent's row lock, so no agent passes Max
// whatever the number of processes. Agent rows are updated in ID order, so
// two transfers between the same two agents cannot deadlock.
//
// Zero-deadline offers never expire. Non-empty notes and reasons replace
// the stored ones; empty ones keep them. If params.Message.Event is set, its
// From and To are set to the actual move.
func (s *Store) Transition(ctx context.Context, params attendance.TransitionParams) (attendance.Conversation, attendance.Message, error) {
	if err := s.check(ctx); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	if err := rules.Transition(pkg, &params); err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	p := &params
	what := fmt.Sprintf("transition conversation %q to %s", p.ConversationID, p.To)
	var (
		next         attendance.Conversation
		msg          attendance.Message
		refusedOwner string // see fail below
	)
	err := s.inTx(ctx, what, func(tx pgx.Tx) error {
		cur, err := scanConversation(tx.QueryRow(ctx, s.q.lockConversation, p.ConversationID))
		if err != nil {
			return translate(what, err)
		}
		if err := rules.Conversation(pkg, &cur, p, rules.NormTime); err != nil {
			return err
		}
		prevOwner, newOwner := rules.Owners(&cur, p)
		n, m := rules.Apply(cur, p, rules.NormTime)
		margs, err := messageArgs(m)
		if err != nil {
			return err
		}

		// One round trip for all the writes. If the new owner cannot take
		// it, the other statements still run and the transaction is
		// rolled back.
		type agentStep struct {
			id  string
			add bool
		}
		var steps []agentStep
		if prevOwner != "" && prevOwner != newOwner {
			steps = append(steps, agentStep{id: prevOwner})
		}
		if newOwner != "" && newOwner != prevOwner {
			steps = append(steps, agentStep{id: newOwner, add: true})
		}
		slices.SortFunc(steps, func(a, b agentStep) int { return strings.Compare(a.id, b.id) })
		b := &pgx.Batch{}
		for _, st := range steps {
			if st.add {
				b.Queue(s.q.addLoad, st.id, timeArg(n.UpdatedAt))
			} else {
				b.Queue(s.q.subtractLoad, st.id)
			}
		}
		b.Queue(s.q.updateConversation, n.ID, string(n.State), rules.NullString(n.AgentID), n.LastAgentID, n.QueueID,
			timeArg(n.OfferDeadline), n.TransferNote, n.FinalReason, n.FinalNote, n.LastSeq, n.Version,
			timeArg(n.UpdatedAt), cur.Version)
		b.Queue(s.q.insertMessage, margs...)
		br := tx.SendBatch(ctx, b)
		slotTaken := true
		// fail closes the batch and explains err. When the new owner's
		// slot was refused, a later statement fails on the foreign key
		// for an unknown agent, so the refusal is what to report; the
		// transaction is aborted by then, so the agent is read once it is
		// rolled back (errRefusedAfterAbort): reading it on another of the
		// pool's connections while this one is held could wait for ever
		// when every connection is held that way.
		fail := func(format string, err error) error {
			br.Close()
			if !slotTaken {
				refusedOwner = newOwner
				return errRefusedAfterAbort
			}
			return translate(format, err)
		}
		for _, st := range steps {
			if st.add {
				var id string
				if err := br.QueryRow().Scan(&id); err != nil {
					if !errors.Is(err, pgx.ErrNoRows) {
						return fail(what, err)
					}
					slotTaken = false
				}
			} else if _, err := br.Exec(); err != nil {
				return fail(what, err)
			}
		}
		tag, err := br.Exec()
		if err != nil {
			return fail(what, err)
		}
		if _, err := br.Exec(); err != nil {
			return fail(what+": system message", err)
		}
		if err := br.Close(); err != nil {
			return fail(what, err)
		}
		if !slotTaken {
			return s.refusal(ctx, tx, p, newOwner)
		}
		if tag.RowsAffected() != 1 {
			// Cannot happen under the row lock; kept as a guard.
			return fmt.Errorf("postgres: %s: conversation changed underneath: %w", what, attendance.ErrConflict)
		}
		next, msg = n, m
		return nil
	})
	if errors.Is(err, errRefusedAfterAbort) {
		err = s.refusal(ctx, s.pool, p, refusedOwner)
	}
	if err != nil {
		return attendance.Conversation{}, attendance.Message{}, err
	}
	return next, rules.NormMessage(msg), nil
}

// errRefusedAfterAbort ends a transition's transaction whose new owner's
// slot was refused and whose later statements failed: the refusal is read
// (refusal) once the transaction is rolled back.
var errRefusedAfterAbort = errors.New("postgres: slot refused")

// refusal explains why agent id could not take a conversation.
func (s *Store) refusal(ctx context.Context, db querier, p *attendance.TransitionParams, id string) error {
	a, err := scanAgent(db.QueryRow(ctx, s.q.getAgent, id))
	if err != nil {
		return translate(fmt.Sprintf("transition conversation %q to %s: agent %q", p.ConversationID, p.To, id), err)
	}
	if err := rules.Target(pkg, &a, a.Profile.Max, p); err != nil {
		return err
	}
	// The agent's row changed between the two statements.
	return rules.TransitionError(pkg, p, "agent %q changed underneath: %w", id, attendance.ErrConflict)
}

// querier is a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
