package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mosiachat/mosiachat/attendance"
)

// ErrSchemaTooNew is returned by Open when the schema was migrated by a
// newer version of this package than the running one. Upgrade the program;
// never downgrade the schema by hand.
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this program")

// errClosed is returned by every method after Close.
var errClosed = fmt.Errorf("postgres: store closed: %w", attendance.ErrClosed)

// SQLSTATE codes the store acts on.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeBadEncoding          = "22021" // character_not_in_repertoire: a NUL in text
	codeUntranslatable       = "22P05" // untranslatable_character: \u0000 in jsonb
)

// pgCode returns the SQLSTATE of a server error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// retryable reports whether a transaction failed only because of another
// one, so that running it again may succeed.
func retryable(err error) bool {
	switch pgCode(err) {
	case codeSerializationFailure, codeDeadlockDetected:
		return true
	}
	return false
}

// translate wraps a driver error with what was being done and, where one
// fits, an attendance sentinel: no rows is ErrNotFound, a uniqueness
// violation, a serialization failure or a deadlock is ErrConflict. Errors
// are wrapped with %w, so a cancelled call still matches context.Canceled
// or context.DeadlineExceeded.
func translate(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", what, attendance.ErrNotFound)
	}
	switch pgCode(err) {
	case codeUniqueViolation:
		return fmt.Errorf("postgres: %s: already exists: %w (%w)", what, attendance.ErrConflict, err)
	case codeSerializationFailure, codeDeadlockDetected:
		return fmt.Errorf("postgres: %s: lost a race with another transaction: %w (%w)", what, attendance.ErrConflict, err)
	case codeBadEncoding, codeUntranslatable:
		// Text PostgreSQL cannot store (a NUL byte); the engine refuses it
		// before, a direct Store user may not.
		return fmt.Errorf("postgres: %s: text with a NUL byte: %w", what, attendance.ErrInvalidArgument)
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}
