package postgres_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/internal/pgtest"
	"github.com/mosiachat/mosiachat/storage/postgres"
	"github.com/mosiachat/mosiachat/storage/storagetest"
)

// testDSN returns the test database's DSN, or skips the test.
func testDSN(t testing.TB) string {
	t.Helper()
	return pgtest.DSN(t)
}

// newSchema returns a fresh schema name, dropped at the end of the test.
func newSchema(t testing.TB, dsn string) string {
	t.Helper()
	return pgtest.Schema(t, dsn, "mosia_test_")
}

// openTest opens a Store on its own schema, closed and dropped at the end
// of the test.
func openTest(t testing.TB, cfg *postgres.Config) *postgres.Store {
	t.Helper()
	dsn := testDSN(t)
	c := postgres.Config{MaxConns: 4}
	if cfg != nil {
		c = *cfg
	}
	if c.Schema == "" {
		c.Schema = newSchema(t, dsn)
	}
	s, err := postgres.Open(t.Context(), dsn, &c)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storagetest.Run(t, func(t *testing.T) attendance.Store { return openTest(t, nil) })
}

func TestSendsDuringTransfers(t *testing.T) {
	testDSN(t)
	storagetest.RunSendsDuringTransfers(t, openTest(t, nil), 100)
}

// TestSeveralEngines runs three engines, each on its own Store (its own
// pool), on one schema.
func TestSeveralEngines(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	storagetest.RunEngines(t, func(t *testing.T) attendance.Store {
		return openTest(t, &postgres.Config{Schema: schema, MaxConns: 4})
	})
}

// crashSchemaEnv tells the child of TestDurabilityAfterSIGKILL which schema
// to write; the DSN is MOSIA_TEST_POSTGRES_DSN.
const crashSchemaEnv = "MOSIA_CRASH_POSTGRES_SCHEMA"

// TestCrashHelper is the child of TestDurabilityAfterSIGKILL; run alone it
// skips. It writes to the schema the parent named.
func TestCrashHelper(t *testing.T) {
	storagetest.CrashChild(t, func(t *testing.T) attendance.Store {
		s, err := postgres.Open(t.Context(), testDSN(t), &postgres.Config{Schema: os.Getenv(crashSchemaEnv), MaxConns: 8})
		require.NoError(t, err)
		return s
	})
}

// TestDurabilityAfterSIGKILL: every send that returned before the writer
// process was killed is in the database.
func TestDurabilityAfterSIGKILL(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	storagetest.RunCrash(t, storagetest.CrashHarness{
		Env: []string{crashSchemaEnv + "=" + schema},
		Reopen: func(t *testing.T) attendance.Store {
			return openTest(t, &postgres.Config{Schema: schema, MaxConns: 4})
		},
	})
}
