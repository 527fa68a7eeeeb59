package shortcuts_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets/shortcuts"
)

var vars = shortcuts.Vars{
	BeneficiaryName: "Maria Aparecida Souza",
	Protocol:        "20260310000123",
	AgentName:       "Ana Lima",
	Subject:         "Boletos",
	PlanName:        "Essencial Enfermaria",
	CardNumber:      "0 123 456789012345 6",
	Now:             time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC),
}

func load(t *testing.T) *shortcuts.Catalog {
	t.Helper()
	c, err := shortcuts.LoadFile(filepath.Join("testdata", "atalhos.json"))
	require.NoError(t, err)
	return c
}

func TestLoadListSearch(t *testing.T) {
	t.Parallel()
	c := load(t)
	require.Equal(t, []string{"default", "supervisao"}, c.Sets())

	list, err := c.ForProfile(attendance.Profile{})
	require.NoError(t, err)
	var triggers []string
	for _, s := range list {
		triggers = append(triggers, s.Trigger)
	}
	require.Equal(t, []string{"boleto2via", "carteirinha", "encerramento", "ola", "protocolo"}, triggers)

	list, err = c.ForProfile(attendance.Profile{Shortcuts: "supervisao"})
	require.NoError(t, err)
	require.Len(t, list, 1)

	_, err = c.ForProfile(attendance.Profile{Shortcuts: "nenhum"})
	require.ErrorIs(t, err, shortcuts.ErrUnknownSet)

	for _, tc := range []struct {
		input string
		want  []string
	}{
		{"/", []string{"boleto2via", "carteirinha", "encerramento", "ola", "protocolo"}},
		{"/c", []string{"carteirinha"}},
		{"/PRO", []string{"protocolo"}},
		{"o", []string{"ola"}},
		{"/x", nil},
	} {
		got, err := c.Search("default", tc.input)
		require.NoError(t, err)
		var trig []string
		for _, s := range got {
			trig = append(trig, s.Trigger)
		}
		require.Equal(t, tc.want, trig, tc.input)
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	c := load(t)
	got, err := c.Render("default", "/ola", vars)
	require.NoError(t, err)
	require.Equal(t, "Bom dia, Maria! Sou Ana e vou cuidar do seu atendimento.", got)

	got, err = c.Render("default", "encerramento", vars)
	require.NoError(t, err)
	require.Equal(t, "Obrigado pelo contato, Maria!\nProtocolo: 20260310000123.\nAté logo!", got)

	evening := vars
	evening.Now = time.Date(2026, 3, 10, 19, 0, 0, 0, time.UTC)
	got, err = c.Render("supervisao", "ola", evening)
	require.NoError(t, err)
	require.Equal(t, "Boa noite, Maria Aparecida Souza. Aqui é Ana Lima, da supervisão de atendimento.", got)

	s, err := c.Get("default", "carteirinha")
	require.NoError(t, err)
	require.Equal(t, []string{"plan_name", "card_number"}, s.Variables())

	noCard := vars
	noCard.CardNumber = " "
	noCard.PlanName = ""
	_, err = c.Render("default", "carteirinha", noCard)
	require.ErrorIs(t, err, shortcuts.ErrMissingValue)
	require.ErrorContains(t, err, "plan_name, card_number")

	_, err = c.Render("default", "nada", vars)
	require.ErrorIs(t, err, shortcuts.ErrUnknownShortcut)
	_, err = c.Render("nenhum", "ola", vars)
	require.ErrorIs(t, err, shortcuts.ErrUnknownSet)
}

func TestBadFiles(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		data     string
		sentinel error
		contains string
	}{
		"json syntax": {"{\n  \"sets\": {\n    \"default\": [\n      {\"trigger\": \"ola\" \"title\": \"x\"}\n    ]\n  }\n}", shortcuts.ErrSyntax, "line 4"},
		"truncated":   {`{"sets": {"default": [`, shortcuts.ErrSyntax, "end of file"},
		"trailing":    {`{"sets": {}} {}`, shortcuts.ErrSyntax, "after the JSON"},
		"unknown field": {`{"sets": {"default": [{"trigger": "a", "title": "A", "text": "x", "color": "red"}]}}`,
			shortcuts.ErrInvalid, "color"},
		"wrong type":   {`{"sets": {"default": {"trigger": "a"}}}`, shortcuts.ErrInvalid, "line 1"},
		"no sets":      {`{}`, shortcuts.ErrInvalid, "sets"},
		"unknown var":  {`{"sets": {"default": [{"trigger": "a", "title": "A", "text": "Olá {{nome_do_cliente}}"}]}}`, shortcuts.ErrUnknownVariable, "nome_do_cliente"},
		"unclosed":     {`{"sets": {"default": [{"trigger": "a", "title": "A", "text": "Olá {{beneficiary_name"}]}}`, shortcuts.ErrSyntax, "not closed"},
		"nested":       {`{"sets": {"default": [{"trigger": "a", "title": "A", "text": "{{ {{protocol}}"}]}}`, shortcuts.ErrSyntax, "not closed"},
		"stray close":  {`{"sets": {"default": [{"trigger": "a", "title": "A", "text": "Olá {beneficiary_name}}"}]}}`, shortcuts.ErrSyntax, "without"},
		"empty var":    {`{"sets": {"default": [{"trigger": "a", "title": "A", "text": "Olá {{ }}"}]}}`, shortcuts.ErrSyntax, "empty"},
		"dup trigger":  {`{"sets": {"default": [{"trigger": "a", "title": "A", "text": "x"}, {"trigger": "a", "title": "B", "text": "y"}]}}`, shortcuts.ErrInvalid, "duplicate"},
		"bad trigger":  {`{"sets": {"default": [{"trigger": "Olá", "title": "A", "text": "x"}]}}`, shortcuts.ErrInvalid, "trigger"},
		"empty text":   {`{"sets": {"default": [{"trigger": "a", "title": "A", "text": "  "}]}}`, shortcuts.ErrInvalid, "text"},
		"no title":     {`{"sets": {"default": [{"trigger": "a", "text": "x"}]}}`, shortcuts.ErrInvalid, "title"},
		"bad set name": {`{"sets": {"a b": []}}`, shortcuts.ErrInvalid, "set names"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := shortcuts.Parse([]byte(tc.data))
			require.Nil(t, c)
			require.ErrorIs(t, err, tc.sentinel)
			require.ErrorContains(t, err, tc.contains)
			var ce *shortcuts.ConfigError
			require.ErrorAs(t, err, &ce)
		})
	}
}

