package widgets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets"
)

// fakeAccess authorizes like the engine's AuthorizeView: the beneficiary,
// the current owner agent (offered or active) and supervisors see a
// conversation.
type fakeAccess struct {
	mu    sync.Mutex
	convs map[string]attendance.Conversation
	calls atomic.Int64
}

func newFakeAccess(convs ...attendance.Conversation) *fakeAccess {
	a := &fakeAccess{convs: make(map[string]attendance.Conversation)}
	for _, c := range convs {
		a.convs[c.ID] = c
	}
	return a
}

func (a *fakeAccess) set(c attendance.Conversation) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.convs[c.ID] = c
}

func (a *fakeAccess) AuthorizeView(ctx context.Context, p attendance.Principal, id string) (attendance.Conversation, error) {
	a.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return attendance.Conversation{}, err
	}
	a.mu.Lock()
	c, ok := a.convs[id]
	a.mu.Unlock()
	if !ok {
		return attendance.Conversation{}, attendance.ErrNotFound
	}
	switch {
	case p.Role == attendance.RoleSupervisor:
	case p.Role == attendance.RoleBeneficiary && p.ID == c.BeneficiaryID:
	case p.Role == attendance.RoleAgent && p.ID == c.AgentID && c.State.HoldsAgent():
	default:
		return attendance.Conversation{}, attendance.ErrForbidden
	}
	return c, nil
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var (
	agentAna   = attendance.AgentPrincipal("ana")
	agentBruno = attendance.AgentPrincipal("bruno")
	profileAll = attendance.Profile{Min: 1, Max: 3, Queues: []string{"geral"}, Widgets: []string{"fast", "slow", "boom", "fails", "bad"}}
)

func activeConv(id string) attendance.Conversation {
	return attendance.Conversation{ID: id, BeneficiaryID: "ben-1", QueueID: "geral", State: attendance.StateActive, AgentID: "ana", Protocol: "2026000001"}
}

func staticProvider(title string) widgets.Provider {
	return widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
		return widgets.Result{Title: title, Fields: []widgets.Field{{Label: "Beneficiário", Value: widgets.TextValue(req.BeneficiaryID())}}}, nil
	})
}

type harness struct {
	reg    *widgets.Registry
	access *fakeAccess
	clock  *fakeClock
}

func newHarness(t *testing.T, cfg *widgets.Config, convs ...attendance.Conversation) harness {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)}
	if cfg == nil {
		cfg = &widgets.Config{}
	}
	cfg.Now = clock.Now
	if len(convs) == 0 {
		convs = []attendance.Conversation{activeConv("c1")}
	}
	access := newFakeAccess(convs...)
	reg, err := widgets.NewRegistry(access, cfg)
	require.NoError(t, err)
	return harness{reg: reg, access: access, clock: clock}
}

func byID(results []widgets.WidgetResult) map[string]widgets.WidgetResult {
	m := make(map[string]widgets.WidgetResult, len(results))
	for _, r := range results {
		m[r.WidgetID] = r
	}
	return m
}

func TestNewRegistryRejectsBadArguments(t *testing.T) {
	t.Parallel()
	_, err := widgets.NewRegistry(nil, nil)
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	_, err = widgets.NewRegistry(newFakeAccess(), &widgets.Config{DefaultTimeout: -time.Second})
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	require.ErrorContains(t, err, "DefaultTimeout")
	reg, err := widgets.NewRegistry(newFakeAccess(), nil)
	require.NoError(t, err)
	require.NotNil(t, reg)
}

func TestRegister(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	require.NoError(t, h.reg.Register(widgets.Widget{ID: "fast", Title: "Rápido", Provider: staticProvider("")}))

	err := h.reg.Register(widgets.Widget{ID: "fast", Title: "Outro", Provider: staticProvider("")})
	require.ErrorIs(t, err, widgets.ErrDuplicateWidget)

	bad := []widgets.Widget{
		{ID: "", Title: "x", Provider: staticProvider("")},
		{ID: "Upper", Title: "x", Provider: staticProvider("")},
		{ID: "has space", Title: "x", Provider: staticProvider("")},
		{ID: "ok", Title: "", Provider: staticProvider("")},
		{ID: "ok", Title: "x"},
		{ID: "ok", Title: "x", Provider: staticProvider(""), Timeout: -1},
	}
	for _, w := range bad {
		require.ErrorIs(t, h.reg.Register(w), attendance.ErrInvalidArgument, "widget %+v", w.ID)
	}
	// The failed registrations left the registry as it was.
	got := h.reg.Available(attendance.Profile{Widgets: []string{"fast", "ok"}})
	require.Equal(t, []widgets.Descriptor{{ID: "fast", Title: "Rápido"}}, got)
}

