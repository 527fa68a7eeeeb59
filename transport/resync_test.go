package transport_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// A message whose notification never reached this node (written by another
// node while the bus was down) reaches the client once a NotifyResync
// arrives: every session re-reads what it follows.
func TestResyncCatchesUpLostNotifications(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := ctxT(t)
	ben := e.dial("beneficiary", "b1")
	rec := record(ben)
	conv, err := ben.Open(ctx, "billing")
	require.NoError(t, err)
	_, err = ben.SendText(ctx, conv.ID, "first")
	require.NoError(t, err)

	// Written straight to the store: no notification at all.
	_, _, _, err = e.eng.Store().AppendMessage(ctx, attendance.AppendMessageParams{
		Message: attendance.Message{
			ID: "lost-1", ConversationID: conv.ID, Kind: attendance.KindText,
			Sender: attendance.BeneficiaryPrincipal("b1"), Body: "from another node", CreatedAt: time.Now(),
		},
		States: []attendance.State{attendance.StateQueued, attendance.StateOffered, attendance.StateActive},
	})
	require.NoError(t, err)

	require.NoError(t, e.bus.Publish(ctx, attendance.Notification{Kind: attendance.NotifyResync}))
	rec.wait(t, "the lost message", func(r *recorder) bool {
		return len(r.texts(conv.ID)) == 2
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Equal(t, []string{"first", "from another node"}, rec.texts(conv.ID))
	requireContiguous(t, rec.msgs[conv.ID])
}
