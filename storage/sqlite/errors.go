package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mosiachat/mosiachat/attendance"
)

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer version of this package than the running one. Upgrade the program;
// never downgrade the database by hand.
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this program")

// ErrNotMosiaChat is returned by Open when the file is a SQLite database
// that belongs to another application.
var ErrNotMosiaChat = errors.New("sqlite: not a MosiaChat database")

// errClosed is returned by every method after Close.
var errClosed = fmt.Errorf("sqlite: store closed: %w", attendance.ErrClosed)

// sqliteCode returns the extended result code of a SQLite error, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// translate wraps a driver error with what was being done and, where one
// fits, an attendance sentinel: no rows is ErrNotFound, a uniqueness
// violation is ErrConflict. Context errors pass through as they are, so
// errors.Is(err, context.Canceled) holds.
func translate(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", what, attendance.ErrNotFound)
	}
	switch code := sqliteCode(err); code {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return fmt.Errorf("sqlite: %s: already exists: %w (%w)", what, attendance.ErrConflict, err)
	case sqlite3.SQLITE_INTERRUPT:
		return fmt.Errorf("sqlite: %s: interrupted: %w", what, err)
	default:
		switch code & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("sqlite: %s: database stayed locked by another connection past the busy timeout: %w (%w)", what, attendance.ErrUnavailable, err)
		case sqlite3.SQLITE_READONLY:
			return fmt.Errorf("sqlite: %s: database is read-only: %w", what, err)
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("sqlite: %s: database file is corrupt or not a SQLite database: %w", what, err)
		case sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("sqlite: %s: cannot open or create the file (does its directory exist, and may this process write there?): %w", what, err)
		case sqlite3.SQLITE_FULL:
			return fmt.Errorf("sqlite: %s: disk full: %w", what, err)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", what, err)
}
