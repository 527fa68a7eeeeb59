package shortcuts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mosiachat/mosiachat/attendance"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrSyntax: the file is not valid JSON, or a shortcut's text has a
	// template syntax error (an unclosed "{{", an empty "{{}}", a stray
	// "}}").
	ErrSyntax = errors.New("shortcuts: syntax error")
	// ErrUnknownVariable: a text uses a variable that is not one of
	// Variables.
	ErrUnknownVariable = errors.New("shortcuts: unknown variable")
	// ErrInvalid: the file parses but breaks a rule: an unknown field, a
	// missing title or text, a malformed or duplicate trigger, a limit.
	ErrInvalid = errors.New("shortcuts: invalid configuration")
	// ErrUnknownSet: no shortcut set has that name.
	ErrUnknownSet = errors.New("shortcuts: unknown set")
	// ErrUnknownShortcut: the set has no shortcut with that trigger.
	ErrUnknownShortcut = errors.New("shortcuts: unknown shortcut")
	// ErrMissingValue: rendering needs a variable whose value is empty in
	// Vars; nothing is sent with a blank in it.
	ErrMissingValue = errors.New("shortcuts: missing variable value")
	// ErrValueTooLong: rendering needs a variable whose value is longer than
	// MaxValueBytes; nothing is sent with it cut.
	ErrValueTooLong = errors.New("shortcuts: variable value too long")
)

// Limits on a configuration file.
const (
	// MaxFileBytes bounds a configuration file.
	MaxFileBytes = 1 << 20
	// MaxSets bounds the sets in a file.
	MaxSets = 100
	// MaxPerSet bounds the shortcuts in one set.
	MaxPerSet = 500
	// MaxTextBytes bounds one shortcut's text.
	MaxTextBytes = 4096
	// MaxTitleBytes bounds one shortcut's title.
	MaxTitleBytes = 100
	// MaxValueBytes bounds a variable's value as inserted by Render (after
	// control and format characters are removed); a longer one is
	// ErrValueTooLong.
	MaxValueBytes = 256
)

// DefaultSet is the set used by a profile whose Shortcuts field is empty.
const DefaultSet = "default"

// Variables are the names a shortcut's text may use as {{name}}. Each maps to
// a field of [Vars].
var Variables = []string{
	"beneficiary_name",       // Vars.BeneficiaryName
	"beneficiary_first_name", // first word of Vars.BeneficiaryName
	"protocol",               // Vars.Protocol
	"agent_name",             // Vars.AgentName
	"agent_first_name",       // first word of Vars.AgentName
	"subject",                // Vars.Subject
	"plan_name",              // Vars.PlanName
	"card_number",            // Vars.CardNumber
	"date",                   // Vars.Now as 31/12/2025
	"greeting",               // "Bom dia", "Boa tarde" or "Boa noite" by Vars.Now
}

// Vars are the values a shortcut is rendered with. Each value is inserted
// as one line of plain text: control characters (line breaks, tabs...) are
// turned into spaces, Unicode format characters (bidirectional overrides
// such as U+202E, zero-width characters) and invalid UTF-8 are dropped,
// and runs of spaces become one. A value a shortcut uses that is then empty
// is ErrMissingValue at render time, one longer than MaxValueBytes
// ErrValueTooLong. A value is never read as a template: "{{protocol}}" in a
// name is inserted as written.
type Vars struct {
	BeneficiaryName string
	Protocol        string
	AgentName       string
	Subject         string
	PlanName        string
	CardNumber      string
	// Now gives {{date}} and {{greeting}}, in its own location: the host
	// passes the local time of the operation (e.g. America/Sao_Paulo).
	Now time.Time
}

