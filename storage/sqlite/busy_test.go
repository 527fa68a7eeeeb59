package sqlite_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/sqlite"
)

// A write that finds the database locked by another process past the busy
// timeout fails with ErrUnavailable (retry later), not an untyped error
// that a client would see as internal.
func TestLockedDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	path := newFile(t)
	s, err := sqlite.Open(t.Context(), path, &sqlite.Config{BusyTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer s.Close()
	other, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer other.Close()
	conn, err := other.Conn(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE") // another process holds the write lock
	require.NoError(t, err)
	defer conn.ExecContext(t.Context(), "ROLLBACK")

	_, err = s.UpsertAgent(t.Context(), attendance.UpsertAgentParams{ID: "ana", Profile: attendance.Profile{Max: 1, Queues: []string{"q"}}})
	require.ErrorIs(t, err, attendance.ErrUnavailable)
}
