package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// The writer is the one goroutine that writes. Every write of the Store is
// an op queued to it; it takes whatever ops are waiting (up to maxBatch),
// runs them in one BEGIN IMMEDIATE transaction, each inside its own
// SAVEPOINT so that a failing op leaves no trace, and commits once. Callers
// return after that commit: with synchronous=FULL a write that returned
// success is on disk. Under concurrent load one fsync covers many writes
// (group commit); a lone writer pays no wait, since the batch is whatever is
// queued when the previous commit ends.

// op states.
const (
	opWaiting int32 = iota
	opTaken
	opCancelled
)

// op is one queued write.
type op struct {
	fn    func(t *wtx) error
	err   error
	state atomic.Int32
	done  chan struct{}
}

// wtx is the write transaction an op runs in, with the statements prepared
// on the write connection.
type wtx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// ctx of the writer's statements: ops are never interrupted half-way, they
// are bounded by the busy timeout instead.
var writeCtx = context.Background()

func (t *wtx) stmt(query string) *sql.Stmt {
	if s, ok := t.stmts[query]; ok {
		return t.tx.StmtContext(writeCtx, s)
	}
	return nil
}

func (t *wtx) exec(query string, args ...any) (sql.Result, error) {
	if s := t.stmt(query); s != nil {
		return s.ExecContext(writeCtx, args...)
	}
	return t.tx.ExecContext(writeCtx, query, args...)
}

func (t *wtx) queryRow(query string, args ...any) *sql.Row {
	if s := t.stmt(query); s != nil {
		return s.QueryRowContext(writeCtx, args...)
	}
	return t.tx.QueryRowContext(writeCtx, query, args...)
}

type writer struct {
	db       *sql.DB
	stmts    map[string]*sql.Stmt
	maxBatch int
	log      *slog.Logger

	ops    chan *op
	quit   chan struct{} // closed by stop
	exited chan struct{} // closed when run returns
}

func newWriter(db *sql.DB, stmts map[string]*sql.Stmt, maxBatch int, log *slog.Logger) *writer {
	return &writer{
		db:       db,
		stmts:    stmts,
		maxBatch: maxBatch,
		log:      log,
		ops:      make(chan *op, 4*maxBatch),
		quit:     make(chan struct{}),
		exited:   make(chan struct{}),
	}
}

// do queues fn and waits for its commit. If ctx ends before the writer took
// the op, the op is dropped and ctx's error returned; once taken, the op
// runs to its end (bounded by the busy timeout) and its result is returned.
func (w *writer) do(ctx context.Context, fn func(t *wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o := &op{fn: fn, done: make(chan struct{})}
	select {
	case w.ops <- o:
	case <-w.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-o.done:
		return o.err
	case <-w.exited:
		if o.state.CompareAndSwap(opWaiting, opCancelled) {
			return errClosed
		}
	case <-ctx.Done():
		if o.state.CompareAndSwap(opWaiting, opCancelled) {
			return ctx.Err()
		}
	}
	<-o.done
	return o.err
}

// run is the writer goroutine.
func (w *writer) run() {
	defer close(w.exited)
	batch := make([]*op, 0, w.maxBatch)
	for {
		select {
		case <-w.quit:
			w.drain()
			return
		case o := <-w.ops:
			batch = append(batch[:0], o)
		}
	more:
		for len(batch) < w.maxBatch {
			select {
			case o := <-w.ops:
				batch = append(batch, o)
			default:
				break more
			}
		}
		w.runBatch(batch)
		clear(batch)
	}
}

// drain fails the ops still queued at stop.
func (w *writer) drain() {
	for {
		select {
		case o := <-w.ops:
			if o.state.CompareAndSwap(opWaiting, opTaken) {
				o.err = errClosed
				close(o.done)
			}
		default:
			return
		}
	}
}

func (w *writer) stop() {
	close(w.quit)
	<-w.exited
}

// runBatch runs the ops still wanted in one transaction and reports to each.
func (w *writer) runBatch(batch []*op) {
	live := batch[:0:0]
	for _, o := range batch {
		if o.state.CompareAndSwap(opWaiting, opTaken) {
			live = append(live, o)
		}
	}
	if len(live) == 0 {
		return
	}
	if err := w.runTx(live); err != nil {
		// The transaction as a whole failed: nothing of it is committed, so
		// an op that had succeeded inside it fails too.
		for _, o := range live {
			if o.err == nil {
				o.err = err
			}
		}
	}
	for _, o := range live {
		close(o.done)
	}
}

func (w *writer) runTx(ops []*op) (err error) {
	tx, err := w.db.BeginTx(writeCtx, nil) // BEGIN IMMEDIATE (_txlock=immediate)
	if err != nil {
		return translate("begin write transaction", err)
	}
	committed := false
	defer func() {
		if !committed {
			if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
				w.log.Warn("sqlite: rollback failed", "err", rbErr)
			}
		}
	}()
	t := &wtx{tx: tx, stmts: w.stmts}
	if len(ops) == 1 {
		o := ops[0]
		if o.err = o.fn(t); o.err != nil {
			return nil // rolled back by the deferred call
		}
	} else {
		ok := 0
		for _, o := range ops {
			if _, err := tx.ExecContext(writeCtx, "SAVEPOINT op"); err != nil {
				return translate("savepoint", err)
			}
			if o.err = o.fn(t); o.err != nil {
				// A failed op is undone alone. If SQLite already rolled the
				// whole transaction back (I/O error, disk full), the
				// savepoint is gone and the batch fails here, before any
				// other op could run outside a transaction.
				if _, err := tx.ExecContext(writeCtx, "ROLLBACK TO op"); err != nil {
					return fmt.Errorf("sqlite: undo failed write (%v): %w", o.err, translate("rollback to savepoint", err))
				}
			} else {
				ok++
			}
			if _, err := tx.ExecContext(writeCtx, "RELEASE op"); err != nil {
				return translate("release savepoint", err)
			}
		}
		if ok == 0 {
			return nil
		}
	}
	if err := tx.Commit(); err != nil {
		return translate("commit", err)
	}
	committed = true
	return nil
}