func (v Vars) lookup(name string) string {
	switch name {
	case "beneficiary_name":
		return cleanValue(v.BeneficiaryName)
	case "beneficiary_first_name":
		return firstWord(cleanValue(v.BeneficiaryName))
	case "protocol":
		return cleanValue(v.Protocol)
	case "agent_name":
		return cleanValue(v.AgentName)
	case "agent_first_name":
		return firstWord(cleanValue(v.AgentName))
	case "subject":
		return cleanValue(v.Subject)
	case "plan_name":
		return cleanValue(v.PlanName)
	case "card_number":
		return cleanValue(v.CardNumber)
	case "date":
		if v.Now.IsZero() {
			return ""
		}
		return v.Now.Format("02/01/2006")
	case "greeting":
		if v.Now.IsZero() {
			return ""
		}
		switch h := v.Now.Hour(); {
		case h >= 5 && h < 12:
			return "Bom dia"
		case h >= 12 && h < 18:
			return "Boa tarde"
		default:
			return "Boa noite"
		}
	}
	return ""
}

// cleanValue makes a variable's value one line of plain text: control
// characters become spaces, format characters (Unicode category Cf: bidi
// overrides, zero-width characters) and invalid UTF-8 are dropped, and
// spaces are collapsed and trimmed.
func cleanValue(s string) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch {
		case r == utf8.RuneError && size == 1: // invalid UTF-8: dropped
		case unicode.IsControl(r):
			sb.WriteByte(' ')
		case unicode.Is(unicode.Cf, r): // dropped
		default:
			sb.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(sb.String()), " ")
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// Shortcut is one canned reply.
type Shortcut struct {
	// Set is the name of the set it belongs to.
	Set string `json:"set"`
	// Trigger is what the agent types after "/": 1 to 32 of a-z, 0-9, '-'
	// and '_'.
	Trigger string `json:"trigger"`
	// Title is shown in the shortcut list.
	Title string `json:"title"`
	// Text is the template, with {{variable}} placeholders.
	Text string `json:"text"`

	// parts is Text compiled, and src the Text it was compiled from; a
	// Shortcut not built by Parse (built by hand, or decoded from JSON) or
	// whose Text was changed is compiled when rendered.
	parts []part
	src   string
}

// part is a literal run of text or, when variable is set, a placeholder.
type part struct {
	literal  string
	variable string
}

// compiled returns the parts of s.Text: those Parse compiled, or, for a
// Shortcut that Parse did not build (or whose Text changed since), Text
// checked and compiled as Parse would, or the *ConfigError Parse would have
// reported.
func (s Shortcut) compiled() ([]part, error) {
	if s.parts != nil && s.src == s.Text {
		return s.parts, nil
	}
	trig := s.Trigger
	if trig == "" {
		trig = "(no trigger)"
	}
	if !validText(s.Text) {
		return nil, &ConfigError{Set: s.Set, Trigger: trig, Err: ErrInvalid, Detail: fmt.Sprintf("text must be 1-%d bytes of text", MaxTextBytes)}
	}
	parts, err := compile(s.Text)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.Set, ce.Trigger = s.Set, trig
		}
		return nil, err
	}
	return parts, nil
}

// Variables returns the variables the shortcut's text uses, each once, in
// order of first use; nil if the text is not a valid template.
func (s Shortcut) Variables() []string {
	parts, err := s.compiled()
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range parts {
		if p.variable != "" && !slices.Contains(out, p.variable) {
			out = append(out, p.variable)
		}
	}
	return out
}

