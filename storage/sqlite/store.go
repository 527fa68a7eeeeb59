package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/internal/rules"
)

var _ attendance.Store = (*Store)(nil)

// Config tunes a Store. A nil *Config means all defaults.
type Config struct {
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection (another Store or process on the same file) before it
	// fails. Defaults to 5s.
	BusyTimeout time.Duration
	// Synchronous is SQLite's synchronous setting for the write connection:
	// "FULL" or "EXTRA". Defaults to "FULL": in WAL mode every commit is
	// fsynced before the write returns, so a write that returned success
	// survives a crash of the process and a power loss. "NORMAL" is
	// accepted for hosts that knowingly trade the last commits before a
	// power loss (not a process crash) for speed.
	Synchronous string
	// MaxReadConns caps the pool of read-only connections. Defaults to 4.
	MaxReadConns int
	// MaxBatch caps how many writes share one transaction and one fsync
	// (group commit). 1 turns batching off. Defaults to 128.
	MaxBatch int
	// Logger receives operational warnings. Defaults to discarding.
	Logger *slog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	var out Config
	if c != nil {
		out = *c
	}
	if out.BusyTimeout == 0 {
		out.BusyTimeout = 5 * time.Second
	}
	if out.Synchronous == "" {
		out.Synchronous = "FULL"
	}
	if out.MaxReadConns == 0 {
		out.MaxReadConns = 4
	}
	if out.MaxBatch == 0 {
		out.MaxBatch = 128
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	out.Synchronous = strings.ToUpper(out.Synchronous)
	switch {
	case out.BusyTimeout < time.Millisecond:
		return out, fmt.Errorf("sqlite: Config.BusyTimeout must be at least 1ms, got %v: %w", out.BusyTimeout, attendance.ErrInvalidArgument)
	case !slices.Contains([]string{"NORMAL", "FULL", "EXTRA"}, out.Synchronous):
		return out, fmt.Errorf("sqlite: Config.Synchronous must be NORMAL, FULL or EXTRA, got %q: %w", out.Synchronous, attendance.ErrInvalidArgument)
	case out.MaxReadConns < 1:
		return out, fmt.Errorf("sqlite: Config.MaxReadConns must be at least 1, got %d: %w", out.MaxReadConns, attendance.ErrInvalidArgument)
	case out.MaxBatch < 1:
		return out, fmt.Errorf("sqlite: Config.MaxBatch must be at least 1, got %d: %w", out.MaxBatch, attendance.ErrInvalidArgument)
	}
	return out, nil
}

// Store is an attendance.Store in one SQLite file. Create it with Open and
// release it with Close. A *Store is safe for concurrent use.
type Store struct {
	path   string
	cfg    Config
	wdb    *sql.DB // one connection, used by the writer goroutine only
	rdb    *sql.DB // read-only pool
	w      *writer
	closed sync.Once
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// applicationID marks a database file as MosiaChat's (PRAGMA application_id);
// it spells "MoCh" in ASCII.
const applicationID = 0x4d6f4368

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

// Open opens (creating it if missing) the SQLite database at path, a file
// name, and migrates its schema to the version this package knows.
//
// It fails, naming the problem, when path is empty or is not a plain file
// name, when the file cannot be opened or written (read-only file or
// directory), when it is not a SQLite database or is corrupt, when it is
// another application's database (ErrNotMosiaChat) and when its schema is
// newer than this package (ErrSchemaTooNew). ctx bounds the open, including
// the wait for another process's write lock during migration. Open starts
// one goroutine, the writer, which Close stops.
func Open(ctx context.Context, path string, cfg *Config) (*Store, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("sqlite: open: empty path: %w", attendance.ErrInvalidArgument)
	}
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: want a file name, not a URI or :memory: (use storage/memory for a store in memory): %w",
			path, attendance.ErrInvalidArgument)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if err := checkFile(abs); err != nil {
		return nil, err
	}

	s := &Store{path: abs, cfg: c}
	wdb, err := openDB(abs, fmt.Sprintf("_txlock=immediate&_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(%s)",
		c.BusyTimeout.Milliseconds(), c.Synchronous))
	if err != nil {
		return nil, err
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	s.wdb = wdb

	stmts, err := s.setUp(ctx)
	if err != nil {
		wdb.Close()
		return nil, err
	}

	rdb, err := openDB(abs, fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=query_only(1)", c.BusyTimeout.Milliseconds()))
	if err != nil {
		wdb.Close()
		return nil, err
	}
	rdb.SetMaxOpenConns(c.MaxReadConns)
	rdb.SetMaxIdleConns(c.MaxReadConns)
	if err := rdb.PingContext(ctx); err != nil {
		rdb.Close()
		wdb.Close()
		return nil, translate(fmt.Sprintf("open %s for reading", abs), err)
	}
	s.rdb = rdb

	s.w = newWriter(wdb, stmts, c.MaxBatch, c.Logger)
	go s.w.run()
	return s, nil
}

// checkFile reports, before SQLite sees it, a path that is a directory or a
// non-empty file that does not start with the SQLite header.
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // created by the open
	}
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("sqlite: open %s: is a directory: %w", path, attendance.ErrInvalidArgument)
	}
	header := make([]byte, 16)
	n, err := io.ReadFull(f, header)
	if n == 0 {
		return nil // an empty file becomes a new database
	}
	if err != nil || !bytes.Equal(header, []byte("SQLite format 3\x00")) {
		return fmt.Errorf("sqlite: open %s: not a SQLite database (bad header)", path)
	}
	return nil
}