func TestAvailableFollowsProfile(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, id := range []string{"a", "b", "c"} {
		require.NoError(t, h.reg.Register(widgets.Widget{ID: id, Title: "W " + id, Provider: staticProvider("")}))
	}
	got := h.reg.Available(attendance.Profile{Widgets: []string{"c", "a", "missing", "c"}})
	require.Equal(t, []widgets.Descriptor{{ID: "c", Title: "W c"}, {ID: "a", Title: "W a"}}, got)
	require.Empty(t, h.reg.Available(attendance.Profile{}))

	require.NoError(t, h.reg.CheckProfile(attendance.Profile{Widgets: []string{"a", "b"}}))
	err := h.reg.CheckProfile(attendance.Profile{Widgets: []string{"a", "missing"}})
	require.ErrorIs(t, err, widgets.ErrUnknownWidget)
	require.ErrorContains(t, err, "missing")
}

// TestSlowProviderTimesOutOthersReturn: one provider blocks past its
// timeout; the others answer and the slow one's box reports ErrTimeout. The
// slow provider waits on a channel the test closes at the end, ignoring its
// context, so the registry must stop waiting on its own.
func TestSlowProviderTimesOutOthersReturn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })

	require.NoError(t, h.reg.Register(widgets.Widget{ID: "fast", Title: "Rápido", Provider: staticProvider("")}))
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "slow", Title: "Lento", Timeout: 50 * time.Millisecond,
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			<-release // ignores ctx on purpose
			return widgets.Result{}, nil
		}),
	}))
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "polite", Title: "Educado", Timeout: 50 * time.Millisecond,
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			select {
			case <-ctx.Done():
				return widgets.Result{}, ctx.Err()
			case <-release:
				return widgets.Result{}, nil
			}
		}),
	}))
	profile := attendance.Profile{Widgets: []string{"slow", "fast", "polite"}}

	results, err := h.reg.Fetch(t.Context(), widgets.FetchParams{Principal: agentAna, Profile: profile, ConversationID: "c1"})
	require.NoError(t, err)
	require.Len(t, results, 3)
	require.Equal(t, []string{"slow", "fast", "polite"}, []string{results[0].WidgetID, results[1].WidgetID, results[2].WidgetID})

	got := byID(results)
	require.NoError(t, got["fast"].Err)
	require.Equal(t, "ben-1", got["fast"].Result.Fields[0].Value.Text)
	for _, id := range []string{"slow", "polite"} {
		require.ErrorIs(t, got[id].Err, widgets.ErrTimeout, id)
		require.Equal(t, widgets.CodeTimeout, widgets.ErrorCode(got[id].Err))
		require.Empty(t, got[id].Result.Fields)
	}
}

func TestPanickingProviderIsIsolated(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := newHarness(t, &widgets.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, h.reg.Register(widgets.Widget{ID: "fast", Title: "Rápido", Provider: staticProvider("")}))
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "boom", Title: "Explode",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			panic("CPF 123.456.789-09 not found") // the panic value must not leak
		}),
	}))

	results, err := h.reg.Fetch(t.Context(), widgets.FetchParams{Principal: agentAna, Profile: profileAll, ConversationID: "c1"})
	require.NoError(t, err)
	got := byID(results)
	require.NoError(t, got["fast"].Err)
	require.ErrorIs(t, got["boom"].Err, widgets.ErrPanic)
	var pe *widgets.PanicError
	require.ErrorAs(t, got["boom"].Err, &pe)
	require.Equal(t, "boom", pe.WidgetID)
	require.NotEmpty(t, pe.Stack)
	require.NotContains(t, got["boom"].Err.Error(), "123.456")
	require.Contains(t, logs.String(), "code=panic")
	require.NotContains(t, logs.String(), "123.456")

	b, err := json.Marshal(got["boom"])
	require.NoError(t, err)
	require.NotContains(t, string(b), "123.456")
	require.Contains(t, string(b), `"code":"panic"`)
}

