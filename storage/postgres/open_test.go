package postgres_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/internal/pgtest"
	"github.com/mosiachat/mosiachat/storage/postgres"
)

// withURL returns dsn (a URL) changed by edit.
func withURL(t *testing.T, dsn string, edit func(u *url.URL)) string {
	t.Helper()
	u, err := url.Parse(dsn)
	require.NoError(t, err, "%s must be a URL for this test", pgtest.DSNEnv)
	edit(u)
	return u.String()
}

// TestOpenBadInput needs no server: every case fails before or at connect.
func TestOpenBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		dsn     string
		cfg     *postgres.Config
		is      error
		message string
	}{
		{name: "EmptyDSN", dsn: " ", is: attendance.ErrInvalidArgument, message: "empty DSN"},
		{name: "Unparsable", dsn: "postgres://user:secret@host:notaport/db", is: attendance.ErrInvalidArgument, message: "bad DSN"},
		{name: "UnknownParameter", dsn: "postgres://127.0.0.1/db?sslmode=sometimes", is: attendance.ErrInvalidArgument, message: "bad DSN"},
		{name: "LongSchema", dsn: "postgres://127.0.0.1/db", cfg: &postgres.Config{Schema: strings.Repeat("s", 64)},
			is: attendance.ErrInvalidArgument, message: "Config.Schema"},
		{name: "Refused", dsn: "postgres://postgres:secret@127.0.0.1:1/test?sslmode=disable&connect_timeout=5", message: "cannot connect"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := postgres.Open(t.Context(), tc.dsn, tc.cfg)
			require.Error(t, err)
			t.Log(err)
			require.Nil(t, s)
			require.Contains(t, err.Error(), "postgres:")
			require.Contains(t, err.Error(), tc.message)
			require.NotContains(t, err.Error(), "secret", "the password must not leak into errors")
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
		})
	}
}

// TestOpenUnreachable: a server that accepts the connection and then never
// answers costs the caller no more than ctx allows.
func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // read nothing, answer nothing
		}
	}()

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	s, err := postgres.Open(ctx, "postgres://postgres@"+ln.Addr().String()+"/test?sslmode=disable", nil)
	require.Error(t, err)
	t.Log(err)
	require.Nil(t, s)
	require.Less(t, time.Since(start), 5*time.Second, "Open must give up when ctx ends")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "postgres: open postgres@127.0.0.1")
}

func TestOpenServerRefuses(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	cases := []struct {
		name    string
		dsn     string
		message string
	}{
		{name: "UnknownDatabase", dsn: withURL(t, dsn, func(u *url.URL) { u.Path = "/mosia_no_such_database" }),
			message: "database does not exist"},
		{name: "UnknownRole", dsn: withURL(t, dsn, func(u *url.URL) { u.User = url.User("mosia_no_such_role") }),
			message: "login refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := postgres.Open(t.Context(), tc.dsn, &postgres.Config{Schema: newSchema(t, dsn)})
			require.Error(t, err)
			t.Log(err)
			require.Nil(t, s)
			require.Contains(t, err.Error(), tc.message)
		})
	}
}

func TestOpenNewerSchema(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	s, err := postgres.Open(t.Context(), dsn, &postgres.Config{Schema: schema})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(t.Context(), `INSERT INTO `+pgx.Identifier{schema}.Sanitize()+`.schema_migrations (version, name) VALUES (999, 'from the future')`)
	require.NoError(t, err)

	s, err = postgres.Open(t.Context(), dsn, &postgres.Config{Schema: schema})
	require.ErrorIs(t, err, postgres.ErrSchemaTooNew)
	t.Log(err)
	require.Nil(t, s)
	require.Contains(t, err.Error(), "schema version 999")
}

// TestOpenConcurrently: nodes starting together migrate one schema once.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := postgres.Open(t.Context(), dsn, &postgres.Config{Schema: schema, MaxConns: 2})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	s := openTest(t, nil)
	require.NoError(t, s.Close())
	_, err := s.GetAgent(t.Context(), "a1")
	require.ErrorIs(t, err, attendance.ErrClosed)
	_, _, _, err = s.AppendMessage(t.Context(), attendance.AppendMessageParams{})
	require.ErrorIs(t, err, attendance.ErrClosed)
}

// An application role that may only use the tables (no CREATE on the
// database or the schema) opens a schema its owner created and migrated,
// and works in it: hosts run migrations with one role and serve with a
// smaller one.
func TestOpenWithoutCreatePrivilege(t *testing.T) {
	t.Parallel()
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	owner, err := postgres.Open(t.Context(), dsn, &postgres.Config{Schema: schema})
	require.NoError(t, err)
	require.NoError(t, owner.Close())

	role := "mosia_app_" + strings.TrimPrefix(schema, "mosia_test_")
	conn, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	s := pgx.Identifier{schema}.Sanitize()
	r := pgx.Identifier{role}.Sanitize()
	for _, stmt := range []string{
		`CREATE ROLE ` + r + ` LOGIN`,
		`REVOKE CREATE ON DATABASE ` + pgx.Identifier{conn.Config().Database}.Sanitize() + ` FROM ` + r,
		`GRANT USAGE ON SCHEMA ` + s + ` TO ` + r,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + s + ` TO ` + r,
	} {
		_, err := conn.Exec(t.Context(), stmt)
		require.NoError(t, err, stmt)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop role %s: %v", role, err)
			return
		}
		defer c.Close(ctx)
		for _, stmt := range []string{`DROP OWNED BY ` + r, `DROP ROLE ` + r} {
			if _, err := c.Exec(ctx, stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})

	app, err := postgres.Open(t.Context(), withURL(t, dsn, func(u *url.URL) { u.User = url.User(role) }), &postgres.Config{Schema: schema})
	require.NoError(t, err)
	defer app.Close()
	_, err = app.UpsertAgent(t.Context(), attendance.UpsertAgentParams{ID: "ana", Profile: attendance.Profile{Max: 1, Queues: []string{"geral"}}})
	require.NoError(t, err)
}
