package sqlite_test

import (
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