func TestProviderErrorIsIsolatedAndNotLogged(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := newHarness(t, &widgets.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	secret := errors.New("backend said: beneficiary 123.456.789-09 unknown")
	require.NoError(t, h.reg.Register(widgets.Widget{ID: "fast", Title: "Rápido", Provider: staticProvider("")}))
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "fails", Title: "Falha",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			return widgets.Result{}, secret
		}),
	}))
	results, err := h.reg.Fetch(t.Context(), widgets.FetchParams{Principal: agentAna, Profile: profileAll, ConversationID: "c1"})
	require.NoError(t, err)
	got := byID(results)
	require.NoError(t, got["fast"].Err)
	require.ErrorIs(t, got["fails"].Err, secret, "the host keeps the provider's error")
	require.Equal(t, widgets.CodeProvider, widgets.ErrorCode(got["fails"].Err))
	require.Contains(t, logs.String(), "widget=fails")
	require.NotContains(t, logs.String(), "123.456")
}

// TestConcurrentFetchesReachProviderOnce: 100 concurrent fetches of one
// widget for one conversation make one provider call; the rest join the
// call in flight or read the cache.
func TestConcurrentFetchesReachProviderOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	var calls atomic.Int64
	gate := make(chan struct{})
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "fast", Title: "Rápido",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			calls.Add(1)
			<-gate
			return widgets.Result{Note: "ok"}, nil
		}),
	}))
	params := widgets.FetchParams{Principal: agentAna, Profile: profileAll, ConversationID: "c1", Only: []string{"fast"}}

	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			res, err := h.reg.Fetch(t.Context(), params)
			if err == nil && res[0].Err != nil {
				err = res[0].Err
			}
			if err == nil && res[0].Result.Note != "ok" {
				err = fmt.Errorf("unexpected note %q", res[0].Result.Note)
			}
			errs <- err
		})
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(1), calls.Load())
	require.Equal(t, int64(n), h.access.calls.Load(), "every fetch is authorized")
}

func TestCacheExpiresAndErrorsAreNotCached(t *testing.T) {
	t.Parallel()
	h := newHarness(t, &widgets.Config{CacheTTL: 10 * time.Second})
	var calls atomic.Int64
	var failNext atomic.Bool
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "fast", Title: "Rápido",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			n := calls.Add(1)
			if failNext.Load() {
				return widgets.Result{}, errors.New("down")
			}
			return widgets.Result{Note: fmt.Sprint("call ", n)}, nil
		}),
	}))
	fetch := func(refresh bool) widgets.WidgetResult {
		res, err := h.reg.Fetch(t.Context(), widgets.FetchParams{Principal: agentAna, Profile: profileAll, ConversationID: "c1", Only: []string{"fast"}, Refresh: refresh})
		require.NoError(t, err)
		return res[0]
	}

	first := fetch(false)
	require.Equal(t, "call 1", first.Result.Note)
	require.False(t, first.Cached)
	require.Equal(t, h.clock.Now(), first.FetchedAt)

	second := fetch(false)
	require.True(t, second.Cached)
	require.Equal(t, "call 1", second.Result.Note)

	h.clock.Advance(10 * time.Second)
	third := fetch(false)
	require.False(t, third.Cached)
	require.Equal(t, "call 2", third.Result.Note)

	require.Equal(t, "call 3", fetch(true).Result.Note, "Refresh skips the cache")

	h.clock.Advance(11 * time.Second)
	failNext.Store(true)
	require.Error(t, fetch(false).Err)
	require.Error(t, fetch(false).Err, "errors are not cached")
	require.Equal(t, int64(5), calls.Load())
}

func TestCachedResultIsACopy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	shared := widgets.Result{Tables: []widgets.Table{{
		Columns: []widgets.Column{{Label: "Valor", Kind: widgets.KindMoney}},
		Rows:    [][]widgets.Value{{widgets.MoneyValue(100)}},
	}}}
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "fast", Title: "Rápido",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			return shared, nil
		}),
	}))
	params := widgets.FetchParams{Principal: agentAna, Profile: profileAll, ConversationID: "c1"}
	res, err := h.reg.Fetch(t.Context(), params)
	require.NoError(t, err)
	res[0].Result.Tables[0].Rows[0][0] = widgets.MoneyValue(999) // a careless caller
	shared.Tables[0].Rows[0][0] = widgets.MoneyValue(777)        // a careless provider

	res, err = h.reg.Fetch(t.Context(), params)
	require.NoError(t, err)
	require.True(t, res[0].Cached)
	require.Equal(t, widgets.BRL(100), res[0].Result.Tables[0].Rows[0][0].Money)
}

