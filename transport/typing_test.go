package transport_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/transport"
)

// A typing indicator reaches the sessions on other nodes through the bus,
// and those on the typist's node once: straight from the sender, not a
// second time when the bus brings it back.
func TestTypingCrossesNodesOnce(t *testing.T) {
	t.Parallel()
	node1 := newEnv(t, envOptions{agents: map[string]attendance.Profile{"ana": profile}})
	node2 := newEnv(t, envOptions{sameCluster: node1})
	ctx := ctxT(t)
	ana := node2.dial("agent", "ana")
	anaEv := record(ana)
	_, err := ana.SetPresence(ctx, attendance.PresenceOnline)
	require.NoError(t, err)
	ben := node1.dial("beneficiary", "b1")
	conv := startChat(t, ctx, ben, ana, anaEv, "billing")
	// The beneficiary's second device, on the typist's node.
	phone := node1.dial("beneficiary", "b1")
	phoneEv := record(phone)
	phoneEv.wait(t, "the chat on the phone", func(r *recorder) bool { return r.has(transport.EventConversation, conv) })

	require.NoError(t, ben.Typing(ctx, conv, true))
	anaEv.wait(t, "the indicator on the other node", func(r *recorder) bool { return r.count(transport.EventTyping, conv) >= 1 })
	phoneEv.wait(t, "the indicator on the same node", func(r *recorder) bool { return r.count(transport.EventTyping, conv) >= 1 })

	// A read-mark doorbell published after the indicator goes through
	// node 1's dispatcher behind it: once the phone has the read mark, the
	// dispatcher has handled the indicator too, and must have skipped it.
	c, err := node1.eng.Conversation(ctx, attendance.SystemPrincipal, conv)
	require.NoError(t, err)
	_, err = node1.eng.MarkRead(ctx, attendance.AgentPrincipal("ana"), conv, c.LastSeq)
	require.NoError(t, err)
	phoneEv.wait(t, "the read mark", func(r *recorder) bool { return r.has(transport.EventRead, conv) })
	phoneEv.mu.Lock()
	defer phoneEv.mu.Unlock()
	require.Equal(t, 1, phoneEv.count(transport.EventTyping, conv), "the typist's node delivered the indicator twice")
}
