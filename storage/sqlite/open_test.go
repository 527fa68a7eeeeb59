package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/sqlite"
)

// newFile creates a database with Open, closes it and returns its path.
func newFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chat.db")
	s, err := sqlite.Open(t.Context(), path, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	return path
}

// rawExec runs SQL on the file with the driver alone.
func rawExec(t *testing.T, path, query string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(t.Context(), query)
	require.NoError(t, err)
}

func TestOpenBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	notDB := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notDB, []byte("these are not the pages you are looking for\n"), 0o644))

	cases := []struct {
		name    string
		path    string
		cfg     *sqlite.Config
		is      error
		message string
	}{
		{name: "EmptyPath", path: "", is: attendance.ErrInvalidArgument, message: "empty path"},
		{name: "Memory", path: ":memory:", is: attendance.ErrInvalidArgument, message: "storage/memory"},
		{name: "URI", path: "file:chat.db?mode=ro", is: attendance.ErrInvalidArgument, message: "not a URI"},
		{name: "Directory", path: dir, is: attendance.ErrInvalidArgument, message: "is a directory"},
		{name: "MissingDirectory", path: filepath.Join(dir, "no", "such", "dir", "chat.db"), message: "directory exist"},
		{name: "NotADatabase", path: notDB, message: "not a SQLite database"},
		{name: "BadSynchronous", path: filepath.Join(dir, "x.db"), cfg: &sqlite.Config{Synchronous: "OFF"},
			is: attendance.ErrInvalidArgument, message: "Config.Synchronous"},
		{name: "BadMaxBatch", path: filepath.Join(dir, "x.db"), cfg: &sqlite.Config{MaxBatch: -1},
			is: attendance.ErrInvalidArgument, message: "Config.MaxBatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tc.path, tc.cfg)
			require.Error(t, err)
			t.Log(err)
			require.Nil(t, s)
			require.Contains(t, err.Error(), "sqlite:")
			require.Contains(t, err.Error(), tc.message)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
		})
	}
}

func TestOpenCorruptFile(t *testing.T) {
	t.Parallel()
	path := newFile(t)
	// Keep the 100-byte header, so the file still looks like SQLite, and
	// scribble over the rest of the first page and the next ones: the
	// schema table lives there.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	junk := make([]byte, 3*4096)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	_, err = f.WriteAt(junk, 100)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s, err := sqlite.Open(t.Context(), path, nil)
	require.Error(t, err)
	t.Log(err)
	require.Nil(t, s)
	require.Contains(t, err.Error(), path)
	require.Contains(t, err.Error(), "corrupt")
}

func TestOpenReadOnlyFile(t *testing.T) {
	t.Parallel()
	path := newFile(t)
	makeReadOnly(t, path)

	s, err := sqlite.Open(t.Context(), path, nil)
	require.Error(t, err)
	t.Log(err)
	require.Nil(t, s)
	require.Contains(t, err.Error(), path)
	require.Contains(t, err.Error(), "read-only")
}

// makeReadOnly makes path unwritable for this process. Root ignores file
// modes, so as root the file is made immutable instead (chattr +i), and the
// test is skipped where that is not possible.
func makeReadOnly(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		require.NoError(t, os.Chmod(path, 0o444))
		return
	}
	chattr, err := exec.LookPath("chattr")
	if err != nil {
		t.Skip("running as root and chattr is missing: cannot make a file read-only")
	}
	if out, err := exec.Command(chattr, "+i", path).CombinedOutput(); err != nil {
		t.Skipf("running as root and chattr +i failed (%v: %s): cannot make a file read-only", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(chattr, "-i", path).Run() })
}

func TestOpenNewerSchema(t *testing.T) {
	t.Parallel()
	path := newFile(t)
	rawExec(t, path, "PRAGMA user_version = 999")

	s, err := sqlite.Open(t.Context(), path, nil)
	require.ErrorIs(t, err, sqlite.ErrSchemaTooNew)
	require.Nil(t, s)
	require.Contains(t, err.Error(), "schema version 999")
}

func TestOpenOtherApplicationsDatabase(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "other.db")
	rawExec(t, path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)")

	s, err := sqlite.Open(t.Context(), path, nil)
	require.ErrorIs(t, err, sqlite.ErrNotMosiaChat)
	require.Nil(t, s)
}

func TestOpenCancelledContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chat.db"), nil)
	require.True(t, errors.Is(err, ctx.Err()), "got %v", err)
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := newFile(t)
	s, err := sqlite.Open(t.Context(), path, nil)
	require.NoError(t, err)
	_, err = s.UpsertAgent(t.Context(), attendance.UpsertAgentParams{ID: "a1", Profile: attendance.Profile{Max: 2, Queues: []string{"q"}}})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	_, err = s.GetAgent(t.Context(), "a1")
	require.ErrorIs(t, err, attendance.ErrClosed)
	_, err = s.SetPresence(t.Context(), attendance.SetPresenceParams{AgentID: "a1", Presence: attendance.PresenceOnline})
	require.ErrorIs(t, err, attendance.ErrClosed)

	s, err = sqlite.Open(t.Context(), path, nil)
	require.NoError(t, err)
	defer s.Close()
	a, err := s.GetAgent(t.Context(), "a1")
	require.NoError(t, err)
	require.Equal(t, 2, a.Profile.Max)
	require.Equal(t, sqlite.SchemaVersion(), 1)
}