func TestFetchIsAuthorized(t *testing.T) {
	t.Parallel()
	convs := []attendance.Conversation{
		activeConv("mine"),
		{ID: "offered", BeneficiaryID: "ben-1", State: attendance.StateOffered, AgentID: "ana"},
		{ID: "brunos", BeneficiaryID: "ben-2", State: attendance.StateActive, AgentID: "bruno"},
		{ID: "queued", BeneficiaryID: "ben-3", State: attendance.StateQueued},
		{ID: "done", BeneficiaryID: "ben-1", State: attendance.StateFinalized, LastAgentID: "ana"},
	}
	h := newHarness(t, nil, convs...)
	var calls atomic.Int64
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "fast", Title: "Rápido",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			calls.Add(1)
			return widgets.Result{}, nil
		}),
	}))
	fetch := func(p attendance.Principal, conv string) error {
		_, err := h.reg.Fetch(t.Context(), widgets.FetchParams{Principal: p, Profile: profileAll, ConversationID: conv})
		return err
	}

	require.NoError(t, fetch(agentAna, "mine"))
	require.NoError(t, fetch(agentAna, "offered"))
	require.NoError(t, fetch(attendance.SupervisorPrincipal("sara"), "brunos"))
	require.Equal(t, int64(3), calls.Load())

	for _, tc := range []struct {
		p    attendance.Principal
		conv string
	}{
		{agentAna, "brunos"},
		{agentAna, "queued"},
		{agentAna, "done"},
		{agentBruno, "mine"},
		{attendance.BeneficiaryPrincipal("ben-1"), "mine"}, // AuthorizeView lets them see it; widgets do not
		{attendance.SystemPrincipal, "mine"},
	} {
		err := fetch(tc.p, tc.conv)
		require.ErrorIs(t, err, attendance.ErrForbidden, "%v on %s", tc.p, tc.conv)
	}
	require.ErrorIs(t, fetch(agentAna, "nope"), attendance.ErrNotFound)
	require.ErrorIs(t, fetch(agentAna, ""), attendance.ErrInvalidArgument)
	require.Equal(t, int64(3), calls.Load(), "no provider ran for a refused fetch")

	// A conversation transferred away stops being visible, cache or not.
	c := activeConv("mine")
	c.AgentID = "bruno"
	h.access.set(c)
	require.ErrorIs(t, fetch(agentAna, "mine"), attendance.ErrForbidden)
}

func TestMalformedResults(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		res  widgets.Result
		path string
	}{
		"short row": {widgets.Result{Tables: []widgets.Table{{
			Columns: []widgets.Column{{Label: "Data", Kind: widgets.KindDate}, {Label: "Valor", Kind: widgets.KindMoney}},
			Rows:    [][]widgets.Value{{widgets.DateValue(widgets.NewDate(2026, 1, 5)), widgets.MoneyValue(1)}, {widgets.MoneyValue(5)}},
		}}}, "tables[0].rows[1]"},
		"kind mismatch": {widgets.Result{Tables: []widgets.Table{{
			Columns: []widgets.Column{{Label: "Data", Kind: widgets.KindDate}},
			Rows:    [][]widgets.Value{{widgets.MoneyValue(5)}},
		}}}, "tables[0].rows[0][0]"},
		"unknown column kind": {widgets.Result{Tables: []widgets.Table{{
			Columns: []widgets.Column{{Label: "Cor", Kind: "color"}},
		}}}, "tables[0].columns[0].kind"},
		"invalid date":    {widgets.Result{Fields: []widgets.Field{{Label: "Vencimento", Value: widgets.DateValue(widgets.NewDate(2026, 2, 30))}}}, "fields[0].value"},
		"javascript link": {widgets.Result{Links: []widgets.Link{{Label: "x", URL: "javascript:alert(1)"}}}, "links[0].url"},
		"backslash host":  {widgets.Result{Links: []widgets.Link{{Label: "x", URL: `/\evil.example`}}}, "links[0].url"},
		"empty label":     {widgets.Result{Fields: []widgets.Field{{Label: " ", Value: widgets.TextValue("x")}}}, "fields[0].label"},
		"mixed value":     {widgets.Result{Fields: []widgets.Field{{Label: "x", Value: widgets.Value{Kind: widgets.KindMoney, Money: 1, Text: "1"}}}}, "fields[0].value"},
		"bad media type":  {widgets.Result{Documents: []widgets.Document{{Title: "PDF", URL: "/f/1", ContentType: "pdf;;"}}}, "documents[0].content_type"},
		"control char":    {widgets.Result{Title: "a\x00b"}, "title"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, nil)
			require.NoError(t, h.reg.Register(widgets.Widget{ID: "fast", Title: "Rápido", Provider: staticProvider("")}))
			require.NoError(t, h.reg.Register(widgets.Widget{
				ID: "bad", Title: "Ruim",
				Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
					return tc.res, nil
				}),
			}))
			results, err := h.reg.Fetch(t.Context(), widgets.FetchParams{Principal: agentAna, Profile: profileAll, ConversationID: "c1"})
			require.NoError(t, err)
			got := byID(results)
			require.NoError(t, got["fast"].Err)
			require.ErrorIs(t, got["bad"].Err, widgets.ErrMalformedResult)
			var re *widgets.ResultError
			require.ErrorAs(t, got["bad"].Err, &re)
			require.Equal(t, "bad", re.WidgetID)
			require.Equal(t, tc.path, re.Path)
			require.Equal(t, "Ruim", got["bad"].Title)
		})
	}
}

