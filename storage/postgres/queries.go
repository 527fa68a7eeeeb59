package postgres

import "strings"

// queries are the store's SQL with the schema filled in. pgx prepares and
// caches each on every connection that runs it.
type queries struct {
	upsertAgent, deleteAgentQueues, insertAgentQueues, setPresence, getAgent string
	addLoad, subtractLoad                                                    string
	listAgents                                                               string

	createConversation, getConversation, countOpen, lockConversation, updateConversation string
	listConversations                                                                    string

	insertMessage, appendMessage, conversationState, findIdempotent, listMessages string
	conversationExists                                                            string

	lastSeq, upsertMark, getMark, readMarks string
}

func newQueries(schema string) queries {
	r := strings.NewReplacer("{{s}}", schema)
	q := queries{
		upsertAgent: `INSERT INTO {{s}}.agents (id, name, profile, max_load, presence, load, last_assigned_at)
			VALUES ($1, $2, $3, $4, 'offline', 0, NULL)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, profile = excluded.profile, max_load = excluded.max_load
			RETURNING ` + agentCols,
		deleteAgentQueues: `DELETE FROM {{s}}.agent_queues WHERE agent_id = $1`,
		insertAgentQueues: `INSERT INTO {{s}}.agent_queues (queue_id, agent_id)
			SELECT DISTINCT q, $1 FROM unnest($2::text[]) AS q`,
		setPresence: `UPDATE {{s}}.agents SET
			last_assigned_at = CASE WHEN $2 = 'online' AND presence <> 'online' THEN $3::timestamptz ELSE last_assigned_at END,
			presence = $2
			WHERE id = $1
			RETURNING ` + agentCols,
		getAgent: `SELECT ` + agentCols + ` FROM {{s}}.agents WHERE id = $1`,
		// addLoad is the capacity guard: it takes a slot only if the agent
		// is online and below Max, under the agent's row lock.
		addLoad: `UPDATE {{s}}.agents SET load = load + 1, last_assigned_at = $2
			WHERE id = $1 AND presence = 'online' AND load < max_load
			RETURNING id`,
		subtractLoad: `UPDATE {{s}}.agents SET load = load - 1 WHERE id = $1 AND load > 0`,
		listAgents: `SELECT ` + agentCols + ` FROM {{s}}.agents
			WHERE ($1 = '' OR presence = $1)
			  AND ($2 = '' OR id IN (SELECT agent_id FROM {{s}}.agent_queues WHERE queue_id = $2))
			ORDER BY id`,

		createConversation: `WITH c AS (
				INSERT INTO {{s}}.conversations (` + convCols + `)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
				RETURNING id)
			INSERT INTO {{s}}.messages (` + msgCols + `)
			SELECT c.id, 1, $20, $21, $22, $23, $24, $25::jsonb, $26::jsonb, $27, $28::timestamptz FROM c`,
		getConversation: `SELECT ` + convCols + ` FROM {{s}}.conversations WHERE id = $1`,
		countOpen: `SELECT count(*) FROM {{s}}.conversations
			WHERE beneficiary_id = $1 AND state IN ('queued', 'offered', 'active')`,
		lockConversation: `SELECT ` + convCols + ` FROM {{s}}.conversations WHERE id = $1 FOR UPDATE`,
		updateConversation: `UPDATE {{s}}.conversations SET
			state = $2, agent_id = $3, last_agent_id = $4, queue_id = $5, offer_deadline = $6,
			transfer_note = $7, final_reason = $8, final_note = $9, last_seq = $10, version = $11, updated_at = $12
			WHERE id = $1 AND version = $13`,
		listConversations: `SELECT ` + convCols + ` FROM {{s}}.conversations`,

		insertMessage: `INSERT INTO {{s}}.messages (` + msgCols + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		// appendMessage takes the next Seq and inserts the message in one
		// statement, returning the conversation as it left it (its
		// last_seq is the message's seq): the UPDATE locks the
		// conversation row, so concurrent appends to one conversation line
		// up, and nothing happens (no row) when the beneficiary is not $13,
		// the state is not one of $2, the owner is not $12 or the
		// idempotency key was used. "idempotency_key <> ''" lets the
		// planner use the partial unique index even in a generic plan.
		appendMessage: `WITH c AS (
				UPDATE {{s}}.conversations SET last_seq = last_seq + 1
				WHERE id = $1 AND state = ANY($2::text[])
				  AND ($12::text = '' OR agent_id = $12)
				  AND ($13::text = '' OR beneficiary_id = $13)
				  AND ($10::text = '' OR NOT EXISTS (
					SELECT 1 FROM {{s}}.messages m
					WHERE m.conversation_id = $1 AND m.sender_role = $5 AND m.sender_id = $6
					  AND m.idempotency_key = $10 AND m.idempotency_key <> ''))
				RETURNING ` + convCols + `),
			inserted AS (
				INSERT INTO {{s}}.messages (` + msgCols + `)
				SELECT $1, c.last_seq, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11::timestamptz FROM c
				RETURNING seq)
			SELECT ` + convCols + ` FROM c WHERE EXISTS (SELECT 1 FROM inserted)`,
		conversationState: `SELECT state, COALESCE(agent_id, ''), beneficiary_id FROM {{s}}.conversations WHERE id = $1`,
		findIdempotent: `SELECT ` + msgCols + ` FROM {{s}}.messages
			WHERE conversation_id = $1 AND sender_role = $2 AND sender_id = $3 AND idempotency_key = $4 AND idempotency_key <> ''`,
		listMessages: `SELECT ` + msgCols + ` FROM {{s}}.messages
			WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		conversationExists: `SELECT EXISTS (SELECT 1 FROM {{s}}.conversations WHERE id = $1)`,

		lastSeq: `SELECT last_seq FROM {{s}}.conversations WHERE id = $1`,
		upsertMark: `INSERT INTO {{s}}.read_marks AS r (conversation_id, participant_role, participant_id, seq, at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (conversation_id, participant_role, participant_id)
			DO UPDATE SET seq = excluded.seq, at = excluded.at WHERE excluded.seq > r.seq
			RETURNING seq, at`,
		getMark: `SELECT seq, at FROM {{s}}.read_marks
			WHERE conversation_id = $1 AND participant_role = $2 AND participant_id = $3`,
		readMarks: `SELECT participant_role, participant_id, seq, at FROM {{s}}.read_marks
			WHERE conversation_id = $1 ORDER BY participant_role, participant_id`,
	}
	for _, p := range []*string{
		&q.upsertAgent, &q.deleteAgentQueues, &q.insertAgentQueues, &q.setPresence, &q.getAgent,
		&q.addLoad, &q.subtractLoad, &q.listAgents,
		&q.createConversation, &q.getConversation, &q.countOpen, &q.lockConversation, &q.updateConversation, &q.listConversations,
		&q.insertMessage, &q.appendMessage, &q.conversationState, &q.findIdempotent, &q.listMessages,
		&q.conversationExists, &q.lastSeq, &q.upsertMark, &q.getMark, &q.readMarks,
	} {
		*p = r.Replace(*p)
	}
	return q
}
