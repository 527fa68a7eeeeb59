-- MosiaChat schema, version 1.
-- Times are INTEGER microseconds since the Unix epoch, UTC; NULL is "unset".

CREATE TABLE agents (
    id               TEXT    NOT NULL PRIMARY KEY,
    name             TEXT    NOT NULL,
    -- profile is the JSON of attendance.Profile; max_load copies Profile.Max
    -- so that capacity checks need no JSON.
    profile          TEXT    NOT NULL,
    max_load         INTEGER NOT NULL CHECK (max_load >= 1),
    presence         TEXT    NOT NULL CHECK (presence IN ('online', 'away', 'offline')),
    load             INTEGER NOT NULL DEFAULT 0 CHECK (load >= 0),
    last_assigned_at INTEGER
) STRICT;

-- agent_queues lists the queues each agent's profile serves.
CREATE TABLE agent_queues (
    queue_id TEXT NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    PRIMARY KEY (queue_id, agent_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX agent_queues_agent ON agent_queues (agent_id);

CREATE TABLE conversations (
    id             TEXT    NOT NULL PRIMARY KEY,
    beneficiary_id TEXT    NOT NULL,
    subject_id     TEXT    NOT NULL,
    queue_id       TEXT    NOT NULL,
    priority       INTEGER NOT NULL,
    channel        TEXT    NOT NULL,
    protocol       TEXT    NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('queued', 'offered', 'active', 'finalized', 'abandoned')),
    agent_id       TEXT REFERENCES agents (id),
    last_agent_id  TEXT    NOT NULL DEFAULT '',
    arrived_at     INTEGER,
    offer_deadline INTEGER,
    transfer_note  TEXT    NOT NULL DEFAULT '',
    final_reason   TEXT    NOT NULL DEFAULT '',
    final_note     TEXT    NOT NULL DEFAULT '',
    last_seq       INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    created_at     INTEGER,
    updated_at     INTEGER
) STRICT;

-- The queue order: priority (higher first), then arrival, then ID.
CREATE INDEX conversations_queue ON conversations (state, queue_id, priority DESC, arrived_at, id);
CREATE INDEX conversations_agent ON conversations (agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX conversations_beneficiary ON conversations (beneficiary_id);
CREATE INDEX conversations_offer_deadline ON conversations (offer_deadline) WHERE state = 'offered';

CREATE TABLE messages (
    conversation_id TEXT    NOT NULL REFERENCES conversations (id),
    seq             INTEGER NOT NULL,
    id              TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    sender_role     TEXT    NOT NULL,
    sender_id       TEXT    NOT NULL,
    body            TEXT    NOT NULL DEFAULT '',
    attachment      TEXT,   -- JSON of attendance.Attachment
    event           TEXT,   -- JSON of attendance.Event
    idempotency_key TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER,
    PRIMARY KEY (conversation_id, seq)
) STRICT;

-- A retried send (same conversation, sender and key) finds the first one.
CREATE UNIQUE INDEX messages_idempotency
    ON messages (conversation_id, sender_role, sender_id, idempotency_key)
    WHERE idempotency_key <> '';

CREATE TABLE read_marks (
    conversation_id  TEXT    NOT NULL REFERENCES conversations (id),
    participant_role TEXT    NOT NULL,
    participant_id   TEXT    NOT NULL,
    seq              INTEGER NOT NULL,
    at               INTEGER,
    PRIMARY KEY (conversation_id, participant_role, participant_id)
) STRICT, WITHOUT ROWID;