// Render fills the text's placeholders from v (see [Vars] for how values
// are cleaned). A variable whose value is empty is an error matching
// ErrMissingValue that names it, one whose value is longer than
// MaxValueBytes an error matching ErrValueTooLong; the text is not sent with
// a blank or a cut value.
//
// A Shortcut need not come from Parse: one built by hand or decoded from
// JSON (the list a host sent to the panel, sent back) is checked and
// compiled as Parse would, and a text Parse would refuse is a *ConfigError
// matching ErrSyntax, ErrUnknownVariable or ErrInvalid. Render never
// returns an empty text without an error.
func (s Shortcut) Render(v Vars) (string, error) {
	parts, err := s.compiled()
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	var missing, tooLong []string
	for _, p := range parts {
		if p.variable == "" {
			sb.WriteString(p.literal)
			continue
		}
		val := v.lookup(p.variable)
		switch {
		case val == "":
			if !slices.Contains(missing, p.variable) {
				missing = append(missing, p.variable)
			}
			continue
		case len(val) > MaxValueBytes:
			if !slices.Contains(tooLong, p.variable) {
				tooLong = append(tooLong, p.variable)
			}
			continue
		}
		sb.WriteString(val)
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: shortcut %q needs %s", ErrMissingValue, s.Trigger, strings.Join(missing, ", "))
	}
	if len(tooLong) > 0 {
		return "", fmt.Errorf("%w: shortcut %q: %s longer than %d bytes", ErrValueTooLong, s.Trigger, strings.Join(tooLong, ", "), MaxValueBytes)
	}
	return sb.String(), nil
}

// Catalog is a loaded, validated configuration: shortcut sets by name. It is
// immutable and safe for concurrent use.
type Catalog struct {
	sets map[string][]Shortcut // each sorted by trigger
}

// ConfigError is one problem in a configuration file. It unwraps to one of
// ErrSyntax, ErrUnknownVariable or ErrInvalid.
type ConfigError struct {
	// Set and Trigger locate the shortcut, when the problem is in one.
	Set, Trigger string
	// Line and Column locate a JSON syntax error (1-based), when known.
	Line, Column int
	// Err is the sentinel.
	Err error
	// Detail says what is wrong.
	Detail string
}

// Error says what is wrong and where.
func (e *ConfigError) Error() string {
	var where []string
	if e.Line > 0 {
		where = append(where, fmt.Sprintf("line %d, column %d", e.Line, e.Column))
	}
	if e.Set != "" {
		where = append(where, fmt.Sprintf("set %q", e.Set))
	}
	if e.Trigger != "" {
		where = append(where, fmt.Sprintf("shortcut %q", e.Trigger))
	}
	msg := e.Err.Error()
	if len(where) > 0 {
		msg += " (" + strings.Join(where, ", ") + ")"
	}
	return msg + ": " + e.Detail
}

// Unwrap returns the sentinel.
func (e *ConfigError) Unwrap() error { return e.Err }

// file is the JSON layout:
//
//	{"sets": {"default": [{"trigger": "ola", "title": "Saudação", "text": "..."}]}}
type file struct {
	Sets map[string][]entry `json:"sets"`
}

type entry struct {
	Trigger string `json:"trigger"`
	Title   string `json:"title"`
	Text    string `json:"text"`
}

var (
	triggerPattern = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)
	setPattern     = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// Parse reads a configuration (see the package documentation for the
