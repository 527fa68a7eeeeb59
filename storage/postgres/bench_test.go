package postgres_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/storage/postgres"
	"github.com/mosiachat/mosiachat/storage/storagetest"
)

// The benchmarks put the Store beside the raw database doing the same rows
// through the same driver (a pgxpool of the same size) in the same run:
// "store" is the Store's call, "raw" is plain SQL, one autocommit INSERT
// (or one transaction) per operation. Every operation counts only when its
// call returned, i.e. after its commit, with the server's settings
// (synchronous_commit=on unless the server says otherwise).

// benchConns is the pool size of both sides.
const benchConns = 16

// benchStore opens a Store on a fresh schema.
func benchStore(b *testing.B) *postgres.Store {
	dsn := testDSN(b)
	s, err := postgres.Open(b.Context(), dsn, &postgres.Config{Schema: newSchema(b, dsn), MaxConns: benchConns})
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	return s
}

// openRaw returns a pool of the Store's size on a fresh schema holding
// tables with the Store's columns, keys and indexes.
func openRaw(b *testing.B) (*pgxpool.Pool, string) {
	dsn := testDSN(b)
	schema := pgx.Identifier{newSchema(b, dsn)}.Sanitize()
	cfg, err := pgxpool.ParseConfig(dsn)
	require.NoError(b, err)
	cfg.MaxConns = benchConns
	pool, err := pgxpool.NewWithConfig(b.Context(), cfg)
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	_, err = pool.Exec(b.Context(), `CREATE SCHEMA `+schema+`;
		CREATE TABLE `+schema+`.conversations (id text COLLATE "C" PRIMARY KEY, state text NOT NULL, agent_id text,
			offer_deadline timestamptz, last_seq bigint NOT NULL, version bigint NOT NULL, updated_at timestamptz);
		CREATE TABLE `+schema+`.agents (id text COLLATE "C" PRIMARY KEY, load integer NOT NULL, last_assigned_at timestamptz);
		CREATE TABLE `+schema+`.messages (conversation_id text COLLATE "C" NOT NULL, seq bigint NOT NULL,
			id text NOT NULL, kind text NOT NULL, sender_role text NOT NULL, sender_id text NOT NULL,
			body text NOT NULL DEFAULT '', attachment jsonb, event jsonb, idempotency_key text NOT NULL DEFAULT '',
			created_at timestamptz, PRIMARY KEY (conversation_id, seq));
		CREATE UNIQUE INDEX ON `+schema+`.messages (conversation_id, sender_role, sender_id, idempotency_key)
			WHERE idempotency_key <> ''`)
	require.NoError(b, err)
	return pool, schema
}

// BenchmarkAppend: messages appended per second by 1 and by 64 concurrent
// senders, each sender writing to its own conversation.
func BenchmarkAppend(b *testing.B) {
	for _, senders := range []int{1, 64} {
		b.Run(fmt.Sprintf("impl=store/senders=%d", senders), func(b *testing.B) {
			storagetest.BenchAppend(b, benchStore(b), senders, benchConns)
		})
		b.Run(fmt.Sprintf("impl=raw/senders=%d", senders), func(b *testing.B) {
			pool, schema := openRaw(b)
			ctx := context.Background()
			seqs := make([]atomic.Int64, senders)
			insert := `INSERT INTO ` + schema + `.messages (conversation_id, seq, id, kind, sender_role, sender_id, body,
				attachment, event, idempotency_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
			storagetest.RunSenders(b, senders, "msgs/s", func(g, i int) error {
				_, err := pool.Exec(ctx, insert, "c"+strconv.Itoa(g), seqs[g].Add(1), "m"+strconv.Itoa(i), "text",
					"beneficiary", "b"+strconv.Itoa(g), storagetest.BenchBody, nil, nil, "k"+strconv.Itoa(i), storagetest.BenchTime)
				return err
			})
		})
	}
}

// BenchmarkEngineSend: Engine.Send per second by 1 and by 64 concurrent
// beneficiaries, each in their own conversation, beside the Store's append
// alone (one call per send).
func BenchmarkEngineSend(b *testing.B) {
	for _, senders := range []int{1, 64} {
		b.Run(fmt.Sprintf("impl=engine/senders=%d", senders), func(b *testing.B) {
			storagetest.BenchEngineSend(b, benchStore(b), senders, benchConns)
		})
		b.Run(fmt.Sprintf("impl=store/senders=%d", senders), func(b *testing.B) {
			storagetest.BenchAppend(b, benchStore(b), senders, benchConns)
		})
	}
}

// BenchmarkOffer: Transitions queued -> offered per second (the routing
// decision's write), by 1 and by 64 concurrent callers, each offering to
// its own agent. raw writes the same three rows (the conversation's
// state, the agent's load, the system message) in one transaction of
// plain statements sent in one batch, without reading or checking
// anything.
func BenchmarkOffer(b *testing.B) {
	for _, senders := range []int{1, 64} {
		b.Run(fmt.Sprintf("impl=store/senders=%d", senders), func(b *testing.B) {
			storagetest.BenchOffer(b, benchStore(b), senders, benchConns)
		})
		b.Run(fmt.Sprintf("impl=raw/senders=%d", senders), func(b *testing.B) {
			pool, schema := openRaw(b)
			ctx := context.Background()
			for g := range senders {
				_, err := pool.Exec(ctx, `INSERT INTO `+schema+`.agents (id, load) VALUES ($1, 0)`, "a"+strconv.Itoa(g))
				require.NoError(b, err)
			}
			_, err := pool.Exec(ctx, `INSERT INTO `+schema+`.conversations (id, state, last_seq, version)
				SELECT 'c' || i, 'queued', 1, 0 FROM generate_series(0, $1::int - 1) AS i`, b.N)
			require.NoError(b, err)
			deadline := storagetest.BenchTime.Add(30 * time.Second)
			storagetest.RunSenders(b, senders, "offers/s", func(g, i int) error {
				conv, agent := "c"+strconv.Itoa(i), "a"+strconv.Itoa(g)
				return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					batch := &pgx.Batch{}
					batch.Queue(`UPDATE `+schema+`.conversations SET state = 'offered', agent_id = $1, offer_deadline = $2,
						last_seq = 2, version = 1, updated_at = $3 WHERE id = $4`, agent, deadline, storagetest.BenchTime, conv)
					batch.Queue(`UPDATE `+schema+`.agents SET load = load + 1, last_assigned_at = $1 WHERE id = $2`, storagetest.BenchTime, agent)
					batch.Queue(`INSERT INTO `+schema+`.messages (conversation_id, seq, id, kind, sender_role, sender_id, event, created_at)
						VALUES ($1, 2, $2, 'system', 'system', 'system', $3, $4)`, conv, conv+"-offered",
						`{"type":"offered","from":"queued","to":"offered","agent_id":"`+agent+`"}`, storagetest.BenchTime)
					return tx.SendBatch(ctx, batch).Close()
				})
			})
		})
	}
}
