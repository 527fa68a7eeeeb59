package beneficiary_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets/beneficiary"
	"github.com/mosiachat/mosiachat/widgets/memdata"
)

var demoNow = time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)

func newJourney(t *testing.T, d *memdata.Demo, key []byte) *beneficiary.Journey {
	t.Helper()
	j, err := beneficiary.NewJourney(d.Conversations, d.Occurrences, &beneficiary.JourneyConfig{
		TokenKey: key, Events: d.Events, Subjects: d.Subjects, Queues: d.Queues, PageSize: 4,
	})
	require.NoError(t, err)
	return j
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// allPages walks the journey page by page.
func allPages(t *testing.T, j *beneficiary.Journey, beneficiaryID string, limit int) ([]beneficiary.Entry, int) {
	t.Helper()
	var all []beneficiary.Entry
	token := ""
	pages := 0
	for {
		page, err := j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: beneficiaryID, PageToken: token, Limit: limit})
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, len(page.Entries), limit)
		all = append(all, page.Entries...)
		if page.NextPageToken == "" {
			return all, pages
		}
		token = page.NextPageToken
		require.Less(t, pages, 100, "pagination does not end")
	}
}

func TestJourneyMergesNewestFirst(t *testing.T) {
	t.Parallel()
	d := memdata.NewDemo(demoNow)
	j := newJourney(t, d, testKey)

	page, err := j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, Limit: 100})
	require.NoError(t, err)
	require.Empty(t, page.NextPageToken)
	entries := page.Entries

	kinds := map[beneficiary.EntryKind]int{}
	ids := map[string]bool{}
	for i, e := range entries {
		kinds[e.Kind]++
		require.False(t, ids[e.ID], "duplicate %s", e.ID)
		ids[e.ID] = true
		if i > 0 {
			require.False(t, e.At.After(entries[i-1].At), "not newest first at %d", i)
		}
	}
	require.Equal(t, 3, kinds[beneficiary.EntryConversation])
	// conv-0001: accepted, finalized; conv-0002: auto-accepted, transferred,
	// accepted, finalized; conv-0003: accepted. Opened and offered are left out.
	require.Equal(t, 7, kinds[beneficiary.EntryConversationEvent])
	require.Equal(t, 2, kinds[beneficiary.EntryOccurrence])
	require.Equal(t, 1, kinds[beneficiary.EntryOccurrenceComment])
	require.Equal(t, 2, kinds[beneficiary.EntryOccurrenceStatus])
	require.Equal(t, 2, kinds[beneficiary.EntryEvent])

	// The newest is the current conversation's accept, then its opening.
	require.Equal(t, "Atendimento iniciado por ana", entries[0].Title)
	require.Equal(t, "conversation/conv-0003", entries[1].ID)
	require.Equal(t, "Assunto: Boletos e pagamentos. Situação: em atendimento.", entries[1].Detail)
	// The oldest is the address-change occurrence.
	require.Equal(t, "occurrence/occ-6120", entries[len(entries)-1].ID)

	var transfer beneficiary.Entry
	for _, e := range entries {
		if e.ID == "conversation/conv-0002/0000000003" {
			transfer = e
		}
	}
	require.Equal(t, "Transferido para a fila Financeiro", transfer.Title)
	require.Equal(t, "Reembolso é com o financeiro.", transfer.Detail)
}

func TestJourneyPagination(t *testing.T) {
	t.Parallel()
	d := memdata.NewDemo(demoNow)
	j := newJourney(t, d, testKey)
	full, err := j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, Limit: 100})
	require.NoError(t, err)

	for _, limit := range []int{1, 2, 3, 5, 17, len(full.Entries), len(full.Entries) + 1} {
		got, pages := allPages(t, j, memdata.DemoBeneficiaryID, limit)
		require.Equal(t, full.Entries, got, "limit %d", limit)
		require.Equal(t, (len(full.Entries)+limit-1)/limit, pages, "limit %d", limit)
	}

	// Default page size and the cap.
	page, err := j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID})
	require.NoError(t, err)
	require.Len(t, page.Entries, 4)
	_, err = j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, Limit: -1})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	_, err = j.Page(t.Context(), beneficiary.JourneyQuery{})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)

	// Unknown beneficiary: an empty journey.
	page, err = j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: "nobody"})
	require.NoError(t, err)
	require.Empty(t, page.Entries)
	require.NotNil(t, page.Entries)
}

// TestJourneyNewEntriesDoNotShiftPages: something that happens after the
// first page was read shows up on a fresh first page, not in the middle.
func TestJourneyNewEntriesDoNotShiftPages(t *testing.T) {
	t.Parallel()
	d := memdata.NewDemo(demoNow)
	j := newJourney(t, d, testKey)
	first, err := j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, Limit: 3})
	require.NoError(t, err)
	want, err := j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, Limit: 3, PageToken: first.NextPageToken})
	require.NoError(t, err)

	d.Events.Add(beneficiary.Event{ID: "new", BeneficiaryID: memdata.DemoBeneficiaryID, At: demoNow, Channel: "email", Title: "E-mail enviado"})
	second, err := j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, Limit: 3, PageToken: first.NextPageToken})
	require.NoError(t, err)
	require.Equal(t, want.Entries, second.Entries)

	fresh, err := j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, Limit: 3})
	require.NoError(t, err)
	require.Equal(t, "event/new", fresh.Entries[0].ID)
}

