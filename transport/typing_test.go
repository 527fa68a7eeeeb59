package transport_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
)

// Typing indicators go through the engine's bus: every node delivers each
// one once to its sessions streaming the conversation, never to the
// typist's own sessions. A host's own Engine.Typing takes the same way.
func TestTypingReachesEveryNodeOnce(t *testing.T) {
	t.Parallel()
	node1 := newEnv(t, envOptions{agents: map[string]attendance.Profile{"ana": profile}})
	node2 := newEnv(t, envOptions{sameCluster: node1})
	ctx := ctxT(t)
	ana := node2.dial("agent", "ana")
	anaEv := record(ana)
	_, err := ana.SetPresence(ctx, attendance.PresenceOnline)
	require.NoError(t, err)
	ben := node1.dial("beneficiary", "b1")
	benEv := record(ben)
	conv := startChat(t, ctx, ben, ana, anaEv, "billing")
	phone := node1.dial("beneficiary", "b1") // the beneficiary's second device
	phoneEv := record(phone)
	sup := node1.dial("supervisor", "sue")
	supEv := record(sup)
	_, err = sup.Watch(ctx, conv, 0)
	require.NoError(t, err)
	for _, r := range []*recorder{benEv, phoneEv, supEv} {
		r.wait(t, "the chat", func(r *recorder) bool { return r.has(transport.EventConversation, conv) })
	}
	// typing lists the Active of each indicator from who that r got.
	typing := func(r *recorder, who attendance.Principal) []bool {
		var out []bool
		for _, ev := range r.events {
			var info transport.TypingInfo
			if ev.Type == transport.EventTyping && ev.ConversationID == conv && ev.Decode(&info) == nil && info.From == who {
				out = append(out, info.Active)
			}
		}
		return out
	}
	b1, anaP := attendance.BeneficiaryPrincipal("b1"), attendance.AgentPrincipal("ana")

	require.NoError(t, ben.Typing(ctx, conv, true)) // on node 1
	require.NoError(t, ana.Typing(ctx, conv, true)) // on node 2
	anaEv.wait(t, "b1 typing, on the other node", func(r *recorder) bool { return len(typing(r, b1)) >= 1 })
	for _, r := range []*recorder{benEv, phoneEv, supEv} {
		r.wait(t, "ana typing", func(r *recorder) bool { return len(typing(r, anaP)) >= 1 })
	}
	supEv.wait(t, "b1 typing", func(r *recorder) bool { return len(typing(r, b1)) >= 1 })
	// Only now the host's own indicator, so that a subscription does not
	// merge it with ana's first (it keeps the newest per typist).
	require.NoError(t, node1.eng.Typing(ctx, anaP, conv, false))
	for _, r := range []*recorder{benEv, phoneEv, supEv} {
		r.wait(t, "the host's indicator", func(r *recorder) bool { return slices.Contains(typing(r, anaP), false) })
	}

	// A read-mark doorbell published after the indicators passes through
	// node 1's dispatcher behind them: once it has reached the sessions,
	// so has every copy of an indicator that node would deliver.
	c, err := node1.eng.Conversation(ctx, attendance.SystemPrincipal, conv)
	require.NoError(t, err)
	_, err = node1.eng.MarkRead(ctx, anaP, conv, c.LastSeq)
	require.NoError(t, err)
	for _, r := range []*recorder{benEv, phoneEv, supEv} {
		r.wait(t, "the read mark", func(r *recorder) bool { return r.has(transport.EventRead, conv) })
	}
	for name, r := range map[string]*recorder{"ben": benEv, "phone": phoneEv, "sue": supEv} {
		r.mu.Lock()
		require.Equal(t, []bool{true, false}, typing(r, anaP), "%s: ana's two indicators, once each", name)
		var wantB1 []bool
		if name == "sue" {
			wantB1 = []bool{true} // not to the typist's own sessions
		}
		require.Equal(t, wantB1, typing(r, b1), "%s: b1's indicator", name)
		r.mu.Unlock()
	}
}