func TestOnly(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, id := range []string{"fast", "other"} {
		require.NoError(t, h.reg.Register(widgets.Widget{ID: id, Title: id, Provider: staticProvider("")}))
	}
	profile := attendance.Profile{Widgets: []string{"fast"}}
	fetch := func(only ...string) ([]widgets.WidgetResult, error) {
		return h.reg.Fetch(t.Context(), widgets.FetchParams{Principal: agentAna, Profile: profile, ConversationID: "c1", Only: only})
	}
	res, err := fetch("fast")
	require.NoError(t, err)
	require.Len(t, res, 1)
	_, err = fetch("other")
	require.ErrorIs(t, err, widgets.ErrWidgetNotAllowed)
	_, err = fetch("ghost")
	require.ErrorIs(t, err, widgets.ErrUnknownWidget)
}

// TestCallerGivesUp: a caller whose context ends gets ctx's error; the
// provider call it started carries on and fills the cache for the next one.
func TestCallerGivesUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	started := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int64
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "fast", Title: "Rápido", Timeout: time.Hour,
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			calls.Add(1)
			close(started)
			<-release
			return widgets.Result{Note: "late"}, ctx.Err()
		}),
	}))
	params := widgets.FetchParams{Principal: agentAna, Profile: profileAll, ConversationID: "c1"}

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := h.reg.Fetch(ctx, params)
		errc <- err
	}()
	<-started
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)

	close(release)
	// The next fetch joins the call still in flight or reads its cached result.
	res, err := h.reg.Fetch(t.Context(), params)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.Equal(t, "late", res[0].Result.Note)
	require.Equal(t, int64(1), calls.Load())
}

func TestWidgetResultJSON(t *testing.T) {
	t.Parallel()
	ok := widgets.WidgetResult{WidgetID: "w", Title: "W", Result: widgets.Result{
		Fields: []widgets.Field{{Label: "Total", Value: widgets.MoneyValue(12345)}, {Label: "Vencimento", Value: widgets.DateValue(widgets.NewDate(2026, 3, 10))}},
	}}
	b, err := json.Marshal(ok)
	require.NoError(t, err)
	require.JSONEq(t, `{"widget_id":"w","title":"W","result":{"title":"","fields":[
		{"label":"Total","value":{"kind":"money","centavos":12345}},
		{"label":"Vencimento","value":{"kind":"date","date":"2026-03-10"}}]}}`, string(b))

	failed := widgets.WidgetResult{WidgetID: "w", Title: "W", Err: fmt.Errorf("%w: x", widgets.ErrTimeout)}
	b, err = json.Marshal(failed)
	require.NoError(t, err)
	require.JSONEq(t, `{"widget_id":"w","title":"W","error":{"code":"timeout","message":"O widget não respondeu a tempo."}}`, string(b))

	var back widgets.Result
	require.NoError(t, json.Unmarshal([]byte(`{"fields":[{"label":"D","value":{"kind":"date","date":"2026-03-10"}}]}`), &back))
	require.Equal(t, widgets.NewDate(2026, 3, 10), back.Fields[0].Value.Date)
	require.NoError(t, back.Validate())
}

