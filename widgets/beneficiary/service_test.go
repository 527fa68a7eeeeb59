package beneficiary_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets/beneficiary"
	"github.com/mosiachat/mosiachat/widgets/memdata"
)

var (
	ana    = attendance.AgentPrincipal(memdata.DemoAgentID)
	bruno  = attendance.AgentPrincipal(memdata.DemoOtherAgentID)
	sara   = attendance.SupervisorPrincipal("sara")
	convID = memdata.DemoConversationID
)

type svcHarness struct {
	svc  *beneficiary.Service
	demo *memdata.Demo
	logs *bytes.Buffer
}

func newService(t *testing.T, reveal func(attendance.Principal) bool) svcHarness {
	t.Helper()
	d := memdata.NewDemo(demoNow)
	// Another beneficiary with an occurrence, to check scoping.
	d.Directory.Put(beneficiary.Beneficiary{ID: "ben-0002", Name: "João Pereira", CPF: "24681357928"})
	d.Occurrences.Put(beneficiary.Occurrence{ID: "occ-other", BeneficiaryID: "ben-0002", Protocol: "OC-2", Title: "x", Status: beneficiary.StatusOpen, CreatedAt: demoNow})
	_ = d.Conversations.Put(attendance.Conversation{ID: "conv-offered", BeneficiaryID: memdata.DemoBeneficiaryID, State: attendance.StateOffered, AgentID: "ana", CreatedAt: demoNow})
	j := newJourney(t, d, testKey)
	var logs bytes.Buffer
	var mu sync.Mutex
	svc, err := beneficiary.New(d.Conversations, d.Directory, d.Occurrences, j, &beneficiary.Config{
		RevealCPF: reveal,
		Now:       func() time.Time { mu.Lock(); defer mu.Unlock(); return demoNow },
		Logger:    slog.New(slog.NewTextHandler(&logs, nil)),
	})
	require.NoError(t, err)
	return svcHarness{svc: svc, demo: d, logs: &logs}
}

func TestServiceBeneficiary(t *testing.T) {
	t.Parallel()
	h := newService(t, func(p attendance.Principal) bool { return p.Role == attendance.RoleSupervisor })

	b, err := h.svc.Beneficiary(t.Context(), ana, convID)
	require.NoError(t, err)
	require.Equal(t, "Maria Aparecida Souza", b.Name)
	require.Equal(t, "***.154.920-**", b.CPF.String())
	require.Empty(t, b.CPFRevealed, "agents see the CPF masked")

	b, err = h.svc.Beneficiary(t.Context(), sara, convID)
	require.NoError(t, err)
	require.Equal(t, "387.154.920-79", b.CPFRevealed, "the host lets supervisors see it")

	_, err = h.svc.Beneficiary(t.Context(), bruno, convID)
	require.ErrorIs(t, err, attendance.ErrForbidden)
	_, err = h.svc.Beneficiary(t.Context(), attendance.BeneficiaryPrincipal(memdata.DemoBeneficiaryID), convID)
	require.ErrorIs(t, err, attendance.ErrForbidden)
	_, err = h.svc.Beneficiary(t.Context(), ana, "conv-0001") // finalized: no longer hers
	require.ErrorIs(t, err, attendance.ErrForbidden)
	_, err = h.svc.Beneficiary(t.Context(), ana, "nope")
	require.ErrorIs(t, err, attendance.ErrNotFound)

	_, err = beneficiary.New(nil, nil, nil, nil, nil)
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
}

func TestServiceOccurrences(t *testing.T) {
	t.Parallel()
	h := newService(t, nil)
	list, err := h.svc.Occurrences(t.Context(), ana, convID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "occ-7781", list[0].ID, "newest first")

	list, err = h.svc.Occurrences(t.Context(), ana, convID, beneficiary.StatusResolved)
	require.NoError(t, err)
	require.Len(t, list, 1)
	_, err = h.svc.Occurrences(t.Context(), ana, convID, "bogus")
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)

	o, err := h.svc.Occurrence(t.Context(), ana, convID, "occ-7781")
	require.NoError(t, err)
	require.Equal(t, beneficiary.StatusInProgress, o.Status)
	_, err = h.svc.Occurrence(t.Context(), ana, convID, "occ-other")
	require.ErrorIs(t, err, attendance.ErrNotFound, "another beneficiary's occurrence does not exist here")
	_, err = h.svc.Occurrences(t.Context(), bruno, convID)
	require.ErrorIs(t, err, attendance.ErrForbidden)
}

