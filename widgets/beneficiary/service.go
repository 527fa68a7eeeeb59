package beneficiary

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets"
)

// MaxCommentBytes bounds a comment an agent adds to an occurrence.
const MaxCommentBytes = 4000

// Errors of the host's sources, as the Service reports them.
var (
	// ErrSourceMismatch: a host source answered about someone or something
	// other than what it was asked for (the Directory returned another
	// beneficiary, AddComment or SetStatus another occurrence). What it
	// returned is dropped, never shown; the host's source has a bug.
	ErrSourceMismatch = errors.New("beneficiary: source returned other data than asked for")
	// ErrSourcePanic: a host source (Directory, Occurrences, or a Journey's
	// sources) panicked; the error is a *SourcePanicError.
	ErrSourcePanic = errors.New("beneficiary: source panicked")
)

// SourcePanicError is a host source's panic, recovered. errors.Is(err,
// ErrSourcePanic) holds for it. Its message does not include the panic
// value, which may carry beneficiary data; the value and the stack are
// fields for the host to inspect.
type SourcePanicError struct {
	// Source names the call, e.g. "Directory.Beneficiary".
	Source string
	// Value is what the source passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Error names the call, not the panic value.
func (e *SourcePanicError) Error() string {
	return fmt.Sprintf("beneficiary: %s panicked", e.Source)
}

// Is makes errors.Is(err, ErrSourcePanic) true.
func (e *SourcePanicError) Is(target error) bool { return target == ErrSourcePanic }

// guard calls f, turning a panic into a *SourcePanicError.
func guard[T any](source string, f func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, err = zero, &SourcePanicError{Source: source, Value: p, Stack: debug.Stack()}
		}
	}()
	return f()
}

// Config tunes a [Service]. A nil *Config is the same as the zero Config.
type Config struct {
	// RevealCPF says whether a viewer may see a beneficiary's full CPF
	// (Beneficiary.CPFRevealed). Defaults to never: everyone sees it masked.
	RevealCPF func(viewer attendance.Principal) bool
	// Now stamps comments and status changes. Defaults to time.Now.
	Now func() time.Time
	// Logger receives one line per write (occurrence ID, principal, new
	// status), never comment text or CPFs. Defaults to discarding.
	Logger *slog.Logger
}

// Service is what the panel calls for the side area of a conversation:
// beneficiary data, occurrences and journey. Every call names the
// conversation being served and is authorized like widgets.Registry.Fetch:
// only a supervisor or the agent to whom the conversation is offered or
// assigned; writes (comments, status changes) need the conversation active
// with that agent, or a supervisor. Whatever is read is the conversation's
// beneficiary's, never anyone else's: what a host source returns about
// someone else is dropped (ErrSourceMismatch, or attendance.ErrNotFound
// for another beneficiary's occurrence). A panic in a host source is
// recovered and returned as a *SourcePanicError (logged with its stack,
// never its value); the Service sets no timeouts of its own, so sources
// must honour ctx.
//
// Safe for concurrent use.
type Service struct {
	access  widgets.Access
	dir     Directory
	occ     Occurrences
	journey *Journey
	reveal  func(attendance.Principal) bool
	now     func() time.Time
	log     *slog.Logger
}

