package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/internal/rules"
)

// UpsertAgent creates an agent (offline, load 0) or replaces an existing
// agent's name and profile, keeping presence, load and LastAssignedAt.
// It returns ErrInvalidArgument for an empty ID or an invalid profile.
func (s *Store) UpsertAgent(ctx context.Context, params attendance.UpsertAgentParams) (attendance.Agent, error) {
	if err := s.check(ctx); err != nil {
		return attendance.Agent{}, err
	}
	if err := rules.Agent(pkg, params); err != nil {
		return attendance.Agent{}, err
	}
	profile, err := rules.EncodeProfile(pkg, params.Profile)
	if err != nil {
		return attendance.Agent{}, err
	}
	what := fmt.Sprintf("upsert agent %q", params.ID)
	var out attendance.Agent
	err = s.inTx(ctx, what, func(tx pgx.Tx) error {
		a, err := scanAgent(tx.QueryRow(ctx, s.q.upsertAgent, params.ID, params.Name, profile, params.Profile.Max))
		if err != nil {
			return translate(what, err)
		}
		if _, err := tx.Exec(ctx, s.q.deleteAgentQueues, params.ID); err != nil {
			return translate(what, err)
		}
		if _, err := tx.Exec(ctx, s.q.insertAgentQueues, params.ID, params.Profile.Queues); err != nil {
			return translate(what, err)
		}
		out = a
		return nil
	})
	return out, err
}

// GetAgent returns one agent, or ErrNotFound.
func (s *Store) GetAgent(ctx context.Context, id string) (attendance.Agent, error) {
	if err := s.check(ctx); err != nil {
		return attendance.Agent{}, err
	}
	a, err := scanAgent(s.pool.QueryRow(ctx, s.q.getAgent, id))
	if err != nil {
		return attendance.Agent{}, translate(fmt.Sprintf("get agent %q", id), err)
	}
	return a, nil
}

// ListAgents returns the agents matching filter, ordered by ID. An unknown
// Presence in the filter is ErrInvalidArgument.
func (s *Store) ListAgents(ctx context.Context, filter attendance.ListAgentsFilter) ([]attendance.Agent, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := rules.ListAgents(pkg, filter); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, s.q.listAgents, string(filter.Presence), filter.QueueID)
	if err != nil {
		return nil, translate("list agents", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (attendance.Agent, error) { return scanAgent(r) })
	if err != nil {
		return nil, translate("list agents", err)
	}
	if out == nil {
		out = make([]attendance.Agent, 0)
	}
	return out, nil
}

// SetPresence changes an agent's presence; coming online from away or
// offline sets LastAssignedAt to params.At. Load is never changed here: the
// engine takes pending offers back with Transition. It returns ErrNotFound
// for an unknown agent and ErrInvalidArgument for an empty ID or an unknown
// presence.
func (s *Store) SetPresence(ctx context.Context, params attendance.SetPresenceParams) (attendance.Agent, error) {
	if err := s.check(ctx); err != nil {
		return attendance.Agent{}, err
	}
	if err := rules.Presence(pkg, params); err != nil {
		return attendance.Agent{}, err
	}
	a, err := scanAgent(s.pool.QueryRow(ctx, s.q.setPresence, params.AgentID, string(params.Presence), timeArg(params.At)))
	if err != nil {
		return attendance.Agent{}, translate(fmt.Sprintf("set presence of agent %q", params.AgentID), err)
	}
	return a, nil
}