func TestServiceWrites(t *testing.T) {
	t.Parallel()
	h := newService(t, nil)
	const secret = "Beneficiária informou CPF 387.154.920-79 por telefone"
	o, err := h.svc.CommentOccurrence(t.Context(), ana, convID, "occ-7781", secret)
	require.NoError(t, err)
	require.Len(t, o.Comments, 2)
	require.Equal(t, ana, o.Comments[1].Author)
	require.Equal(t, demoNow, o.Comments[1].At)
	require.NotContains(t, h.logs.String(), "387")
	require.Contains(t, h.logs.String(), "occurrence=occ-7781")

	o, err = h.svc.SetOccurrenceStatus(t.Context(), ana, convID, "occ-7781", beneficiary.StatusInProgress, beneficiary.StatusWaiting, "Aguardando nota fiscal")
	require.NoError(t, err)
	require.Equal(t, beneficiary.StatusWaiting, o.Status)
	require.Len(t, o.History, 2)

	_, err = h.svc.SetOccurrenceStatus(t.Context(), ana, convID, "occ-7781", beneficiary.StatusInProgress, beneficiary.StatusResolved, "")
	require.ErrorIs(t, err, attendance.ErrConflict, "someone else moved it")
	_, err = h.svc.SetOccurrenceStatus(t.Context(), ana, convID, "occ-6120", "", beneficiary.StatusWaiting, "")
	require.ErrorIs(t, err, attendance.ErrInvalidTransition, "a resolved occurrence may only be reopened")
	_, err = h.svc.SetOccurrenceStatus(t.Context(), ana, convID, "occ-7781", "", "done", "")
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)

	for _, text := range []string{"", "   ", string(make([]byte, beneficiary.MaxCommentBytes+1)), "\xff"} {
		_, err = h.svc.CommentOccurrence(t.Context(), ana, convID, "occ-7781", text)
		require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	}
	_, err = h.svc.CommentOccurrence(t.Context(), ana, convID, "occ-other", "x")
	require.ErrorIs(t, err, attendance.ErrNotFound)
	_, err = h.svc.CommentOccurrence(t.Context(), bruno, convID, "occ-7781", "x")
	require.ErrorIs(t, err, attendance.ErrForbidden)
	// Offered but not yet accepted: the agent may look, not write.
	_, err = h.svc.Occurrence(t.Context(), ana, "conv-offered", "occ-7781")
	require.NoError(t, err)
	_, err = h.svc.CommentOccurrence(t.Context(), ana, "conv-offered", "occ-7781", "x")
	require.ErrorIs(t, err, attendance.ErrForbidden)
	_, err = h.svc.CommentOccurrence(t.Context(), sara, convID, "occ-7781", "Supervisão ciente.")
	require.NoError(t, err)

	got, err := h.svc.Occurrence(t.Context(), ana, convID, "occ-7781")
	require.NoError(t, err)
	require.Len(t, got.Comments, 3, "refused writes changed nothing")
	require.Equal(t, beneficiary.StatusWaiting, got.Status)
}

func TestServiceJourney(t *testing.T) {
	t.Parallel()
	h := newService(t, nil)
	page, err := h.svc.Journey(t.Context(), ana, convID, "", 3)
	require.NoError(t, err)
	require.Len(t, page.Entries, 3)
	next, err := h.svc.Journey(t.Context(), ana, convID, page.NextPageToken, 3)
	require.NoError(t, err)
	require.NotEqual(t, page.Entries[0].ID, next.Entries[0].ID)

	_, err = h.svc.Journey(t.Context(), bruno, convID, "", 3)
	require.ErrorIs(t, err, attendance.ErrForbidden)

	// Bruno serves João; Maria's token is no good on João's journey.
	_ = h.demo.Conversations.Put(attendance.Conversation{ID: "conv-joao", BeneficiaryID: "ben-0002", State: attendance.StateActive, AgentID: "bruno", CreatedAt: demoNow})
	_, err = h.svc.Journey(t.Context(), bruno, "conv-joao", page.NextPageToken, 3)
	require.ErrorIs(t, err, beneficiary.ErrInvalidPageToken)
}

// wrongDirectory returns another beneficiary than asked for, or panics.
type wrongDirectory struct{ panics bool }