// TestRegisterWhileFetching: registrations and fetches interleave safely.
func TestRegisterWhileFetching(t *testing.T) {
	t.Parallel()
	h := newHarness(t, &widgets.Config{CacheTTL: -1})
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = fmt.Sprintf("w%02d", i)
	}
	profile := attendance.Profile{Widgets: ids}
	var wg sync.WaitGroup
	wg.Go(func() {
		for _, id := range ids {
			if err := h.reg.Register(widgets.Widget{ID: id, Title: id, Provider: staticProvider("")}); err != nil {
				panic(err)
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 20 {
				res, err := h.reg.Fetch(t.Context(), widgets.FetchParams{Principal: agentAna, Profile: profile, ConversationID: "c1"})
				if err != nil {
					panic(err)
				}
				for _, r := range res {
					if r.Err != nil {
						panic(r.Err)
					}
				}
			}
		})
	}
	wg.Wait()
	require.Len(t, h.reg.Available(profile), len(ids))
}

// TestCacheIsBounded: with room for two entries, a third conversation
// evicts the entry closest to expiry.
func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	convs := []attendance.Conversation{activeConv("c1"), activeConv("c2"), activeConv("c3")}
	h := newHarness(t, &widgets.Config{MaxCacheEntries: 2, CacheTTL: time.Minute}, convs...)
	calls := map[string]int{}
	var mu sync.Mutex
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "fast", Title: "Rápido",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			mu.Lock()
			defer mu.Unlock()
			calls[req.Conversation.ID]++
			return widgets.Result{}, nil
		}),
	}))
	fetch := func(conv string) bool {
		res, err := h.reg.Fetch(t.Context(), widgets.FetchParams{Principal: agentAna, Profile: profileAll, ConversationID: conv})
		require.NoError(t, err)
		return res[0].Cached
	}
	require.False(t, fetch("c1"))
	h.clock.Advance(time.Second)
	require.False(t, fetch("c2"))
	h.clock.Advance(time.Second)
	require.False(t, fetch("c3")) // evicts c1, the soonest to expire
	require.True(t, fetch("c2"))
	require.True(t, fetch("c3"))
	require.False(t, fetch("c1"))
	require.Equal(t, map[string]int{"c1": 2, "c2": 1, "c3": 1}, calls)
}

// TestHungProviderIsNotCalledAgain: a provider that ignores its context and
// never returns is called once per conversation while that call runs, and
// at most Config.MaxAbandonedPerWidget times in all; the other fetches
// answer ErrTimeout without calling it. Once the calls return, the widget
// is called again.
func TestHungProviderIsNotCalledAgain(t *testing.T) {
	t.Parallel()
	var convs []attendance.Conversation
	for i := range 10 {
		convs = append(convs, activeConv(fmt.Sprintf("c%d", i)))
	}
	h := newHarness(t, &widgets.Config{DefaultTimeout: 5 * time.Millisecond, MaxAbandonedPerWidget: 3}, convs...)
	release := make(chan struct{})
	var released sync.Once
	t.Cleanup(func() { released.Do(func() { close(release) }) })
	var calls, running atomic.Int64
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "slow", Title: "Lento",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			calls.Add(1)
			running.Add(1)
			defer running.Add(-1)
			<-release // a backend call that ignores ctx
			return widgets.Result{Note: "ok"}, nil
		}),
	}))
	// The fast widget's own timeout is long: on a loaded machine even an
	// instant provider can miss 5ms.
	require.NoError(t, h.reg.Register(widgets.Widget{ID: "fast", Title: "Rápido", Provider: staticProvider(""), Timeout: time.Minute}))
	fetch := func(conv string) []widgets.WidgetResult {
		res, err := h.reg.Fetch(t.Context(), widgets.FetchParams{Principal: agentAna, Profile: attendance.Profile{Widgets: []string{"slow", "fast"}}, ConversationID: conv})
		require.NoError(t, err)
		return res
	}

	for range 20 {
		res := fetch("c0")
		require.ErrorIs(t, res[0].Err, widgets.ErrTimeout)
		require.Equal(t, widgets.CodeTimeout, widgets.ErrorCode(res[0].Err))
		require.NoError(t, res[1].Err, "other widgets are not affected")
	}
	// A call's goroutine may not have reached the provider yet: the count
	// can only grow to its bound.
	require.LessOrEqual(t, calls.Load(), int64(1), "one call for c0 while the first still runs")
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 10*time.Second, time.Millisecond)

	for range 3 {
		for _, c := range convs {
			res := fetch(c.ID)
			require.ErrorIs(t, res[0].Err, widgets.ErrTimeout)
			require.NoError(t, res[1].Err)
		}
	}
	require.LessOrEqual(t, calls.Load(), int64(3), "at most MaxAbandonedPerWidget calls of the widget")
	require.LessOrEqual(t, running.Load(), int64(3))
	require.Eventually(t, func() bool { return calls.Load() == 3 }, 10*time.Second, time.Millisecond)

	released.Do(func() { close(release) })
	require.Eventually(t, func() bool {
		res := fetch("c9")
		return res[0].Err == nil && res[0].Result.Note == "ok"
	}, 10*time.Second, time.Millisecond, "once the abandoned calls return, the provider is called again")
	// At least once more (a loaded machine may make the new call miss its
	// 5ms too, and the next one answer).
	require.GreaterOrEqual(t, calls.Load(), int64(4))
}