// format) and validates all of it: JSON syntax, unknown fields, triggers,
// limits and every template. On any problem it returns nil and an error
// joining every *ConfigError found (errors.Is works on it), so a
// configurator sees all mistakes at once and nothing is half-applied.
func Parse(data []byte) (*Catalog, error) {
	if len(data) > MaxFileBytes {
		return nil, &ConfigError{Err: ErrInvalid, Detail: fmt.Sprintf("file is %d bytes, at most %d", len(data), MaxFileBytes)}
	}
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, jsonError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &ConfigError{Err: ErrSyntax, Detail: "data after the JSON object"}
	}
	if errs := duplicateKeys(data); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if f.Sets == nil {
		return nil, &ConfigError{Err: ErrInvalid, Detail: `missing "sets"`}
	}
	if len(f.Sets) > MaxSets {
		return nil, &ConfigError{Err: ErrInvalid, Detail: fmt.Sprintf("%d sets, at most %d", len(f.Sets), MaxSets)}
	}

	var errs []error
	cat := &Catalog{sets: make(map[string][]Shortcut, len(f.Sets))}
	names := make([]string, 0, len(f.Sets))
	for name := range f.Sets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		entries := f.Sets[name]
		if !setPattern.MatchString(name) {
			errs = append(errs, &ConfigError{Set: name, Err: ErrInvalid, Detail: "set names are 1-64 of A-Z a-z 0-9 _ . -"})
			continue
		}
		if len(entries) > MaxPerSet {
			errs = append(errs, &ConfigError{Set: name, Err: ErrInvalid, Detail: fmt.Sprintf("%d shortcuts, at most %d", len(entries), MaxPerSet)})
			continue
		}
		seen := make(map[string]bool, len(entries))
		list := make([]Shortcut, 0, len(entries))
		for i, e := range entries {
			sc := Shortcut{Set: name, Trigger: e.Trigger, Title: strings.TrimSpace(e.Title), Text: e.Text}
			fail := func(sentinel error, format string, args ...any) {
				trig := e.Trigger
				if trig == "" {
					trig = fmt.Sprintf("#%d", i+1)
				}
				errs = append(errs, &ConfigError{Set: name, Trigger: trig, Err: sentinel, Detail: fmt.Sprintf(format, args...)})
			}
			switch {
			case !triggerPattern.MatchString(e.Trigger):
				fail(ErrInvalid, "trigger must be 1-32 of a-z 0-9 _ -")
				continue
			case seen[e.Trigger]:
				fail(ErrInvalid, "duplicate trigger")
				continue
			case sc.Title == "" || len(sc.Title) > MaxTitleBytes || !utf8.ValidString(sc.Title) || hasControl(sc.Title, false):
				fail(ErrInvalid, "title must be 1-%d bytes of text on one line", MaxTitleBytes)
				continue
			case !validText(e.Text):
				fail(ErrInvalid, "text must be 1-%d bytes of text", MaxTextBytes)
				continue
			}
			seen[e.Trigger] = true
			parts, err := compile(e.Text)
			if err != nil {
				var ce *ConfigError
				if errors.As(err, &ce) {
					fail(ce.Err, "%s", ce.Detail)
				}
				continue
			}
			sc.parts, sc.src = parts, sc.Text
			list = append(list, sc)
		}
		sort.Slice(list, func(a, b int) bool { return list[a].Trigger < list[b].Trigger })
		cat.sets[name] = list
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cat, nil
}

// LoadFile reads and parses a configuration file; see Parse.
func LoadFile(path string) (*Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("shortcuts: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("shortcuts: reading %s: %w", path, err)
	}
	return Parse(data)
}

// validText reports whether text is a shortcut text Parse accepts before
// compiling it: 1 to MaxTextBytes of UTF-8, not blank, no control character
// but line breaks and tabs.
func validText(text string) bool {
	return strings.TrimSpace(text) != "" && len(text) <= MaxTextBytes && utf8.ValidString(text) && !hasControl(text, true)
}