func (d wrongDirectory) Beneficiary(ctx context.Context, id string) (beneficiary.Beneficiary, error) {
	if d.panics {
		panic("directory fault with " + id)
	}
	return beneficiary.Beneficiary{ID: "ben-0002", Name: "João Pereira", CPF: "24681357928"}, nil
}

// panickingOccurrences panics on every call.
type panickingOccurrences struct{ beneficiary.Occurrences }

func (panickingOccurrences) ListOccurrences(context.Context, beneficiary.ListOccurrencesFilter) ([]beneficiary.Occurrence, error) {
	panic("platform fault")
}

func (panickingOccurrences) GetOccurrence(context.Context, string) (beneficiary.Occurrence, error) {
	panic("platform fault")
}

// swappingOccurrences answers writes with another occurrence.
type swappingOccurrences struct{ *memdata.Occurrences }

func (o swappingOccurrences) AddComment(ctx context.Context, p beneficiary.AddCommentParams) (beneficiary.Occurrence, error) {
	return o.GetOccurrence(ctx, "occ-other")
}

func (o swappingOccurrences) SetStatus(ctx context.Context, p beneficiary.SetStatusParams) (beneficiary.Occurrence, error) {
	return o.GetOccurrence(ctx, "occ-other")
}

// TestServiceRefusesOtherData: a Directory that answers with another
// beneficiary, or a platform that answers a write with another occurrence,
// is a source error; none of the other person's data comes back.
func TestServiceRefusesOtherData(t *testing.T) {
	t.Parallel()
	h := newService(t, nil)
	svc, err := beneficiary.New(h.demo.Conversations, wrongDirectory{}, swappingOccurrences{h.demo.Occurrences}, newJourney(t, h.demo, testKey), nil)
	require.NoError(t, err)

	b, err := svc.Beneficiary(t.Context(), ana, convID)
	require.ErrorIs(t, err, beneficiary.ErrSourceMismatch)
	require.Empty(t, b.Name)
	require.NotContains(t, err.Error(), "João")

	o, err := svc.CommentOccurrence(t.Context(), ana, convID, "occ-7781", "nota")
	require.ErrorIs(t, err, beneficiary.ErrSourceMismatch)
	require.Empty(t, o.ID)
	o, err = svc.SetOccurrenceStatus(t.Context(), ana, convID, "occ-7781", "", beneficiary.StatusWaiting, "")
	require.ErrorIs(t, err, beneficiary.ErrSourceMismatch)
	require.Empty(t, o.ID)
}

// TestServiceRecoversSourcePanics: a panic in the host's Directory or
// Occurrences is an error matching ErrSourcePanic, logged with its stack but
// without its value; the process goes on.
func TestServiceRecoversSourcePanics(t *testing.T) {
	t.Parallel()
	h := newService(t, nil)
	var logs bytes.Buffer
	panicky := panickingOccurrences{h.demo.Occurrences}
	j, err := beneficiary.NewJourney(h.demo.Conversations, panicky, &beneficiary.JourneyConfig{TokenKey: testKey})
	require.NoError(t, err)
	svc, err := beneficiary.New(h.demo.Conversations, wrongDirectory{panics: true}, panicky, j,
		&beneficiary.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)

	_, err = svc.Beneficiary(t.Context(), ana, convID)
	require.ErrorIs(t, err, beneficiary.ErrSourcePanic)
	var pe *beneficiary.SourcePanicError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "Directory.Beneficiary", pe.Source)
	require.Equal(t, "directory fault with "+memdata.DemoBeneficiaryID, pe.Value)
	require.NotEmpty(t, pe.Stack)
	require.NotContains(t, err.Error(), "fault")

	_, err = svc.Occurrences(t.Context(), ana, convID)
	require.ErrorIs(t, err, beneficiary.ErrSourcePanic)
	_, err = svc.Occurrence(t.Context(), ana, convID, "occ-7781")
	require.ErrorIs(t, err, beneficiary.ErrSourcePanic)
	_, err = svc.CommentOccurrence(t.Context(), ana, convID, "occ-7781", "nota")
	require.ErrorIs(t, err, beneficiary.ErrSourcePanic)
	_, err = svc.Journey(t.Context(), ana, convID, "", 3)
	require.ErrorIs(t, err, beneficiary.ErrSourcePanic)

	require.Contains(t, logs.String(), "source=Directory.Beneficiary")
	require.Contains(t, logs.String(), "source=Occurrences.ListOccurrences")
	require.NotContains(t, logs.String(), "fault", "the panic value is not logged")
}