// TestProviderContextErrorIsAProviderError: a provider's own error is a
// provider error even when it wraps a context error (its backend call had a
// deadline of its own); only the registry's deadline is a timeout, and only
// the caller's context ending is "canceled".
func TestProviderContextErrorIsAProviderError(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "fails", Title: "Falha", Timeout: time.Hour,
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			cctx, cancel := context.WithTimeout(ctx, time.Nanosecond) // e.g. http.Client.Timeout
			defer cancel()
			<-cctx.Done()
			return widgets.Result{}, fmt.Errorf("calling billing: %w", cctx.Err())
		}),
	}))
	require.NoError(t, h.reg.Register(widgets.Widget{
		ID: "boom", Title: "Cancelado", Timeout: time.Hour,
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			return widgets.Result{}, fmt.Errorf("billing: %w", context.Canceled)
		}),
	}))
	res, err := h.reg.Fetch(t.Context(), widgets.FetchParams{Principal: agentAna, Profile: profileAll, ConversationID: "c1"})
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, widgets.CodeProvider, widgets.ErrorCode(r.Err), r.WidgetID)
		require.ErrorIs(t, r.Err, widgets.ErrProvider, r.WidgetID)
		var pe *widgets.ProviderError
		require.ErrorAs(t, r.Err, &pe, r.WidgetID)
		require.Equal(t, r.WidgetID, pe.WidgetID)
		b, err := json.Marshal(r)
		require.NoError(t, err)
		require.Contains(t, string(b), `"code":"provider_error"`)
	}
	require.ErrorIs(t, byID(res)["fails"].Err, context.DeadlineExceeded, "the host still sees what the provider returned")

	// The caller's own context ending is "canceled".
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = h.reg.Fetch(ctx, widgets.FetchParams{Principal: agentAna, Profile: profileAll, ConversationID: "c1"})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, widgets.CodeCanceled, widgets.ErrorCode(err))
	require.Equal(t, widgets.CodeCanceled, widgets.ErrorCode(fmt.Errorf("widgets: fetch: %w", context.DeadlineExceeded)))

	// The outermost classification wins.
	provider := &widgets.ProviderError{WidgetID: "w", Err: fmt.Errorf("nested: %w", widgets.ErrTimeout)}
	require.Equal(t, widgets.CodeProvider, widgets.ErrorCode(provider))
	require.Equal(t, widgets.CodeTimeout, widgets.ErrorCode(fmt.Errorf("%w: w (%w)", widgets.ErrTimeout, context.DeadlineExceeded)))
	require.Equal(t, widgets.CodeProvider, widgets.ErrorCode(errors.New("down")))
	require.Equal(t, widgets.CodeTimeout, widgets.ErrorCode(errors.Join(errors.New("x"), widgets.ErrTimeout)))
	require.Equal(t, "", widgets.ErrorCode(nil))
}

// DateValue of the zero Date ("no date") is the empty cell, which a result
// may hold, not a malformed date.
func TestDateValueOfNoDateIsEmpty(t *testing.T) {
	v := widgets.DateValue(widgets.Date{})
	require.True(t, v.IsEmpty())
	r := widgets.Result{Fields: []widgets.Field{{Label: "Vencimento", Value: v}}}
	require.NoError(t, r.Validate())
}
