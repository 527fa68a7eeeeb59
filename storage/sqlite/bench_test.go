package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/storage/sqlite"
	"github.com/mosiachat/mosiachat/storage/storagetest"
)

// The benchmarks put the Store beside the raw database doing the same rows
// through the same driver in the same run: "store" is the Store's call,
// "raw" is plain SQL on one connection with the same pragmas (WAL,
// synchronous=FULL, busy timeout, foreign keys), one autocommit statement
// or transaction per operation, which is the most SQLite lets writers do
// in parallel. Every operation counts only when its call returned, i.e.
// after its commit.

// openRaw opens a file with the Store's write pragmas on one connection,
// and the messages table with the same columns, key and indexes.
func openRaw(b *testing.B) *sql.DB {
	path := filepath.Join(b.TempDir(), "raw.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	require.NoError(b, err)
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	_, err = db.Exec(`
		CREATE TABLE conversations (id TEXT PRIMARY KEY, state TEXT NOT NULL, agent_id TEXT, offer_deadline INTEGER,
			last_seq INTEGER NOT NULL, version INTEGER NOT NULL, updated_at INTEGER) STRICT;
		CREATE TABLE agents (id TEXT PRIMARY KEY, load INTEGER NOT NULL, last_assigned_at INTEGER) STRICT;
		CREATE TABLE messages (conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, kind TEXT NOT NULL,
			sender_role TEXT NOT NULL, sender_id TEXT NOT NULL, body TEXT NOT NULL DEFAULT '', attachment TEXT, event TEXT,
			idempotency_key TEXT NOT NULL DEFAULT '', created_at INTEGER, PRIMARY KEY (conversation_id, seq)) STRICT;
		CREATE UNIQUE INDEX messages_idempotency ON messages (conversation_id, sender_role, sender_id, idempotency_key)
			WHERE idempotency_key <> '';`)
	require.NoError(b, err)
	return db
}

// benchStore opens a Store on a fresh file.
func benchStore(b *testing.B) *sqlite.Store {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "chat.db"), nil)
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkAppend: messages appended per second by 1 and by 64 concurrent
// senders, each sender writing to its own conversation.
func BenchmarkAppend(b *testing.B) {
	for _, senders := range []int{1, 64} {
		b.Run(fmt.Sprintf("impl=store/senders=%d", senders), func(b *testing.B) {
			storagetest.BenchAppend(b, benchStore(b), senders, 64)
		})
		b.Run(fmt.Sprintf("impl=raw/senders=%d", senders), func(b *testing.B) {
			db := openRaw(b)
			seqs := make([]atomic.Int64, senders)
			storagetest.RunSenders(b, senders, "msgs/s", func(g, i int) error {
				_, err := db.Exec(`INSERT INTO messages (conversation_id, seq, id, kind, sender_role, sender_id, body,
					attachment, event, idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					"c"+strconv.Itoa(g), seqs[g].Add(1), "m"+strconv.Itoa(i), "text", "beneficiary", "b"+strconv.Itoa(g),
					storagetest.BenchBody, nil, nil, "k"+strconv.Itoa(i), storagetest.BenchTime.UnixMicro())
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
			storagetest.BenchEngineSend(b, benchStore(b), senders, 64)
		})
		b.Run(fmt.Sprintf("impl=store/senders=%d", senders), func(b *testing.B) {
			storagetest.BenchAppend(b, benchStore(b), senders, 64)
		})
	}
}

// BenchmarkOffer: Transitions queued -> offered per second (the routing
// decision's write), by 1 and by 64 concurrent callers, each offering to
// its own agent. raw writes the same three rows (the conversation's
// state, the agent's load, the system message) in one transaction with
// plain statements, without reading or checking anything.
func BenchmarkOffer(b *testing.B) {
	for _, senders := range []int{1, 64} {
		b.Run(fmt.Sprintf("impl=store/senders=%d", senders), func(b *testing.B) {
			storagetest.BenchOffer(b, benchStore(b), senders, 64)
		})
		b.Run(fmt.Sprintf("impl=raw/senders=%d", senders), func(b *testing.B) {
			db := openRaw(b)
			for g := range senders {
				_, err := db.Exec(`INSERT INTO agents (id, load) VALUES (?, 0)`, "a"+strconv.Itoa(g))
				require.NoError(b, err)
			}
			tx, err := db.Begin()
			require.NoError(b, err)
			for i := range b.N {
				_, err := tx.Exec(`INSERT INTO conversations (id, state, last_seq, version) VALUES (?, 'queued', 1, 0)`, "c"+strconv.Itoa(i))
				require.NoError(b, err)
			}
			require.NoError(b, tx.Commit())
			deadline := storagetest.BenchTime.Add(30 * time.Second).UnixMicro()
			storagetest.RunSenders(b, senders, "offers/s", func(g, i int) error {
				conv, agent := "c"+strconv.Itoa(i), "a"+strconv.Itoa(g)
				tx, err := db.Begin()
				if err != nil {
					return err
				}
				defer tx.Rollback()
				if _, err := tx.Exec(`UPDATE conversations SET state = 'offered', agent_id = ?, offer_deadline = ?,
					last_seq = 2, version = 1, updated_at = ? WHERE id = ?`, agent, deadline, storagetest.BenchTime.UnixMicro(), conv); err != nil {
					return err
				}
				if _, err := tx.Exec(`UPDATE agents SET load = load + 1, last_assigned_at = ? WHERE id = ?`, storagetest.BenchTime.UnixMicro(), agent); err != nil {
					return err
				}
				if _, err := tx.Exec(`INSERT INTO messages (conversation_id, seq, id, kind, sender_role, sender_id, event, created_at)
					VALUES (?, 2, ?, 'system', 'system', 'system', ?, ?)`, conv, conv+"-offered",
					`{"type":"offered","from":"queued","to":"offered","agent_id":"`+agent+`"}`, storagetest.BenchTime.UnixMicro()); err != nil {
					return err
				}
				return tx.Commit()
			})
		})
	}
}
