package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/internal/rules"
)

const (
	qUpsertAgent = `INSERT INTO agents (id, name, profile, max_load, presence, load, last_assigned_at)
		VALUES (?1, ?2, ?3, ?4, 'offline', 0, NULL)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, profile = excluded.profile, max_load = excluded.max_load
		RETURNING ` + agentCols
	qDeleteAgentQueues = `DELETE FROM agent_queues WHERE agent_id = ?1`
	qInsertAgentQueue  = `INSERT OR IGNORE INTO agent_queues (queue_id, agent_id) VALUES (?1, ?2)`
	qSetPresence       = `UPDATE agents SET
		last_assigned_at = CASE WHEN ?2 = 'online' AND presence <> 'online' THEN ?3 ELSE last_assigned_at END,
		presence = ?2
		WHERE id = ?1
		RETURNING ` + agentCols
	qGetAgent     = `SELECT ` + agentCols + ` FROM agents WHERE id = ?1`
	qAddLoad      = `UPDATE agents SET load = load + 1, last_assigned_at = ?2 WHERE id = ?1`
	qSubtractLoad = `UPDATE agents SET load = load - 1 WHERE id = ?1 AND load > 0`
)

// UpsertAgent creates an agent (offline, load 0) or replaces an existing
// agent's name and profile, keeping presence, load and LastAssignedAt.
// It returns ErrInvalidArgument for an empty ID or an invalid profile.
func (s *Store) UpsertAgent(ctx context.Context, params attendance.UpsertAgentParams) (attendance.Agent, error) {
	if err := rules.Agent(pkg, params); err != nil {
		return attendance.Agent{}, err
	}
	profile, err := rules.EncodeProfile(pkg, params.Profile)
	if err != nil {
		return attendance.Agent{}, err
	}
	queues := slices.Clone(params.Profile.Queues)
	var out attendance.Agent
	err = s.w.do(ctx, func(t *wtx) error {
		what := fmt.Sprintf("upsert agent %q", params.ID)
		a, err := scanAgent(t.queryRow(qUpsertAgent, params.ID, params.Name, profile, params.Profile.Max))
		if err != nil {
			return translate(what, err)
		}
		if _, err := t.exec(qDeleteAgentQueues, params.ID); err != nil {
			return translate(what, err)
		}
		for _, q := range queues {
			if _, err := t.exec(qInsertAgentQueue, q, params.ID); err != nil {
				return translate(what, err)
			}
		}
		out = a
		return nil
	})
	return out, err
}

// GetAgent returns one agent, or ErrNotFound.
func (s *Store) GetAgent(ctx context.Context, id string) (attendance.Agent, error) {
	if err := s.readCheck(ctx); err != nil {
		return attendance.Agent{}, err
	}
	a, err := scanAgent(s.rdb.QueryRowContext(ctx, qGetAgent, id))
	if err != nil {
		return attendance.Agent{}, translate(fmt.Sprintf("get agent %q", id), err)
	}
	return a, nil
}

// ListAgents returns the agents matching filter, ordered by ID. An unknown
// Presence in the filter is ErrInvalidArgument.
func (s *Store) ListAgents(ctx context.Context, filter attendance.ListAgentsFilter) ([]attendance.Agent, error) {
	if err := rules.ListAgents(pkg, filter); err != nil {
		return nil, err
	}
	if err := s.readCheck(ctx); err != nil {
		return nil, err
	}
	var (
		where []string
		args  []any
	)
	if filter.Presence != "" {
		args = append(args, string(filter.Presence))
		where = append(where, "presence = ?")
	}
	if filter.QueueID != "" {
		args = append(args, filter.QueueID)
		where = append(where, "id IN (SELECT agent_id FROM agent_queues WHERE queue_id = ?)")
	}
	q := `SELECT ` + agentCols + ` FROM agents`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id"
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate("list agents", err)
	}
	defer rows.Close()
	out := make([]attendance.Agent, 0)
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, translate("list agents", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, translate("list agents", err)
	}
	return out, nil
}

// SetPresence changes an agent's presence; coming online from away or
// offline sets LastAssignedAt to params.At. Load is never changed here: the
// engine takes pending offers back with Transition. It returns ErrNotFound
// for an unknown agent and ErrInvalidArgument for an empty ID or an unknown
// presence.
func (s *Store) SetPresence(ctx context.Context, params attendance.SetPresenceParams) (attendance.Agent, error) {
	if err := rules.Presence(pkg, params); err != nil {
		return attendance.Agent{}, err
	}
	var out attendance.Agent
	err := s.w.do(ctx, func(t *wtx) error {
		a, err := scanAgent(t.queryRow(qSetPresence, params.AgentID, string(params.Presence), timeArg(params.At)))
		if err != nil {
			return translate(fmt.Sprintf("set presence of agent %q", params.AgentID), err)
		}
		out = a
		return nil
	})
	return out, err
}
