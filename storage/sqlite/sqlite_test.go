package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/sqlite"
	"github.com/mosiachat/mosiachat/storage/storagetest"
)

// openTemp opens a Store on a new file in t's temporary directory and
// closes it at the end of the test.
func openTemp(t testing.TB, cfg *sqlite.Config) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "chat.db"), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) attendance.Store { return openTemp(t, nil) })
}

// TestConformanceNoBatch runs the suite with group commit off, so that every
// write has its own transaction.
func TestConformanceNoBatch(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) attendance.Store { return openTemp(t, &sqlite.Config{MaxBatch: 1}) })
}

// TestSeveralEngines runs three engines, each on its own Store (its own
// writer and connections), on one file.
func TestSeveralEngines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat.db")
	storagetest.RunEngines(t, func(t *testing.T) attendance.Store { return openAt(t, path) })
}

func TestSendsDuringTransfers(t *testing.T) {
	storagetest.RunSendsDuringTransfers(t, openAt(t, filepath.Join(t.TempDir(), "chat.db")), 100)
}

// crashPathEnv tells the child of TestDurabilityAfterSIGKILL which file to
// write.
const crashPathEnv = "MOSIA_CRASH_SQLITE_PATH"

// TestCrashHelper is the child of TestDurabilityAfterSIGKILL; run alone it
// skips. It writes to the file the parent named.
func TestCrashHelper(t *testing.T) {
	storagetest.CrashChild(t, func(t *testing.T) attendance.Store {
		s, err := sqlite.Open(t.Context(), os.Getenv(crashPathEnv), nil)
		require.NoError(t, err)
		return s
	})
}

// TestDurabilityAfterSIGKILL: every send that returned before the writer
// process was killed is in the file when it is opened again. (SIGKILL
// proves that success is reported only after the commit; surviving a power
// loss also needs the fsync of synchronous=FULL, which a test cannot show.)
func TestDurabilityAfterSIGKILL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "chat.db")
	storagetest.RunCrash(t, storagetest.CrashHarness{
		Env:    []string{crashPathEnv + "=" + path},
		Reopen: func(t *testing.T) attendance.Store { return openAt(t, path) },
	})
}

// openAt opens the file at path, closed at the end of the test.
func openAt(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}
