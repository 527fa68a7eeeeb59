package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/internal/rules"
)

var _ attendance.Store = (*Store)(nil)

// Config tunes a Store. A nil *Config means all defaults.
type Config struct {
	// Schema holds the tables; it is created if missing. Hosts and tests
	// isolate themselves by giving each their own. Defaults to "mosiachat".
	Schema string
	// MaxConns caps the connection pool. Defaults to the DSN's
	// pool_max_conns, or else pgxpool's default (4 or the number of CPUs,
	// whichever is more).
	MaxConns int32
	// MaxRetries is how many times a transaction that lost to another one
	// (serialization failure, deadlock) is run again before the call
	// returns ErrConflict. Defaults to 3.
	MaxRetries int
	// Logger receives operational messages. Defaults to discarding.
	Logger *slog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	var out Config
	if c != nil {
		out = *c
	}
	if out.Schema == "" {
		out.Schema = "mosiachat"
	}
	if out.MaxRetries == 0 {
		out.MaxRetries = 3
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case len(out.Schema) > 63:
		return out, fmt.Errorf("postgres: Config.Schema %q is longer than 63 bytes: %w", out.Schema, attendance.ErrInvalidArgument)
	case strings.ContainsRune(out.Schema, 0):
		return out, fmt.Errorf("postgres: Config.Schema contains a NUL byte: %w", attendance.ErrInvalidArgument)
	case out.MaxConns < 0:
		return out, fmt.Errorf("postgres: Config.MaxConns must not be negative, got %d: %w", out.MaxConns, attendance.ErrInvalidArgument)
	case out.MaxRetries < 0:
		return out, fmt.Errorf("postgres: Config.MaxRetries must not be negative, got %d: %w", out.MaxRetries, attendance.ErrInvalidArgument)
	}
	return out, nil
}