func TestAllProblemsReported(t *testing.T) {
	t.Parallel()
	_, err := shortcuts.Parse([]byte(`{"sets": {"default": [
		{"trigger": "a", "title": "A", "text": "{{foo}}"},
		{"trigger": "b", "title": "B", "text": "{{protocol"},
		{"trigger": "c", "title": "C", "text": "ok {{protocol}}"}
	]}}`))
	require.ErrorIs(t, err, shortcuts.ErrUnknownVariable)
	require.ErrorIs(t, err, shortcuts.ErrSyntax)
	require.ErrorContains(t, err, `shortcut "a"`)
	require.ErrorContains(t, err, `shortcut "b"`)
	require.NotContains(t, err.Error(), `shortcut "c"`)
}

// TestHolderKeepsCatalogOnBadReload: a bad file changes nothing, not even
// the shortcuts in it that were fine.
func TestHolderKeepsCatalogOnBadReload(t *testing.T) {
	t.Parallel()
	h, err := shortcuts.NewHolder(load(t))
	require.NoError(t, err)
	before := h.Catalog()

	err = h.Reload([]byte(`{"sets": {"default": [
		{"trigger": "novo", "title": "Novo", "text": "tudo certo"},
		{"trigger": "ruim", "title": "Ruim", "text": "Olá {{cpf}}"}
	]}}`))
	require.ErrorIs(t, err, shortcuts.ErrUnknownVariable)
	require.Same(t, before, h.Catalog())
	_, err = h.Catalog().Get("default", "novo")
	require.ErrorIs(t, err, shortcuts.ErrUnknownShortcut)

	dir := t.TempDir()
	path := filepath.Join(dir, "atalhos.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"sets": {"default": [{"trigger": "novo", "title": "Novo", "text": "tudo certo"}]}}`), 0o600))
	require.NoError(t, h.ReloadFile(path))
	got, err := h.Catalog().Render("default", "novo", shortcuts.Vars{})
	require.NoError(t, err)
	require.Equal(t, "tudo certo", got)

	require.Error(t, h.ReloadFile(filepath.Join(dir, "missing.json")))
	_, err = shortcuts.NewHolder(nil)
	require.ErrorIs(t, err, attendance.ErrInvalidArgument)
}

func TestHolderConcurrentReads(t *testing.T) {
	t.Parallel()
	h, err := shortcuts.NewHolder(load(t))
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join("testdata", "atalhos.json"))
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := h.Catalog().Render("default", "protocolo", vars); err != nil {
					panic(err)
				}
			}
		})
	}
	for range 20 {
		require.NoError(t, h.Reload(data))
	}
	wg.Wait()
}

