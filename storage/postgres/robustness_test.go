package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/postgres"
	"github.com/mosiachat/mosiachat/storage/storagetest"
)

var base = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// queued stores a queued conversation id.
func queued(t *testing.T, s attendance.Store, id string) {
	t.Helper()
	c := attendance.Conversation{ID: id, BeneficiaryID: "ben-" + id, SubjectID: "s", QueueID: "q", Channel: "app",
		Protocol: "p-" + id, State: attendance.StateQueued, ArrivedAt: base, CreatedAt: base, UpdatedAt: base}
	_, _, err := s.CreateConversation(t.Context(), attendance.CreateConversationParams{Conversation: c,
		Opened: attendance.Message{ID: "open-" + id, Kind: attendance.KindSystem, Sender: attendance.SystemPrincipal,
			Event: &attendance.Event{Type: attendance.EventOpened}, CreatedAt: base}})
	require.NoError(t, err)
}

// A transition refused because the new owner does not exist explains the
// refusal without a second connection while its transaction holds one: with
// every connection of the pool so held, it used to wait for ever.
func TestRefusedOwnerNeedsNoSecondConnection(t *testing.T) {
	s := openTest(t, &postgres.Config{MaxConns: 1})
	const n = 4
	for i := range n {
		queued(t, s, fmt.Sprint("c", i))
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = s.Transition(ctx, attendance.TransitionParams{
				ConversationID: fmt.Sprint("c", i), From: []attendance.State{attendance.StateQueued},
				To: attendance.StateOffered, AgentID: "no-such-agent", OfferDeadline: base.Add(time.Minute), At: base,
				Message: attendance.Message{ID: fmt.Sprint("m", i), Sender: attendance.SystemPrincipal, CreatedAt: base,
					Event: &attendance.Event{Type: attendance.EventOffered}},
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, attendance.ErrNotFound)
	}
}

// The store behaves the same when the database (or the DSN) defaults to a
// stricter isolation level: its transactions run READ COMMITTED.
func TestConformanceUnderSerializableDefault(t *testing.T) {
	dsn := testDSN(t)
	switch {
	case !strings.Contains(dsn, "://"):
		dsn += " default_transaction_isolation=serializable" // keyword/value form
	case strings.Contains(dsn, "?"):
		dsn += "&default_transaction_isolation=serializable"
	default:
		dsn += "?default_transaction_isolation=serializable"
	}
	storagetest.Run(t, func(t *testing.T) attendance.Store {
		s, err := postgres.Open(t.Context(), dsn, &postgres.Config{Schema: newSchema(t, testDSN(t)), MaxConns: 4})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}

// Text PostgreSQL cannot store (a NUL byte) is refused with a typed error.
func TestNULIsInvalidArgument(t *testing.T) {
	s := openTest(t, nil)
	queued(t, s, "c1")
	_, _, _, err := s.AppendMessage(t.Context(), attendance.AppendMessageParams{
		Message: attendance.Message{ID: "m1", ConversationID: "c1", Kind: attendance.KindText, Sender: attendance.BeneficiaryPrincipal("ben-c1"), Body: "a\x00b", CreatedAt: base},
		States:  []attendance.State{attendance.StateQueued},
	})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	_, err = s.GetAgent(t.Context(), "x\x00")
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
}