func hasControl(s string, multiline bool) bool {
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

// keyFrame is an open JSON container, for duplicateKeys.
type keyFrame struct {
	object  bool
	setsMap bool   // the object of set names, whose keys are compared exactly
	wantKey bool   // an object expecting a key (or its end) next
	lastKey string // the key of the value being read, folded
	keys    map[string]bool
}

// duplicateKeys returns an ErrSyntax *ConfigError for every object key that
// repeats an earlier key of the same object, which encoding/json would let
// silently replace the first (a whole set, or a shortcut's text). Keys of
// the structs (the top object and each shortcut) are compared the way
// encoding/json matches them to fields, case-insensitively; set names are
// compared exactly. data must be valid JSON.
func duplicateKeys(data []byte) []error {
	var errs []error
	var stack []*keyFrame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return errs // io.EOF; any other error was reported by the decode
		}
		var top *keyFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.wantKey {
			key, isKey := tok.(string)
			if !isKey { // the object's '}'
				stack = stack[:len(stack)-1]
				valueDone()
				continue
			}
			norm := key
			if !top.setsMap {
				norm = foldKey(key)
			}
			if top.keys[norm] {
				line, col := position(data, keyStart(data, before))
				ce := &ConfigError{Err: ErrSyntax, Line: line, Column: col, Detail: fmt.Sprintf("duplicate key %q", key)}
				if top.setsMap {
					ce.Set = key
				}
				errs = append(errs, ce)
			}
			top.keys[norm] = true
			top.lastKey, top.wantKey = norm, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			sets := len(stack) == 1 && top.object && top.lastKey == foldKey("sets")
			stack = append(stack, &keyFrame{object: true, setsMap: sets, wantKey: true, keys: map[string]bool{}})
		case json.Delim('['):
			stack = append(stack, &keyFrame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// foldKey folds a JSON object key as encoding/json does when it matches
// keys to struct fields (its foldName): two keys match the same field if
// and only if they fold to the same string.
func foldKey(key string) string {
	var sb strings.Builder
	for _, r := range key {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			sb.WriteRune(r)
			continue
		}
		sb.WriteRune(unicode.ToUpper(unicode.ToLower(r)))
	}
	return sb.String()
}

// keyStart returns the offset of the key that follows offset in data,
// skipping the blanks and comma before it.
func keyStart(data []byte, offset int64) int64 {
	for offset < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[offset]) >= 0 {
		offset++
	}
	return offset
}

// jsonError turns a decoding error into a *ConfigError with a position.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	ce := &ConfigError{Err: ErrSyntax, Detail: err.Error()}
	switch {
	case errors.As(err, &syn):
		ce.Line, ce.Column = position(data, syn.Offset)
	case errors.As(err, &typ):
		ce.Err = ErrInvalid
		ce.Line, ce.Column = position(data, typ.Offset)
		ce.Detail = fmt.Sprintf("%s must be a %s", typ.Field, typ.Type)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		ce.Detail = "unexpected end of file"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		ce.Err = ErrInvalid
		ce.Detail = strings.TrimPrefix(err.Error(), "json: ")
	}
	return ce
}

func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	line, col = 1, 1
	for _, b := range data[:offset] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

var variableSet = func() map[string]bool {
	m := make(map[string]bool, len(Variables))
	for _, v := range Variables {
		m[v] = true
	}
	return m
}()

// compile splits a template into literal text and {{variable}} parts.
// "{{ name }}" may have spaces inside the braces. A single "{" or "}" is
// literal text.
func compile(text string) ([]part, error) {
	var parts []part
	rest := text
	pos := 0 // byte offset of rest in text, for messages
	col := func(off int) int { return utf8.RuneCountInString(text[:off]) + 1 }
	for rest != "" {
		open := strings.Index(rest, "{{")
		closeIdx := strings.Index(rest, "}}")
		if closeIdx >= 0 && (open < 0 || closeIdx < open) {
			return nil, &ConfigError{Err: ErrSyntax, Detail: fmt.Sprintf(`"}}" without "{{" at character %d`, col(pos+closeIdx))}
		}
		if open < 0 {
			parts = append(parts, part{literal: rest})
			break
		}
		if open > 0 {
			parts = append(parts, part{literal: rest[:open]})
		}
		after := rest[open+2:]
		end := strings.Index(after, "}}")
		if end < 0 {
			return nil, &ConfigError{Err: ErrSyntax, Detail: fmt.Sprintf(`"{{" at character %d is not closed`, col(pos+open))}
		}
		inner := after[:end]
		if strings.Contains(inner, "{{") {
			return nil, &ConfigError{Err: ErrSyntax, Detail: fmt.Sprintf(`"{{" at character %d is not closed before the next "{{"`, col(pos+open))}
		}
		name := strings.TrimSpace(inner)
		if name == "" {
			return nil, &ConfigError{Err: ErrSyntax, Detail: fmt.Sprintf(`empty "{{}}" at character %d`, col(pos+open))}
		}
		if !variableSet[name] {
			return nil, &ConfigError{Err: ErrUnknownVariable, Detail: fmt.Sprintf("{{%s}} at character %d; known: %s", name, col(pos+open), strings.Join(Variables, ", "))}
		}
		parts = append(parts, part{variable: name})
		consumed := open + 2 + end + 2
		rest = rest[consumed:]
		pos += consumed
	}
	return parts, nil
}