// openDB returns a pool on the file at path with the driver parameters in
// query. The file name is sent as a URI so that no character of it is
// taken for a parameter.
func openDB(path, query string) (*sql.DB, error) {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: query}
	conn, err := sqlite.NewConnector(u.String())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return sql.OpenDB(conn), nil
}

// setUp checks the write connection, migrates the schema and prepares the
// write statements.
func (s *Store) setUp(ctx context.Context) (map[string]*sql.Stmt, error) {
	what := "open " + s.path
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return nil, translate(what, err)
	}
	defer conn.Close()

	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return nil, translate(what, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("sqlite: %s: journal mode is %q, could not switch to WAL", what, mode)
	}
	if err := s.migrate(ctx, conn); err != nil {
		return nil, err
	}
	conn.Close()

	stmts := make(map[string]*sql.Stmt, len(writeStatements))
	for _, q := range writeStatements {
		st, err := s.wdb.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range stmts {
				st.Close()
			}
			return nil, translate("prepare statement", err)
		}
		stmts[q] = st
	}
	return stmts, nil
}

// migrate brings the schema to SchemaVersion inside one write transaction,
// so that several processes opening one file at once migrate it once.
func (s *Store) migrate(ctx context.Context, conn *sql.Conn) error {
	what := "open " + s.path
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE: also proves the file is writable
	if err != nil {
		return translate(what+": begin migration", err)
	}
	defer tx.Rollback()

	var appID, version, tables int
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return translate(what, err)
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return translate(what, err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return translate(what, err)
	}
	switch {
	case appID == 0 && tables > 0:
		return fmt.Errorf("sqlite: %s: the database has tables but no MosiaChat application ID: %w", what, ErrNotMosiaChat)
	case appID != 0 && appID != applicationID:
		return fmt.Errorf("sqlite: %s: application ID is %#x, want %#x: %w", what, appID, applicationID, ErrNotMosiaChat)
	case version > len(ms):
		return fmt.Errorf("sqlite: %s: schema version %d, this program knows up to %d: %w", what, version, len(ms), ErrSchemaTooNew)
	}
	for _, m := range ms[version:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return translate(fmt.Sprintf("%s: migration %s", what, m.Name), err)
		}
	}
	// Written even when nothing changed: a file SQLite could only open
	// read-only fails here, at open, rather than at the first write.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return translate(what, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(ms))); err != nil {
		return translate(what, err)
	}
	if err := tx.Commit(); err != nil {
		return translate(what+": commit migration", err)
	}
	if version < len(ms) {
		s.cfg.Logger.Info("sqlite: schema migrated", "path", s.path, "from", version, "to", len(ms))
	}
	return nil
}

// Path returns the absolute file name of the database.
func (s *Store) Path() string { return s.path }

// Close stops the writer, failing the writes still queued with an error
// matching attendance.ErrClosed, and closes the database. Writes that had
// returned are on disk. Close is idempotent; it returns the first error
// met while closing.
func (s *Store) Close() error {
	var err error
	s.closed.Do(func() {
		s.w.stop()
		for _, st := range s.w.stmts {
			st.Close()
		}
		err = errors.Join(s.rdb.Close(), s.wdb.Close())
	})
	return err
}

// readCheck is called before each read: after Close it returns an error
// matching attendance.ErrClosed, and ctx's error once ctx is done.
func (s *Store) readCheck(ctx context.Context) error {
	select {
	case <-s.w.quit:
		return errClosed
	default:
	}
	return ctx.Err()
}
