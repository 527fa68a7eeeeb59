package transport_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
	"github.com/mosiachat/mosiachat/transport/client"
)

// Several agents and beneficiaries through a whole attendance: offers with
// deadlines, accept, messages both ways, typing, read receipts, queue
// position for someone waiting, transfer to another agent, finalize.
func TestWholeAttendance(t *testing.T) {
	t.Parallel()
	one := attendance.Profile{Min: 0, Max: 1, Queues: []string{"q1"}}
	e := newEnv(t, envOptions{agents: map[string]attendance.Profile{"ana": one, "bia": one}})
	ctx := ctxT(t)

	ana, bia := e.dial("agent", "ana"), e.dial("agent", "bia")
	anaEv, biaEv := record(ana), record(bia)
	for _, a := range []*client.Client{ana, bia} {
		_, err := a.SetPresence(ctx, attendance.PresenceOnline)
		require.NoError(t, err)
	}

	// Three beneficiaries open; two agents with Max 1 take two, the third waits.
	bens := map[string]*client.Client{}
	benEv := map[string]*recorder{}
	convOf := map[string]string{}
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("ben%d", i)
		bens[id] = e.dial("beneficiary", id)
		benEv[id] = record(bens[id])
		conv, err := bens[id].Open(ctx, "billing")
		require.NoError(t, err)
		convOf[id] = conv.ID
	}

	// Each agent gets one offer with a deadline, and accepts it.
	owner := map[string]*client.Client{}
	ownerEv := map[string]*recorder{}
	for _, ag := range []struct {
		c  *client.Client
		ev *recorder
	}{{ana, anaEv}, {bia, biaEv}} {
		ag.ev.wait(t, "an offer", func(r *recorder) bool { return r.has(transport.EventOffer, "") })
		ag.ev.mu.Lock()
		ev, _ := ag.ev.find(transport.EventOffer, "")
		ag.ev.mu.Unlock()
		var offer transport.OfferInfo
		require.NoError(t, ev.Decode(&offer))
		require.False(t, offer.Deadline.IsZero())
		require.Equal(t, attendance.StateOffered, offer.Conversation.State)
		_, err := ag.c.Accept(ctx, ev.ConversationID)
		require.NoError(t, err)
		owner[ev.ConversationID], ownerEv[ev.ConversationID] = ag.c, ag.ev
	}

	// The one nobody took sees its place in line.
	var waiting string
	for id, conv := range convOf {
		if owner[conv] == nil {
			waiting = id
		}
	}
	require.NotEmpty(t, waiting)
	benEv[waiting].wait(t, "queue position", func(r *recorder) bool { return r.has(transport.EventQueue, convOf[waiting]) })
	benEv[waiting].mu.Lock()
	qev, _ := benEv[waiting].find(transport.EventQueue, convOf[waiting])
	benEv[waiting].mu.Unlock()
	var qi transport.QueueInfo
	require.NoError(t, qev.Decode(&qi))
	require.Equal(t, 1, qi.Position)
	require.Positive(t, qi.EstimatedWaitMS)

	// Messages both ways, typing and read receipts in each served chat.
	for id, conv := range convOf {
		ag := owner[conv]
		if ag == nil {
			continue
		}
		ben := bens[id]
		require.NoError(t, ben.Typing(ctx, conv, true))
		ownerEv[conv].wait(t, "typing", func(r *recorder) bool { return r.has(transport.EventTyping, conv) })
		for i := range 5 {
			_, err := ben.SendText(ctx, conv, fmt.Sprintf("b%d", i))
			require.NoError(t, err)
			_, err = ag.SendText(ctx, conv, fmt.Sprintf("a%d", i))
			require.NoError(t, err)
		}
		benEv[id].wait(t, "ten texts", func(r *recorder) bool { return len(r.texts(conv)) == 10 })
		ownerEv[conv].wait(t, "ten texts", func(r *recorder) bool { return len(r.texts(conv)) == 10 })
		last := ben.Cursors()[conv]
		_, err := ben.MarkRead(ctx, conv, last)
		require.NoError(t, err)
		ownerEv[conv].wait(t, "read receipt", func(r *recorder) bool {
			ev, ok := r.find(transport.EventRead, conv)
			return ok && ev.Seq == last
		})
	}

	// Ana transfers her chat to Bia? Bia is full, so the engine refuses it clearly.
	var anaConv string
	for conv, c := range owner {
		if c == ana {
			anaConv = conv
		}
	}
	_, err := ana.Transfer(ctx, transport.TransferParams{ConversationID: anaConv, AgentID: "bia", Note: "x"})
	requireClientCode(t, err, transport.CodeAgentAtCapacity)

	// Ana finalizes; the waiting beneficiary is offered to her and served.
	_, err = ana.Finalize(ctx, transport.FinalizeParams{ConversationID: anaConv, Reason: "solved"})
	require.NoError(t, err)
	anaEv.wait(t, "offer of the waiting chat", func(r *recorder) bool { return r.has(transport.EventOffer, convOf[waiting]) })
	_, err = ana.Accept(ctx, convOf[waiting])
	require.NoError(t, err)
	// The agent sees the whole history from the first message.
	anaEv.wait(t, "history of the new chat", func(r *recorder) bool { return len(r.msgs[convOf[waiting]]) >= 3 })
	_, err = bens[waiting].SendText(ctx, convOf[waiting], "finally")
	require.NoError(t, err)
	anaEv.wait(t, "text", func(r *recorder) bool { return len(r.texts(convOf[waiting])) == 1 })

	// The beneficiary of the finalized chat sees the final state.
	for id, conv := range convOf {
		if conv != anaConv {
			continue
		}
		benEv[id].wait(t, "finalized", func(r *recorder) bool {
			ev, ok := r.find(transport.EventConversation, conv)
			if !ok {
				return false
			}
			var c attendance.Conversation
			_ = ev.Decode(&c)
			return c.State == attendance.StateFinalized
		})
	}
	// And the agent is told the chat left her list.
	anaEv.wait(t, "removed", func(r *recorder) bool { return r.has(transport.EventRemoved, anaConv) })

	// No client saw a gap or a duplicate, and every stream is contiguous.
	for _, c := range append([]*client.Client{ana, bia}, bens["ben1"], bens["ben2"], bens["ben3"]) {
		require.Zero(t, c.Stats().Gaps)
		require.Zero(t, c.Stats().Duplicates)
	}
	for id, conv := range convOf {
		benEv[id].mu.Lock()
		requireContiguous(t, benEv[id].msgs[conv])
		benEv[id].mu.Unlock()
	}
}
