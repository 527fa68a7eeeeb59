package storagetest

// Helpers for the backends' benchmarks, which put the Store's call
// ("impl=store", measured here) beside the raw database doing the same rows
// ("impl=raw", written by each backend in its own SQL). Every operation
// counts only when its call returned, i.e. after its commit.

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// BenchTime is the time every benchmark write carries.
var BenchTime = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// BenchBody is the body of the benchmarks' messages.
const BenchBody = "Bom dia, preciso da segunda via do boleto de março, por favor."

// RunSenders runs op(sender, i) for i in [0, b.N) spread over n goroutines,
// each with its own sender number, and reports ops per second as unit. The
// timer starts when RunSenders is called.
func RunSenders(b *testing.B, n int, unit string, op func(sender, i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	b.ResetTimer()
	for g := range n {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := op(g, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
}

// CreateQueued creates n queued conversations "c0".."c<n-1>" in queue
// "geral", beneficiary "b<i>", from workers goroutines.
func CreateQueued(b *testing.B, s attendance.Store, n, workers int) {
	ctx := context.Background()
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				id := "c" + strconv.Itoa(i)
				_, _, err := s.CreateConversation(ctx, attendance.CreateConversationParams{
					Conversation: attendance.Conversation{ID: id, BeneficiaryID: "b" + strconv.Itoa(i), QueueID: "geral",
						State: attendance.StateQueued, ArrivedAt: BenchTime, CreatedAt: BenchTime, UpdatedAt: BenchTime},
					Opened: attendance.Message{ID: id + "-opened", Sender: attendance.SystemPrincipal, CreatedAt: BenchTime,
						Event: &attendance.Event{Type: attendance.EventOpened, To: attendance.StateQueued}},
				})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchAppend measures AppendMessage on s: messages appended per second
// (msgs/s) by senders concurrent senders, each writing to its own
// conversation. The conversations are created first (not timed) by
// CreateQueued with workers goroutines.
func BenchAppend(b *testing.B, s attendance.Store, senders, workers int) {
	CreateQueued(b, s, senders, workers)
	ctx := context.Background()
	states := []attendance.State{attendance.StateQueued}
	RunSenders(b, senders, "msgs/s", func(g, i int) error {
		_, _, _, err := s.AppendMessage(ctx, attendance.AppendMessageParams{
			Message: attendance.Message{ID: "m" + strconv.Itoa(i), ConversationID: "c" + strconv.Itoa(g), Kind: attendance.KindText,
				Sender: attendance.BeneficiaryPrincipal("b" + strconv.Itoa(g)), Body: BenchBody,
				IdempotencyKey: "k" + strconv.Itoa(i), CreatedAt: BenchTime},
			States: states,
		})
		return err
	})
}

// BenchOffer measures Transition on s: queued -> offered moves per second
// (offers/s) by senders concurrent callers, each offering to its own
// online agent. The agents and b.N queued conversations are created first
// (not timed), the conversations by CreateQueued with workers goroutines.
func BenchOffer(b *testing.B, s attendance.Store, senders, workers int) {
	ctx := context.Background()
	for g := range senders {
		id := "a" + strconv.Itoa(g)
		_, err := s.UpsertAgent(ctx, attendance.UpsertAgentParams{ID: id, Profile: attendance.Profile{Max: 1 << 30, Queues: []string{"geral"}}})
		require.NoError(b, err)
		_, err = s.SetPresence(ctx, attendance.SetPresenceParams{AgentID: id, Presence: attendance.PresenceOnline, At: BenchTime})
		require.NoError(b, err)
	}
	CreateQueued(b, s, b.N, workers)
	from := []attendance.State{attendance.StateQueued}
	RunSenders(b, senders, "offers/s", func(g, i int) error {
		conv := "c" + strconv.Itoa(i)
		_, _, err := s.Transition(ctx, attendance.TransitionParams{
			ConversationID: conv, From: from, To: attendance.StateOffered,
			AgentID: "a" + strconv.Itoa(g), OfferDeadline: BenchTime.Add(30 * time.Second), At: BenchTime,
			Message: attendance.Message{ID: conv + "-offered", Sender: attendance.SystemPrincipal,
				Event: &attendance.Event{Type: attendance.EventOffered, AgentID: "a" + strconv.Itoa(g)}},
		})
		return err
	})
}

// BenchEngineSend measures Engine.Send on an engine over s: messages sent
// per second (msgs/s) by senders concurrent beneficiaries, each writing to
// their own queued conversation (created first, not timed, by
// CreateQueued with workers goroutines). BenchAppend is its baseline: the
// store's own call, which a send makes once.
func BenchEngineSend(b *testing.B, s attendance.Store, senders, workers int) {
	CreateQueued(b, s, senders, workers)
	eng, err := attendance.New(s, &attendance.Config{
		Queues:          []attendance.Queue{{ID: "geral", Name: "Geral"}},
		Subjects:        []attendance.Subject{{ID: "duvida", Name: "Dúvida", QueueID: "geral"}},
		FinalizeReasons: []attendance.FinalizeReason{{ID: "resolvido", Label: "Resolvido"}},
	})
	require.NoError(b, err)
	ctx := context.Background()
	RunSenders(b, senders, "msgs/s", func(g, i int) error {
		_, err := eng.Send(ctx, attendance.BeneficiaryPrincipal("b"+strconv.Itoa(g)),
			attendance.SendParams{ConversationID: "c" + strconv.Itoa(g), Body: BenchBody, IdempotencyKey: "k" + strconv.Itoa(i)})
		return err
	})
}