func TestConfigErrorMessage(t *testing.T) {
	t.Parallel()
	_, err := shortcuts.Parse([]byte(`{"sets": {"default": [{"trigger": "a", "title": "A", "text": "Olá {{nome}}"}]}}`))
	var ce *shortcuts.ConfigError
	require.True(t, errors.As(err, &ce))
	require.Equal(t, "default", ce.Set)
	require.Equal(t, "a", ce.Trigger)
	require.Contains(t, err.Error(), `shortcuts: unknown variable (set "default", shortcut "a"): {{nome}} at character 5`)
}

func FuzzParse(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("testdata", "atalhos.json"))
	f.Add(data)
	f.Add([]byte(`{"sets": {"default": [{"trigger": "a", "title": "A", "text": "{{protocol}} {{"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := shortcuts.Parse(data)
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned catalog %v and error %v", c != nil, err)
		}
		if c == nil {
			return
		}
		for _, set := range c.Sets() {
			list, err := c.List(set)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range list {
				_, _ = s.Render(vars)
			}
		}
	})
}

// TestRenderShortcutNotFromParse: a Shortcut decoded from JSON (the list a
// host sent to the panel) or built by hand renders like one from the
// catalog, and a bad text is an error, never a blank message.
func TestRenderShortcutNotFromParse(t *testing.T) {
	t.Parallel()
	c := load(t)
	list, err := c.List("default")
	require.NoError(t, err)
	data, err := json.Marshal(list)
	require.NoError(t, err)
	var back []shortcuts.Shortcut
	require.NoError(t, json.Unmarshal(data, &back))
	require.Len(t, back, len(list))
	for i, s := range back {
		want, err := list[i].Render(vars)
		require.NoError(t, err)
		got, err := s.Render(vars)
		require.NoError(t, err, s.Trigger)
		require.Equal(t, want, got, s.Trigger)
		require.Equal(t, list[i].Variables(), s.Variables())
		_, err = s.Render(shortcuts.Vars{})
		require.ErrorIs(t, err, shortcuts.ErrMissingValue, s.Trigger)
	}

	hand := shortcuts.Shortcut{Trigger: "x", Title: "X", Text: "Olá, {{beneficiary_first_name}}!"}
	got, err := hand.Render(vars)
	require.NoError(t, err)
	require.Equal(t, "Olá, Maria!", got)
	require.Equal(t, []string{"beneficiary_first_name"}, hand.Variables())

	// A shortcut from the catalog whose text was changed renders the new text.
	s, err := c.Get("default", "protocolo")
	require.NoError(t, err)
	s.Text = "Anote: {{protocol}}"
	got, err = s.Render(vars)
	require.NoError(t, err)
	require.Equal(t, "Anote: 20260310000123", got)

	for _, tc := range []struct {
		sc       shortcuts.Shortcut
		sentinel error
	}{
		{shortcuts.Shortcut{}, shortcuts.ErrInvalid},
		{shortcuts.Shortcut{Trigger: "x", Text: "   "}, shortcuts.ErrInvalid},
		{shortcuts.Shortcut{Trigger: "x", Text: "a\x00b"}, shortcuts.ErrInvalid},
		{shortcuts.Shortcut{Trigger: "x", Text: strings.Repeat("a", shortcuts.MaxTextBytes+1)}, shortcuts.ErrInvalid},
		{shortcuts.Shortcut{Trigger: "x", Text: "Olá {{nome}}"}, shortcuts.ErrUnknownVariable},
		{shortcuts.Shortcut{Trigger: "x", Text: "Olá {{protocol"}, shortcuts.ErrSyntax},
		{shortcuts.Shortcut{Set: "default", Trigger: "x", Text: "Olá protocol}}"}, shortcuts.ErrSyntax},
	} {
		got, err := tc.sc.Render(vars)
		require.ErrorIs(t, err, tc.sentinel, "%q", tc.sc.Text)
		require.Empty(t, got)
		var ce *shortcuts.ConfigError
		require.ErrorAs(t, err, &ce)
		require.NotEmpty(t, ce.Trigger)
		require.Nil(t, tc.sc.Variables())
	}
}

// TestDuplicateKeysRefused: a key given twice in one object would silently
// replace the first (a whole set, or a text); it is a syntax error.
func TestDuplicateKeysRefused(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		data     string
		contains string
	}{
		"set":  {"{\"sets\": {\n  \"default\": [{\"trigger\": \"a\", \"title\": \"A\", \"text\": \"aaa\"}],\n  \"default\": [{\"trigger\": \"b\", \"title\": \"B\", \"text\": \"bbb\"}]}}", `line 3, column 3, set "default"): duplicate key "default"`},
		"text": {`{"sets": {"default": [{"trigger": "a", "title": "A", "text": "aaa", "text": "bbb"}]}}`, `duplicate key "text"`},
		"case": {`{"sets": {"default": [{"trigger": "a", "title": "A", "Text": "aaa", "text": "bbb"}]}}`, `duplicate key "text"`},
		"sets": {`{"sets": {"default": []}, "SETS": {"x": []}}`, `duplicate key "SETS"`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := shortcuts.Parse([]byte(tc.data))
			require.Nil(t, c)
			require.ErrorIs(t, err, shortcuts.ErrSyntax)
			require.ErrorContains(t, err, tc.contains)
			var ce *shortcuts.ConfigError
			require.ErrorAs(t, err, &ce)
		})
	}

	// Set names differ by case: two sets, not a duplicate; the same key in
	// different objects is no duplicate either.
	c, err := shortcuts.Parse([]byte(`{"sets": {
		"Default": [{"trigger": "a", "title": "A", "text": "aaa"}, {"trigger": "b", "title": "B", "text": "bbb"}],
		"default": [{"trigger": "a", "title": "A", "text": "ccc"}]}}`))
	require.NoError(t, err)
	require.Equal(t, []string{"Default", "default"}, c.Sets())
}

// TestRenderCleansValues: a value is inserted as one line of plain text,
// bounded in length, and never read as a template.
func TestRenderCleansValues(t *testing.T) {
	t.Parallel()
	hand := shortcuts.Shortcut{Trigger: "ola", Text: "Olá, {{beneficiary_name}}! Protocolo {{protocol}}."}
	v := vars
	v.BeneficiaryName = "Maria\n\nATENÇÃO: pague via PIX\tchave 123\u202e\u200b\xff {{protocol}}"
	got, err := hand.Render(v)
	require.NoError(t, err)
	require.Equal(t, "Olá, Maria ATENÇÃO: pague via PIX chave 123 {{protocol}}! Protocolo 20260310000123.", got)

	v.BeneficiaryName = strings.Repeat("é", shortcuts.MaxValueBytes/2)
	_, err = hand.Render(v)
	require.NoError(t, err, "exactly MaxValueBytes")
	v.BeneficiaryName += "a"
	_, err = hand.Render(v)
	require.ErrorIs(t, err, shortcuts.ErrValueTooLong)
	require.ErrorContains(t, err, "beneficiary_name")

	first := shortcuts.Shortcut{Trigger: "oi", Text: "Oi, {{beneficiary_first_name}}"}
	v.BeneficiaryName = "Maria " + strings.Repeat("x", 100000)
	got, err = first.Render(v)
	require.NoError(t, err)
	require.Equal(t, "Oi, Maria", got)

	v.BeneficiaryName = "\u202e\n\u200b "
	_, err = hand.Render(v)
	require.ErrorIs(t, err, shortcuts.ErrMissingValue, "nothing left once cleaned")
}

// The zero Holder serves an empty catalog until a Reload, rather than a nil
// one whose use would panic.
func TestZeroHolderServesAnEmptyCatalog(t *testing.T) {
	var h shortcuts.Holder
	require.NotPanics(t, func() {
		require.Empty(t, h.Catalog().Sets())
		_, err := h.Catalog().Get("default", "x")
		require.Error(t, err)
	})
}