func TestJourneyRejectsBadTokens(t *testing.T) {
	t.Parallel()
	d := memdata.NewDemo(demoNow)
	// A second beneficiary, so a token can be replayed against them.
	d.Events.Add(beneficiary.Event{ID: "e2", BeneficiaryID: "ben-0002", At: demoNow, Title: "x"})
	j := newJourney(t, d, testKey)
	first, err := j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, Limit: 2})
	require.NoError(t, err)
	token := first.NextPageToken
	require.NotEmpty(t, token)
	raw, err := base64.RawURLEncoding.DecodeString(token)
	require.NoError(t, err)

	var tampered []string
	for i := range raw { // flip one bit anywhere: payload or signature
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		tampered = append(tampered, base64.RawURLEncoding.EncodeToString(b))
	}
	tampered = append(tampered,
		token[:len(token)-1], // truncated
		token+"A",            // extended
		"not-a-token!",       // not base64
		"",                   // handled below as "first page"
		base64.RawURLEncoding.EncodeToString([]byte("short")),
	)
	for _, tok := range tampered {
		if tok == "" {
			continue
		}
		_, err := j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, PageToken: tok, Limit: 2})
		require.ErrorIs(t, err, beneficiary.ErrInvalidPageToken, tok)
		var pte *beneficiary.PageTokenError
		require.ErrorAs(t, err, &pte)
	}

	// Another beneficiary's journey does not accept it.
	_, err = j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: "ben-0002", PageToken: token})
	require.ErrorIs(t, err, beneficiary.ErrInvalidPageToken)

	// Nor does a journey with another key; the same key does.
	other := newJourney(t, d, []byte("fedcba9876543210fedcba9876543210"))
	_, err = other.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, PageToken: token})
	require.ErrorIs(t, err, beneficiary.ErrInvalidPageToken)
	same := newJourney(t, d, testKey)
	_, err = same.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, PageToken: token})
	require.NoError(t, err)
}

type failingLister struct{ memdata.Conversations }

func (*failingLister) ListMessages(context.Context, attendance.ListMessagesFilter) ([]attendance.Message, error) {
	return nil, errors.New("store down")
}

func TestJourneySourceErrors(t *testing.T) {
	t.Parallel()
	d := memdata.NewDemo(demoNow)
	lister := &failingLister{}
	_ = lister.Put(attendance.Conversation{ID: "c", BeneficiaryID: "b", CreatedAt: demoNow})
	j, err := beneficiary.NewJourney(lister, d.Occurrences, nil)
	require.NoError(t, err)
	_, err = j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: "b"})
	require.ErrorContains(t, err, "store down")

	_, err = beneficiary.NewJourney(nil, d.Occurrences, nil)
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	_, err = beneficiary.NewJourney(d.Conversations, d.Occurrences, &beneficiary.JourneyConfig{TokenKey: []byte("short")})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	_, err = beneficiary.NewJourney(d.Conversations, d.Occurrences, &beneficiary.JourneyConfig{PageSize: 50, MaxPageSize: 10})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
}

func FuzzJourneyToken(f *testing.F) {
	d := memdata.NewDemo(demoNow)
	j, err := beneficiary.NewJourney(d.Conversations, d.Occurrences, &beneficiary.JourneyConfig{TokenKey: testKey})
	if err != nil {
		f.Fatal(err)
	}
	first, err := j.Page(context.Background(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, Limit: 2})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(first.NextPageToken)
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := j.Page(context.Background(), beneficiary.JourneyQuery{BeneficiaryID: memdata.DemoBeneficiaryID, PageToken: tok, Limit: 2})
		if err != nil && !errors.Is(err, beneficiary.ErrInvalidPageToken) {
			t.Fatalf("unexpected error %v", err)
		}
		if err == nil && tok != "" && tok != first.NextPageToken {
			// Another valid token would mean a forged signature.
			t.Fatalf("forged token accepted: %s", fmt.Sprintf("%q", tok))
		}
	})
}

// walkAll walks the journey with each limit and checks that every entry of
// the full journey shows up once, in order, and that pagination ends.
func walkAll(t *testing.T, j *beneficiary.Journey, beneficiaryID string, want int) []beneficiary.Entry {
	t.Helper()
	full, err := j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: beneficiaryID, Limit: 100})
	require.NoError(t, err)
	require.Empty(t, full.NextPageToken)
	require.Len(t, full.Entries, want)
	for _, limit := range []int{1, 2, 3, want - 1} {
		got, _ := allPages(t, j, beneficiaryID, limit)
		require.Equal(t, full.Entries, got, "limit %d", limit)
	}
	return full.Entries
}