// New returns a Service. access, dir, occ and journey are required; cfg may
// be nil.
func New(access widgets.Access, dir Directory, occ Occurrences, journey *Journey, cfg *Config) (*Service, error) {
	if access == nil || dir == nil || occ == nil || journey == nil {
		return nil, fmt.Errorf("%w: beneficiary: New needs an Access, a Directory, Occurrences and a Journey", attendance.ErrInvalidArgument)
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	s := &Service{access: access, dir: dir, occ: occ, journey: journey, reveal: c.RevealCPF, now: c.Now, log: c.Logger}
	if s.reveal == nil {
		s.reveal = func(attendance.Principal) bool { return false }
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

func (s *Service) authorizeWrite(ctx context.Context, p attendance.Principal, conversationID string) (attendance.Conversation, error) {
	conv, err := widgets.Authorize(ctx, s.access, p, conversationID)
	if err != nil {
		return conv, err
	}
	if p.Role == attendance.RoleAgent && conv.State != attendance.StateActive {
		return attendance.Conversation{}, fmt.Errorf("beneficiary: conversation %q is %s, not active with %q: %w", conversationID, conv.State, p.ID, attendance.ErrForbidden)
	}
	return conv, nil
}

// Beneficiary returns the data of the conversation's beneficiary (Dados do
// cliente), with the CPF masked unless Config.RevealCPF allows p. If the
// Directory returns a beneficiary with another ID, the error matches
// ErrSourceMismatch and nothing of it is returned.
func (s *Service) Beneficiary(ctx context.Context, p attendance.Principal, conversationID string) (Beneficiary, error) {
	conv, err := widgets.Authorize(ctx, s.access, p, conversationID)
	if err != nil {
		return Beneficiary{}, err
	}
	b, err := guard("Directory.Beneficiary", func() (Beneficiary, error) { return s.dir.Beneficiary(ctx, conv.BeneficiaryID) })
	if err != nil {
		s.logPanic(ctx, err)
		return Beneficiary{}, fmt.Errorf("beneficiary: directory: %w", err)
	}
	if b.ID != conv.BeneficiaryID {
		return Beneficiary{}, fmt.Errorf("beneficiary: directory returned a beneficiary other than %q, the conversation's: %w", conv.BeneficiaryID, ErrSourceMismatch)
	}
	b.CPFRevealed = ""
	if b.CPF != "" && s.reveal(p) {
		b.CPFRevealed = b.CPF.Reveal()
	}
	return b, nil
}

// Occurrences lists the occurrences of the conversation's beneficiary,
// newest first; statuses, if given, filter them.
func (s *Service) Occurrences(ctx context.Context, p attendance.Principal, conversationID string, statuses ...OccurrenceStatus) ([]Occurrence, error) {
	conv, err := widgets.Authorize(ctx, s.access, p, conversationID)
	if err != nil {
		return nil, err
	}
	for _, st := range statuses {
		if !st.Valid() {
			return nil, fmt.Errorf("%w: beneficiary: unknown occurrence status %q", attendance.ErrInvalidArgument, st)
		}
	}
	list, err := guard("Occurrences.ListOccurrences", func() ([]Occurrence, error) {
		return s.occ.ListOccurrences(ctx, ListOccurrencesFilter{BeneficiaryID: conv.BeneficiaryID, Statuses: statuses})
	})
	if err != nil {
		s.logPanic(ctx, err)
		return nil, fmt.Errorf("beneficiary: occurrences: %w", err)
	}
	out := list[:0:0]
	for _, o := range list {
		if o.BeneficiaryID == conv.BeneficiaryID {
			out = append(out, o)
		}
	}
	return out, nil
}

// Occurrence returns one occurrence of the conversation's beneficiary. An
// occurrence of someone else is attendance.ErrNotFound, as if it did not
// exist.
func (s *Service) Occurrence(ctx context.Context, p attendance.Principal, conversationID, occurrenceID string) (Occurrence, error) {
	conv, err := widgets.Authorize(ctx, s.access, p, conversationID)
	if err != nil {
		return Occurrence{}, err
	}
	return s.ownOccurrence(ctx, conv, occurrenceID)
}

func (s *Service) ownOccurrence(ctx context.Context, conv attendance.Conversation, occurrenceID string) (Occurrence, error) {
	if occurrenceID == "" {
		return Occurrence{}, fmt.Errorf("%w: beneficiary: empty occurrence ID", attendance.ErrInvalidArgument)
	}
	o, err := guard("Occurrences.GetOccurrence", func() (Occurrence, error) { return s.occ.GetOccurrence(ctx, occurrenceID) })
	if err != nil {
		s.logPanic(ctx, err)
		return Occurrence{}, fmt.Errorf("beneficiary: occurrence %q: %w", occurrenceID, err)
	}
	if o.BeneficiaryID != conv.BeneficiaryID {
		return Occurrence{}, fmt.Errorf("beneficiary: occurrence %q: %w", occurrenceID, attendance.ErrNotFound)
	}
	return o, nil
}

// CommentOccurrence adds p's comment to an occurrence of the conversation's
// beneficiary. The text must be 1 to MaxCommentBytes of UTF-8
// (attendance.ErrInvalidArgument otherwise); it is never logged.
func (s *Service) CommentOccurrence(ctx context.Context, p attendance.Principal, conversationID, occurrenceID, text string) (Occurrence, error) {
	if strings.TrimSpace(text) == "" || len(text) > MaxCommentBytes || !utf8.ValidString(text) {
		return Occurrence{}, fmt.Errorf("%w: beneficiary: a comment is 1 to %d bytes of UTF-8 text", attendance.ErrInvalidArgument, MaxCommentBytes)
	}
	conv, err := s.authorizeWrite(ctx, p, conversationID)
	if err != nil {
		return Occurrence{}, err
	}
	if _, err := s.ownOccurrence(ctx, conv, occurrenceID); err != nil {
		return Occurrence{}, err
	}
	o, err := guard("Occurrences.AddComment", func() (Occurrence, error) {
		return s.occ.AddComment(ctx, AddCommentParams{OccurrenceID: occurrenceID, Author: p, Text: text, At: s.now()})
	})
	if err != nil {
		s.logPanic(ctx, err)
		return Occurrence{}, fmt.Errorf("beneficiary: commenting occurrence %q: %w", occurrenceID, err)
	}
	if err := sameOccurrence(o, occurrenceID, conv.BeneficiaryID); err != nil {
		return Occurrence{}, fmt.Errorf("beneficiary: commenting occurrence %q: %w", occurrenceID, err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "beneficiary: occurrence commented",
		slog.String("occurrence", occurrenceID), slog.String("conversation", conversationID),
		slog.String("role", string(p.Role)), slog.String("principal", p.ID))
	return o, nil
}

// SetOccurrenceStatus moves an occurrence of the conversation's beneficiary
// from the status the agent saw (from; empty to skip the check) to another,
// with an optional note. A status that changed meanwhile is
// attendance.ErrConflict; the platform's refusal is wrapped.
func (s *Service) SetOccurrenceStatus(ctx context.Context, p attendance.Principal, conversationID, occurrenceID string, from, to OccurrenceStatus, note string) (Occurrence, error) {
	if !to.Valid() || (from != "" && !from.Valid()) {
		return Occurrence{}, fmt.Errorf("%w: beneficiary: unknown occurrence status", attendance.ErrInvalidArgument)
	}
	if len(note) > MaxCommentBytes || !utf8.ValidString(note) {
		return Occurrence{}, fmt.Errorf("%w: beneficiary: a note is at most %d bytes of UTF-8 text", attendance.ErrInvalidArgument, MaxCommentBytes)
	}
	conv, err := s.authorizeWrite(ctx, p, conversationID)
	if err != nil {
		return Occurrence{}, err
	}
	if _, err := s.ownOccurrence(ctx, conv, occurrenceID); err != nil {
		return Occurrence{}, err
	}
	o, err := guard("Occurrences.SetStatus", func() (Occurrence, error) {
		return s.occ.SetStatus(ctx, SetStatusParams{OccurrenceID: occurrenceID, From: from, To: to, Author: p, Note: note, At: s.now()})
	})
	if err != nil {
		s.logPanic(ctx, err)
		return Occurrence{}, fmt.Errorf("beneficiary: changing occurrence %q: %w", occurrenceID, err)
	}
	if err := sameOccurrence(o, occurrenceID, conv.BeneficiaryID); err != nil {
		return Occurrence{}, fmt.Errorf("beneficiary: changing occurrence %q: %w", occurrenceID, err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "beneficiary: occurrence status changed",
		slog.String("occurrence", occurrenceID), slog.String("conversation", conversationID),
		slog.String("role", string(p.Role)), slog.String("principal", p.ID), slog.String("status", string(to)))
	return o, nil
}

// Journey returns a page of the journey of the conversation's beneficiary,
// newest first; pageToken is empty for the first page. A token from another
// beneficiary's journey, or altered, is ErrInvalidPageToken.
func (s *Service) Journey(ctx context.Context, p attendance.Principal, conversationID, pageToken string, limit int) (JourneyPage, error) {
	conv, err := widgets.Authorize(ctx, s.access, p, conversationID)
	if err != nil {
		return JourneyPage{}, err
	}
	page, err := s.journey.Page(ctx, JourneyQuery{BeneficiaryID: conv.BeneficiaryID, PageToken: pageToken, Limit: limit})
	s.logPanic(ctx, err)
	return page, err
}

// sameOccurrence returns an error matching ErrSourceMismatch unless o is the
// occurrence asked for, of the conversation's beneficiary.
func sameOccurrence(o Occurrence, occurrenceID, beneficiaryID string) error {
	if o.ID != occurrenceID || o.BeneficiaryID != beneficiaryID {
		return fmt.Errorf("the platform returned another occurrence: %w", ErrSourceMismatch)
	}
	return nil
}

// logPanic logs a source's recovered panic, with its stack but not its
// value; other errors (and nil) are not logged.
func (s *Service) logPanic(ctx context.Context, err error) {
	var pe *SourcePanicError
	if errors.As(err, &pe) {
		s.log.LogAttrs(ctx, slog.LevelError, "beneficiary: host source panicked",
			slog.String("source", pe.Source), slog.String("stack", string(pe.Stack)))
	}
}