// Store is an attendance.Store in a PostgreSQL schema. Create it with Open
// and release it with Close. A *Store is safe for concurrent use, and any
// number of Stores, in any number of processes, may share one schema.
type Store struct {
	pool   *pgxpool.Pool
	cfg    Config
	q      queries
	closed chan struct{}
	once   sync.Once
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrations returns the embedded migrations in version order.
func migrations() ([]rules.Migration, error) {
	return rules.Migrations(pkg, migrationFS, "migrations")
}

// SchemaVersion is the schema version this package creates and knows.
func SchemaVersion() int {
	m, err := migrations()
	if err != nil {
		panic(err) // the embedded files are part of the build
	}
	return len(m)
}

// Open connects to the PostgreSQL database named by dsn (a URL such as
// "postgres://user:pass@host:5432/db?sslmode=disable" or a key=value
// string, as pgx accepts), creates Config.Schema if missing and migrates it
// to the version this package knows.
//
// It fails, naming the problem, when the DSN does not parse, when the
// server cannot be reached or refuses the login or the database, when the
// schema cannot be created and when the schema is newer than this package
// (ErrSchemaTooNew). ctx bounds the whole open: connecting, waiting for
// another process's migration and migrating. Open starts the pool's
// goroutines; Close stops them.
func Open(ctx context.Context, dsn string, cfg *Config) (*Store, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(dsn) == "" {
		return nil, fmt.Errorf("postgres: open: empty DSN: %w", attendance.ErrInvalidArgument)
	}
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message hides the password.
		return nil, fmt.Errorf("postgres: open: bad DSN: %w (%w)", err, attendance.ErrInvalidArgument)
	}
	if c.MaxConns > 0 {
		pc.MaxConns = c.MaxConns
	}
	// The writes are built for READ COMMITTED (row locks and conditional
	// statements, no retry of a lone append on a serialization failure);
	// a database, role or DSN defaulting to a stricter level must not
	// change that.
	pc.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	target := fmt.Sprintf("%s@%s:%d/%s", pc.ConnConfig.User, pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", target, err)
	}
	s := &Store{pool: pool, cfg: c, q: newQueries(pgx.Identifier{c.Schema}.Sanitize()), closed: make(chan struct{})}
	if err := s.migrate(ctx, target); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// migrate creates the schema and applies the missing migrations in one
// transaction, under an advisory lock so that concurrent Opens of one
// schema migrate it once.
func (s *Store) migrate(ctx context.Context, target string) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	schema := pgx.Identifier{s.cfg.Schema}.Sanitize()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return connectError(ctx, target, err)
	}
	defer conn.Release()
	what := fmt.Sprintf("open %s: schema %s", target, schema)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return translate(what, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "mosiachat migrate "+s.cfg.Schema); err != nil {
		return translate(what+": lock", err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.cfg.Schema).Scan(&exists); err != nil {
		return translate(what, err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
			return translate(what+": create", err)
		}
	}
	// Only what is missing is created: a role without CREATE on the
	// database or the schema may open a schema another role migrated.
	var tracked bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, schema+".schema_migrations").Scan(&tracked); err != nil {
		return translate(what, err)
	}
	if !tracked {
		if _, err := tx.Exec(ctx, `CREATE TABLE `+schema+`.schema_migrations (
			version    integer     NOT NULL PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return translate(what+": create schema_migrations", err)
		}
	}
	var version int
	if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+schema+`.schema_migrations`).Scan(&version); err != nil {
		return translate(what, err)
	}
	if version > len(ms) {
		return fmt.Errorf("postgres: %s: schema version %d, this program knows up to %d: %w", what, version, len(ms), ErrSchemaTooNew)
	}
	for _, m := range ms[version:] {
		if _, err := tx.Exec(ctx, strings.ReplaceAll(m.SQL, "{{schema}}", schema)); err != nil {
			return translate(fmt.Sprintf("%s: migration %s", what, m.Name), err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+schema+`.schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			return translate(what, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return translate(what+": commit", err)
	}
	if version < len(ms) {
		s.cfg.Logger.Info("postgres: schema migrated", "schema", s.cfg.Schema, "from", version, "to", len(ms))
	}
	return nil
}

// connectError explains a failure to get a first connection.
func connectError(ctx context.Context, target string, err error) error {
	if ctx.Err() != nil {
		if errors.Is(err, ctx.Err()) {
			return fmt.Errorf("postgres: open %s: no answer from the server before the context ended: %w", target, err)
		}
		return fmt.Errorf("postgres: open %s: no answer from the server before the context ended: %w (%w)", target, ctx.Err(), err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28000", "28P01":
			return fmt.Errorf("postgres: open %s: login refused: %w", target, err)
		case "3D000":
			return fmt.Errorf("postgres: open %s: database does not exist: %w", target, err)
		}
	}
	return fmt.Errorf("postgres: open %s: cannot connect: %w", target, err)
}

// Schema returns the name of the schema holding the tables.
func (s *Store) Schema() string { return s.cfg.Schema }

// Close closes the pool, waiting for the connections in use to be
// returned. After Close, methods return an error matching
// attendance.ErrClosed. Close is idempotent.
func (s *Store) Close() error {
	s.once.Do(func() {
		close(s.closed)
		s.pool.Close()
	})
	return nil
}

// check is called first by each method: after Close it returns an error
// matching attendance.ErrClosed, and ctx's error once ctx is done.
func (s *Store) check(ctx context.Context) error {
	select {
	case <-s.closed:
		return errClosed
	default:
	}
	return ctx.Err()
}

// inTx runs fn in a transaction, again when it lost to another
// transaction, at most Config.MaxRetries more times. fn's own errors are
// returned as they are; errors of BEGIN and COMMIT are translated.
func (s *Store) inTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	for attempt := 0; ; attempt++ {
		var fnErr error
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			fnErr = fn(tx)
			return fnErr
		})
		switch {
		case err == nil:
			return nil
		case retryable(err) && attempt < s.cfg.MaxRetries && ctx.Err() == nil:
			continue
		case fnErr != nil && errors.Is(err, fnErr):
			return err
		}
		return translate(what, err)
	}
}