// Sets returns the names of the sets, sorted.
func (c *Catalog) Sets() []string {
	out := make([]string, 0, len(c.sets))
	for name := range c.sets {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// List returns a set's shortcuts sorted by trigger, or ErrUnknownSet.
func (c *Catalog) List(set string) ([]Shortcut, error) {
	list, ok := c.sets[set]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSet, set)
	}
	return slices.Clone(list), nil
}

// SetFor returns the name of the set a profile uses: its Shortcuts field,
// or DefaultSet when that is empty.
func SetFor(p attendance.Profile) string {
	if p.Shortcuts == "" {
		return DefaultSet
	}
	return p.Shortcuts
}

// ForProfile returns the shortcuts of the profile's set (see SetFor).
func (c *Catalog) ForProfile(p attendance.Profile) ([]Shortcut, error) {
	return c.List(SetFor(p))
}

// Search returns a set's shortcuts whose trigger starts with the prefix the
// agent typed, sorted by trigger. The input is what follows in the text area:
// "/sau" or "sau"; "/" alone lists them all. Case does not matter.
func (c *Catalog) Search(set, input string) ([]Shortcut, error) {
	list, ok := c.sets[set]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSet, set)
	}
	prefix := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(input), "/"))
	var out []Shortcut
	for _, s := range list {
		if strings.HasPrefix(s.Trigger, prefix) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Get returns one shortcut, or ErrUnknownSet / ErrUnknownShortcut.
func (c *Catalog) Get(set, trigger string) (Shortcut, error) {
	list, ok := c.sets[set]
	if !ok {
		return Shortcut{}, fmt.Errorf("%w: %q", ErrUnknownSet, set)
	}
	trigger = strings.ToLower(strings.TrimPrefix(trigger, "/"))
	i, found := sort.Find(len(list), func(i int) int { return strings.Compare(trigger, list[i].Trigger) })
	if !found {
		return Shortcut{}, fmt.Errorf("%w: %q in set %q", ErrUnknownShortcut, trigger, set)
	}
	return list[i], nil
}

// Render looks a shortcut up and renders it; see Shortcut.Render.
func (c *Catalog) Render(set, trigger string, v Vars) (string, error) {
	s, err := c.Get(set, trigger)
	if err != nil {
		return "", err
	}
	return s.Render(v)
}

// Holder holds the current Catalog and replaces it only when a new
// configuration is entirely valid, so a bad file published by the
// configurator never takes effect, not even in part. Safe for concurrent
// use.
type Holder struct {
	cur atomic.Pointer[Catalog]
}

// NewHolder returns a Holder serving c. c must not be nil.
func NewHolder(c *Catalog) (*Holder, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: shortcuts: NewHolder needs a Catalog", attendance.ErrInvalidArgument)
	}
	h := &Holder{}
	h.cur.Store(c)
	return h, nil
}

// Catalog returns the current catalog. The zero Holder serves an empty
// one until a Reload.
func (h *Holder) Catalog() *Catalog {
	if c := h.cur.Load(); c != nil {
		return c
	}
	return &Catalog{}
}

// Reload parses data and, only if it is valid, makes it current. On error
// the current catalog stays.
func (h *Holder) Reload(data []byte) error {
	c, err := Parse(data)
	if err != nil {
		return err
	}
	h.cur.Store(c)
	return nil
}

// ReloadFile is Reload with the contents of a file.
func (h *Holder) ReloadFile(path string) error {
	c, err := LoadFile(path)
	if err != nil {
		return err
	}
	h.cur.Store(c)
	return nil
}
