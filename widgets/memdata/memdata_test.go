package memdata_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets/beneficiary"
	"github.com/mosiachat/mosiachat/widgets/memdata"
)

var now = time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)

func TestAuthorizeView(t *testing.T) {
	t.Parallel()
	d := memdata.NewDemo(now)
	c := d.Conversations
	ctx := t.Context()
	for _, p := range []attendance.Principal{
		attendance.AgentPrincipal(memdata.DemoAgentID),
		attendance.SupervisorPrincipal("sara"),
		attendance.BeneficiaryPrincipal(memdata.DemoBeneficiaryID),
	} {
		conv, err := c.AuthorizeView(ctx, p, memdata.DemoConversationID)
		require.NoError(t, err, p)
		require.Equal(t, memdata.DemoConversationID, conv.ID)
	}
	for _, p := range []attendance.Principal{
		attendance.AgentPrincipal(memdata.DemoOtherAgentID),
		attendance.BeneficiaryPrincipal("ben-9"),
		attendance.SystemPrincipal,
		{Role: attendance.RoleSupervisor},
	} {
		_, err := c.AuthorizeView(ctx, p, memdata.DemoConversationID)
		require.ErrorIs(t, err, attendance.ErrForbidden, p)
	}
	_, err := c.AuthorizeView(ctx, attendance.AgentPrincipal("carla"), "conv-0001")
	require.ErrorIs(t, err, attendance.ErrForbidden, "a finalized conversation has no owner")
	_, err = c.AuthorizeView(ctx, attendance.SupervisorPrincipal("sara"), "nope")
	require.ErrorIs(t, err, attendance.ErrNotFound)
}

func TestConversationsListing(t *testing.T) {
	t.Parallel()
	d := memdata.NewDemo(now)
	list, err := d.Conversations.ListConversations(t.Context(), attendance.ListConversationsFilter{BeneficiaryID: memdata.DemoBeneficiaryID})
	require.NoError(t, err)
	require.Len(t, list, 3)
	require.Equal(t, "conv-0001", list[0].ID, "oldest arrival first")

	list, err = d.Conversations.ListConversations(t.Context(), attendance.ListConversationsFilter{States: []attendance.State{attendance.StateActive}, Limit: 5})
	require.NoError(t, err)
	require.Len(t, list, 1)

	msgs, err := d.Conversations.ListMessages(t.Context(), attendance.ListMessagesFilter{ConversationID: "conv-0002", AfterSeq: 1, Limit: 2})
	require.NoError(t, err)
	require.Len(t, msgs, 2)
	require.Equal(t, int64(2), msgs[0].Seq)
	require.Equal(t, int64(3), list[0].LastSeq, "Put keeps LastSeq: conv-0003 has 3 messages")
	_, err = d.Conversations.ListMessages(t.Context(), attendance.ListMessagesFilter{ConversationID: "nope"})
	require.ErrorIs(t, err, attendance.ErrNotFound)
}

func TestOccurrencesCopyInAndOut(t *testing.T) {
	t.Parallel()
	o := memdata.NewOccurrences(beneficiary.Occurrence{ID: "o1", BeneficiaryID: "b", Status: beneficiary.StatusOpen, CreatedAt: now})
	got, err := o.GetOccurrence(t.Context(), "o1")
	require.NoError(t, err)
	got.Comments = append(got.Comments, beneficiary.Comment{Text: "sneaky"})
	again, err := o.GetOccurrence(t.Context(), "o1")
	require.NoError(t, err)
	require.Empty(t, again.Comments)

	_, err = o.ListOccurrences(t.Context(), beneficiary.ListOccurrencesFilter{})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	_, err = o.AddComment(t.Context(), beneficiary.AddCommentParams{OccurrenceID: "o1"})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	_, err = o.SetStatus(t.Context(), beneficiary.SetStatusParams{OccurrenceID: "o1", To: beneficiary.StatusOpen, At: now})
	require.ErrorIs(t, err, attendance.ErrInvalidTransition, "same status")
	_, err = o.SetStatus(t.Context(), beneficiary.SetStatusParams{OccurrenceID: "o1", To: beneficiary.StatusResolved, At: now})
	require.NoError(t, err)
	res, err := o.SetStatus(t.Context(), beneficiary.SetStatusParams{OccurrenceID: "o1", From: beneficiary.StatusResolved, To: beneficiary.StatusOpen, At: now})
	require.NoError(t, err, "reopen")
	require.Len(t, res.History, 2)
}

// The zero Directory and Occurrences are ready to use, as documented.
func TestZeroValuesAreReady(t *testing.T) {
	t.Parallel()
	var d memdata.Directory
	require.NotPanics(t, func() { d.Put(beneficiary.Beneficiary{ID: "b1", Name: "Maria"}) })
	b, err := d.Beneficiary(t.Context(), "b1")
	require.NoError(t, err)
	require.Equal(t, "Maria", b.Name)
	var o memdata.Occurrences
	require.NotPanics(t, func() { o.Put(beneficiary.Occurrence{ID: "o1", BeneficiaryID: "b1"}) })
}
