-- MosiaChat schema, version 1. {{schema}} is replaced by the quoted schema
-- name (Config.Schema) before this runs. Identifiers use the "C" collation,
-- so that they sort byte by byte, as in the other backends, whatever the
-- database's locale.

CREATE TABLE {{schema}}.agents (
    id               text COLLATE "C" NOT NULL PRIMARY KEY,
    name             text             NOT NULL,
    -- profile is the JSON of attendance.Profile; max_load copies Profile.Max
    -- so that the capacity check is a plain column comparison.
    profile          jsonb            NOT NULL,
    max_load         integer          NOT NULL CHECK (max_load >= 1),
    presence         text             NOT NULL CHECK (presence IN ('online', 'away', 'offline')),
    load             integer          NOT NULL DEFAULT 0 CHECK (load >= 0),
    last_assigned_at timestamptz
);

-- agent_queues lists the queues each agent's profile serves.
CREATE TABLE {{schema}}.agent_queues (
    queue_id text COLLATE "C" NOT NULL,
    agent_id text COLLATE "C" NOT NULL REFERENCES {{schema}}.agents (id) ON DELETE CASCADE,
    PRIMARY KEY (queue_id, agent_id)
);

CREATE INDEX agent_queues_agent ON {{schema}}.agent_queues (agent_id);

CREATE TABLE {{schema}}.conversations (
    id             text COLLATE "C" NOT NULL PRIMARY KEY,
    beneficiary_id text COLLATE "C" NOT NULL,
    subject_id     text COLLATE "C" NOT NULL,
    queue_id       text COLLATE "C" NOT NULL,
    priority       integer          NOT NULL,
    channel        text             NOT NULL,
    protocol       text             NOT NULL,
    state          text             NOT NULL CHECK (state IN ('queued', 'offered', 'active', 'finalized', 'abandoned')),
    agent_id       text COLLATE "C" REFERENCES {{schema}}.agents (id),
    last_agent_id  text COLLATE "C" NOT NULL DEFAULT '',
    arrived_at     timestamptz,
    offer_deadline timestamptz,
    transfer_note  text             NOT NULL DEFAULT '',
    final_reason   text             NOT NULL DEFAULT '',
    final_note     text             NOT NULL DEFAULT '',
    last_seq       bigint           NOT NULL,
    version        bigint           NOT NULL,
    created_at     timestamptz,
    updated_at     timestamptz
);

-- The queue order: priority (higher first), then arrival, then ID.
CREATE INDEX conversations_queue ON {{schema}}.conversations (state, queue_id, priority DESC, arrived_at, id);
CREATE INDEX conversations_agent ON {{schema}}.conversations (agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX conversations_beneficiary ON {{schema}}.conversations (beneficiary_id);
CREATE INDEX conversations_offer_deadline ON {{schema}}.conversations (offer_deadline) WHERE state = 'offered';

CREATE TABLE {{schema}}.messages (
    conversation_id text COLLATE "C" NOT NULL REFERENCES {{schema}}.conversations (id),
    seq             bigint           NOT NULL,
    id              text COLLATE "C" NOT NULL,
    kind            text             NOT NULL,
    sender_role     text COLLATE "C" NOT NULL,
    sender_id       text COLLATE "C" NOT NULL,
    body            text             NOT NULL DEFAULT '',
    attachment      jsonb,
    event           jsonb,
    idempotency_key text COLLATE "C" NOT NULL DEFAULT '',
    created_at      timestamptz,
    PRIMARY KEY (conversation_id, seq)
);

-- A retried send (same conversation, sender and key) finds the first one.
CREATE UNIQUE INDEX messages_idempotency
    ON {{schema}}.messages (conversation_id, sender_role, sender_id, idempotency_key)
    WHERE idempotency_key <> '';

CREATE TABLE {{schema}}.read_marks (
    conversation_id  text COLLATE "C" NOT NULL REFERENCES {{schema}}.conversations (id),
    participant_role text COLLATE "C" NOT NULL,
    participant_id   text COLLATE "C" NOT NULL,
    seq              bigint           NOT NULL,
    at               timestamptz,
    PRIMARY KEY (conversation_id, participant_role, participant_id)
);
