package memory_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
	"github.com/mosiachat/mosiachat/storage/storagetest"
)

func TestStore(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) attendance.Store { return memory.New() })
}

func TestSendsDuringTransfers(t *testing.T) {
	t.Parallel()
	storagetest.RunSendsDuringTransfers(t, memory.New(), 200)
}

// BenchmarkAppendMessage measures appends spread over 64 conversations from
// parallel goroutines.
func BenchmarkAppendMessage(b *testing.B) {
	ctx := context.Background()
	s := memory.New()
	now := time.Date(2025, time.June, 2, 9, 0, 0, 0, time.UTC)
	const convs = 64
	for i := range convs {
		openConversation(b, s, fmt.Sprintf("c%d", i), now)
	}
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, _, _, err := s.AppendMessage(ctx, attendance.AppendMessageParams{
				Message: attendance.Message{
					ID: fmt.Sprintf("m%d", i), ConversationID: fmt.Sprintf("c%d", i%convs),
					Kind: attendance.KindText, Sender: attendance.BeneficiaryPrincipal("ben"),
					Body: "olá", CreatedAt: now,
				},
				States: []attendance.State{attendance.StateQueued},
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTransition measures an offer and its decline, over and over, on
// a store holding 10,000 conversations.
func BenchmarkTransition(b *testing.B) {
	ctx := context.Background()
	s := memory.New()
	now := time.Date(2025, time.June, 2, 9, 0, 0, 0, time.UTC)
	for i := range 10_000 {
		openConversation(b, s, fmt.Sprintf("c%d", i), now)
	}
	if _, err := s.UpsertAgent(ctx, attendance.UpsertAgentParams{ID: "ana", Profile: attendance.Profile{Max: 1, Queues: []string{"q"}}, At: now}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.SetPresence(ctx, attendance.SetPresenceParams{AgentID: "ana", Presence: attendance.PresenceOnline, At: now}); err != nil {
		b.Fatal(err)
	}
	msg := attendance.Message{ID: "m", Sender: attendance.SystemPrincipal, CreatedAt: now}
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("c%d", i%10_000)
		if _, _, err := s.Transition(ctx, attendance.TransitionParams{
			ConversationID: id, From: []attendance.State{attendance.StateQueued},
			To: attendance.StateOffered, AgentID: "ana", OfferDeadline: now.Add(time.Minute), At: now, Message: msg,
		}); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Transition(ctx, attendance.TransitionParams{
			ConversationID: id, From: []attendance.State{attendance.StateOffered}, ExpectAgentID: "ana",
			To: attendance.StateQueued, At: now, Message: msg,
		}); err != nil {
			b.Fatal(err)
		}
	}
}

func openConversation(tb testing.TB, s *memory.Store, id string, now time.Time) {
	tb.Helper()
	_, _, err := s.CreateConversation(context.Background(), attendance.CreateConversationParams{
		Conversation: attendance.Conversation{
			ID: id, BeneficiaryID: "ben", QueueID: "q", State: attendance.StateQueued,
			ArrivedAt: now, CreatedAt: now, UpdatedAt: now,
		},
		Opened: attendance.Message{ID: id + "-opened", Sender: attendance.BeneficiaryPrincipal("ben"), CreatedAt: now},
	})
	if err != nil {
		tb.Fatal(err)
	}
}
