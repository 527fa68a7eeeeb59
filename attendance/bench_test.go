package attendance_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/storage/memory"
)

func benchEngine(b *testing.B, agents, max int) (*attendance.Engine, []attendance.Principal) {
	b.Helper()
	ctx := context.Background()
	e, err := attendance.New(memory.New(), testConfig(newClock()))
	if err != nil {
		b.Fatal(err)
	}
	ps := make([]attendance.Principal, agents)
	for i := range ps {
		ps[i] = agentP(fmt.Sprintf("agent%05d", i))
		if _, err := e.UpsertAgent(ctx, attendance.AgentParams{ID: ps[i].ID, Profile: attendance.Profile{Max: max, Queues: []string{"geral"}}}); err != nil {
			b.Fatal(err)
		}
		if _, err := e.SetPresence(ctx, ps[i], attendance.PresenceOnline); err != nil {
			b.Fatal(err)
		}
	}
	return e, ps
}

// BenchmarkEngineRouting measures routing decisions through the engine on
// the memory store, with n agents.
//
// release: every agent is full and n conversations wait; one iteration is an
// agent declining its offer, after which routing offers the first waiting
// conversation (the declined one, at its original place) again. Two
// transitions and one decision per iteration.
//
// arrival: every agent has room and nothing waits; one iteration is a
// beneficiary opening a chat (routing picks among n agents) and leaving it.
func BenchmarkEngineRouting(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("release/agents=%d", n), func(b *testing.B) {
			e, agents := benchEngine(b, n, 1)
			for i := range 2 * n {
				if _, err := e.Open(ctx, benefP(fmt.Sprintf("b%d", i)), attendance.OpenParams{SubjectID: "duvida"}); err != nil {
					b.Fatal(err)
				}
			}
			offers := make([]string, n)
			for i, a := range agents {
				cs, err := e.Conversations(ctx, a, attendance.ConversationsFilter{})
				if err != nil || len(cs) != 1 {
					b.Fatalf("agent %s: %v %d", a.ID, err, len(cs))
				}
				offers[i] = cs[0].ID
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				k := i % n
				c, err := e.Decline(ctx, agents[k], offers[k])
				if err != nil || c.AgentID != agents[k].ID {
					b.Fatalf("decline: %v, re-offered to %q", err, c.AgentID)
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("arrival/agents=%d", n), func(b *testing.B) {
			e, _ := benchEngine(b, n, 3)
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				i++
				benef := benefP(fmt.Sprintf("b%d", i%1000))
				c, err := e.Open(ctx, benef, attendance.OpenParams{SubjectID: "duvida"})
				if err != nil || c.State != attendance.StateOffered {
					b.Fatalf("open: %v %s", err, c.State)
				}
				if _, err := e.Leave(ctx, benef, c.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEngineSend measures messages appended through the engine on the
// memory store: one sender, and parallel senders on their own conversations.
// BenchmarkBaselineAppend is a mutex-guarded slice append of the same
// message, the floor to compare with.
func BenchmarkEngineSend(b *testing.B) {
	ctx := context.Background()
	b.Run("one-sender", func(b *testing.B) {
		e, _ := benchEngine(b, 1, 1)
		c, err := e.Open(ctx, benefP("maria"), attendance.OpenParams{SubjectID: "duvida"})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := e.Send(ctx, benefP("maria"), attendance.SendParams{ConversationID: c.ID, Body: body256, IdempotencyKey: fmt.Sprint(i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel-senders", func(b *testing.B) {
		e, _ := benchEngine(b, 1, 1)
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			p := benefP(fmt.Sprintf("b%d", next.Add(1)))
			c, err := e.Open(ctx, p, attendance.OpenParams{SubjectID: "duvida"})
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for pb.Next() {
				i++
				if _, err := e.Send(ctx, p, attendance.SendParams{ConversationID: c.ID, Body: body256, IdempotencyKey: fmt.Sprint(i)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

func BenchmarkBaselineAppend(b *testing.B) {
	var mu sync.Mutex
	var log []attendance.Message
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		mu.Lock()
		log = append(log, attendance.Message{ID: fmt.Sprint(i), ConversationID: "c", Seq: int64(len(log) + 1), Kind: attendance.KindText, Body: body256, IdempotencyKey: fmt.Sprint(i)})
		mu.Unlock()
	}
}

// body256 is a 256-byte message body (UTF-8).
var body256 = "Olá! Gostaria de saber como solicitar o reembolso de uma consulta com especialista que fiz fora da rede credenciada no mês passado. Já tenho a nota fiscal e o relatório médico. Quais documentos preciso enviar e qual o prazo para receber o valor?......"