// TestJourneyZeroAndFarTimes: entries without a time (the zero time.Time)
// or far in the past or future paginate like any other: each shows once
// and the walk ends.
func TestJourneyZeroAndFarTimes(t *testing.T) {
	t.Parallel()
	evs := memdata.NewEvents()
	times := []time.Time{
		{}, {}, {}, // a host event without timestamp
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1500, 6, 1, 12, 0, 0, 0, time.UTC),
		time.Date(1677, 9, 21, 0, 12, 43, 145224191, time.UTC), // just before UnixNano's range
		demoNow,
		time.Date(2262, 4, 11, 23, 47, 16, 854775808, time.UTC), // just after it
		time.Date(3000, 1, 1, 0, 0, 0, 999999999, time.FixedZone("x", -3*3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	for i, at := range times {
		evs.Add(beneficiary.Event{ID: fmt.Sprintf("e%02d", i), BeneficiaryID: "ben-x", At: at, Channel: "telefone", Title: "Ligação"})
	}
	// A conversation whose accept is stamped before its creation (a clock
	// behind) and one whose finalization has no time: the steps show the
	// creation time, so they are not skipped on later pages.
	convs := memdata.NewConversations()
	created := demoNow.Add(-time.Hour)
	require.NoError(t, convs.Put(attendance.Conversation{ID: "c1", BeneficiaryID: "ben-x", CreatedAt: created, State: attendance.StateFinalized},
		attendance.Message{Kind: attendance.KindSystem, Event: &attendance.Event{Type: attendance.EventAccepted, AgentID: "ana"}, CreatedAt: created.Add(-time.Second)},
		attendance.Message{Kind: attendance.KindSystem, Event: &attendance.Event{Type: attendance.EventFinalized}},
	))
	evs.Add(beneficiary.Event{ID: "between", BeneficiaryID: "ben-x", At: created.Add(-time.Second / 2), Title: "Entre"})

	j, err := beneficiary.NewJourney(convs, memdata.NewOccurrences(), &beneficiary.JourneyConfig{TokenKey: testKey, Events: evs})
	require.NoError(t, err)
	entries := walkAll(t, j, "ben-x", len(times)+4)
	seen := map[string]bool{}
	for i, e := range entries {
		require.False(t, seen[e.ID], "duplicate %s", e.ID)
		seen[e.ID] = true
		if i > 0 {
			require.False(t, e.At.After(entries[i-1].At), "not newest first at %d", i)
		}
	}
	require.Equal(t, "event/e09", entries[0].ID, "year 9999 first")
	require.True(t, entries[len(entries)-1].At.IsZero(), "no time: last")
	for _, id := range []string{"conversation/c1/0000000001", "conversation/c1/0000000002"} {
		require.True(t, seen[id], id)
	}
}

// TestJourneyLongIDs: entries built from very long host IDs get bounded,
// distinct, stable IDs, so every page token of a walk works.
func TestJourneyLongIDs(t *testing.T) {
	t.Parallel()
	evs := memdata.NewEvents()
	long := strings.Repeat("x", 800)
	ids := []string{long, long + "y", strings.Repeat("é", 3000), "short"}
	for i, id := range ids {
		evs.Add(beneficiary.Event{ID: id, BeneficiaryID: "ben-x", At: demoNow.Add(-time.Duration(i%2) * time.Hour), Title: "Evento"})
	}
	occ := memdata.NewOccurrences(beneficiary.Occurrence{
		ID: strings.Repeat("o", 2000), BeneficiaryID: "ben-x", Title: "Ocorrência", Status: beneficiary.StatusOpen, CreatedAt: demoNow.Add(-2 * time.Hour),
		Comments: []beneficiary.Comment{{ID: strings.Repeat("c", 2000), Text: "nota", At: demoNow.Add(-90 * time.Minute)}},
	})
	j, err := beneficiary.NewJourney(memdata.NewConversations(), occ, &beneficiary.JourneyConfig{TokenKey: testKey, Events: evs})
	require.NoError(t, err)

	entries := walkAll(t, j, "ben-x", len(ids)+2)
	seen := map[string]bool{}
	for _, e := range entries {
		require.LessOrEqual(t, len(e.ID), beneficiary.MaxEntryIDBytes, e.ID)
		require.True(t, utf8.ValidString(e.ID), e.ID)
		require.False(t, seen[e.ID], "duplicate %s", e.ID)
		seen[e.ID] = true
	}
	require.True(t, seen["event/short"], "short IDs are kept as they are")
	again := walkAll(t, j, "ben-x", len(ids)+2)
	require.Equal(t, entries, again, "stable across calls")

	// Every token of the walk is short and accepted.
	token := ""
	for {
		page, err := j.Page(t.Context(), beneficiary.JourneyQuery{BeneficiaryID: "ben-x", PageToken: token, Limit: 1})
		require.NoError(t, err)
		if page.NextPageToken == "" {
			break
		}
		require.LessOrEqual(t, len(page.NextPageToken), 1024)
		token = page.NextPageToken
	}
}
