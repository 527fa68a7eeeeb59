package beneficiary

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mosiachat/mosiachat/attendance"
)

// ErrInvalidPageToken: a journey page token that this journey did not issue
// for this beneficiary, or that was altered. The error is a
// *PageTokenError.
var ErrInvalidPageToken = errors.New("beneficiary: invalid page token")

// PageTokenError is a rejected page token. errors.Is(err,
// ErrInvalidPageToken) holds for it.
type PageTokenError struct {
	// Reason says why, without echoing the token.
	Reason string
}

// Error says why the token was rejected.
func (e *PageTokenError) Error() string { return "beneficiary: invalid page token: " + e.Reason }

// Is makes errors.Is(err, ErrInvalidPageToken) true.
func (e *PageTokenError) Is(target error) bool { return target == ErrInvalidPageToken }

// EntryKind says what a journey entry records.
type EntryKind string

const (
	// EntryConversation: a chat conversation was opened.
	EntryConversation EntryKind = "conversation"
	// EntryConversationEvent: a step in a conversation (accepted,
	// transferred, finalized, abandoned).
	EntryConversationEvent EntryKind = "conversation_event"
	// EntryOccurrence: an occurrence was opened.
	EntryOccurrence EntryKind = "occurrence"
	// EntryOccurrenceComment: a comment on an occurrence.
	EntryOccurrenceComment EntryKind = "occurrence_comment"
	// EntryOccurrenceStatus: an occurrence changed status.
	EntryOccurrenceStatus EntryKind = "occurrence_status"
	// EntryEvent: an event from the host's EventLister.
	EntryEvent EntryKind = "event"
)

// Entry is one line of the beneficiary's journey (Perfil do usuário / Aba de
// Contatos). Its Detail may be an agent's internal note; see [Journey].
type Entry struct {
	Kind EntryKind `json:"kind"`
	// ID is unique in the journey and stable across calls, at most
	// MaxEntryIDBytes. It is built from the source's IDs ("event/" and the
	// event's ID, ...); one that would be longer is cut and ends in a hash
	// of the whole, so it stays unique.
	ID string `json:"id"`
	// At is when it happened; the zero time when the source did not say
	// (such entries come last). A conversation's step is never before the
	// conversation's creation: a step stamped earlier (a clock behind, or no
	// time) shows the creation time.
	At time.Time `json:"at"`
	// Title is a one-line pt-BR summary.
	Title string `json:"title"`
	// Detail is optional longer text (a note, a comment).
	Detail  string `json:"detail,omitempty"`
	Channel string `json:"channel,omitempty"`
	// ConversationID and Protocol are set for conversation entries.
	ConversationID string `json:"conversation_id,omitempty"`
	Protocol       string `json:"protocol,omitempty"`
	// OccurrenceID is set for occurrence entries.
	OccurrenceID string `json:"occurrence_id,omitempty"`
}

// JourneyPage is one page of a journey, newest first.
type JourneyPage struct {
	Entries []Entry `json:"entries"`
	// NextPageToken fetches the next (older) page; empty on the last page.
	NextPageToken string `json:"next_page_token,omitempty"`
}

// JourneyQuery are the arguments of Journey.Page.
type JourneyQuery struct {
	// BeneficiaryID is required.
	BeneficiaryID string
	// PageToken is empty for the first page, or a NextPageToken this
	// journey returned for the same beneficiary.
	PageToken string
	// Limit is the page size; 0 means JourneyConfig.PageSize, and anything
	// above JourneyConfig.MaxPageSize is cut to it.
	Limit int
}

// Journey defaults and limits.
const (
	// MaxEntryIDBytes bounds Entry.ID, so that a page token, which holds
	// the ID of the last entry of its page, stays short.
	MaxEntryIDBytes = 256
	// DefaultPageSize is the journey page size when none is asked for.
	DefaultPageSize = 20
	// DefaultMaxPageSize caps the page size asked for.
	DefaultMaxPageSize = 100
)

// JourneyConfig tunes a [Journey]. A nil *JourneyConfig is the same as the
// zero one.
type JourneyConfig struct {
	// TokenKey signs page tokens (HMAC-SHA256), at least 16 bytes. Several
	// nodes serving the same panel, or tokens that must survive a restart,
	// need the same key everywhere. Defaults to 32 random bytes chosen by
	// NewJourney, so tokens are valid only in this process.
	TokenKey []byte
	// PageSize is the default page size. Defaults to 20.
	PageSize int
	// MaxPageSize caps JourneyQuery.Limit. Defaults to 100.
	MaxPageSize int
	// Events is an optional source of other events (calls, e-mails).
	// Defaults to none.
	Events EventLister
	// Subjects names conversation subjects in entry titles. Defaults to
	// showing subject IDs.
	Subjects []attendance.Subject
	// Queues names queues in transfer entries. Defaults to showing IDs.
	Queues []attendance.Queue
}

// Journey merges a beneficiary's conversations (with their transitions),
// occurrences (with comments and status changes) and other events into one
// timeline, newest first, paginated with signed opaque tokens.
//
// A Journey is agent-facing and does no authorization of its own: its
// entries include agents' internal notes (transfer and finalization notes,
// occurrence comments and status notes) that the beneficiary must not see.
// A host must reach it only through [Service.Journey], which authorizes the
// principal on the conversation being served, or through a path of its own
// that only agents and supervisors can reach; never from a
// beneficiary-facing endpoint.
//
// It is safe for concurrent use. Each page reads the sources again, so a
// page reflects what happened since the previous one; the token is a
// position (the last entry returned), so entries newer than the first page
// never shift the pages that follow. Cost: one ListConversations, one
// ListOccurrences, one ListEvents, and one ListMessages per conversation
// that may hold entries for the page.
type Journey struct {
	convs    ConversationLister
	occ      Occurrences
	events   EventLister
	key      []byte
	size     int
	max      int
	subjects map[string]string
	queues   map[string]string
}

// NewJourney returns a Journey over the given sources. convs and occ are
// required; cfg may be nil.
func NewJourney(convs ConversationLister, occ Occurrences, cfg *JourneyConfig) (*Journey, error) {
	if convs == nil || occ == nil {
		return nil, fmt.Errorf("%w: beneficiary: NewJourney needs a ConversationLister and Occurrences", attendance.ErrInvalidArgument)
	}
	var c JourneyConfig
	if cfg != nil {
		c = *cfg
	}
	switch {
	case c.TokenKey != nil && len(c.TokenKey) < 16:
		return nil, fmt.Errorf("%w: beneficiary: JourneyConfig.TokenKey must be at least 16 bytes", attendance.ErrInvalidArgument)
	case c.PageSize < 0:
		return nil, fmt.Errorf("%w: beneficiary: JourneyConfig.PageSize must not be negative", attendance.ErrInvalidArgument)
	case c.MaxPageSize < 0:
		return nil, fmt.Errorf("%w: beneficiary: JourneyConfig.MaxPageSize must not be negative", attendance.ErrInvalidArgument)
	}
	j := &Journey{convs: convs, occ: occ, events: c.Events, size: c.PageSize, max: c.MaxPageSize}
	if c.TokenKey == nil {
		j.key = make([]byte, 32)
		_, _ = rand.Read(j.key) // crypto/rand.Read never fails
	} else {
		j.key = slices.Clone(c.TokenKey)
	}
	if j.size == 0 {
		j.size = DefaultPageSize
	}
	if j.max == 0 {
		j.max = DefaultMaxPageSize
	}
	if j.size > j.max {
		return nil, fmt.Errorf("%w: beneficiary: JourneyConfig.PageSize %d is above MaxPageSize %d", attendance.ErrInvalidArgument, j.size, j.max)
	}
	j.subjects = make(map[string]string, len(c.Subjects))
	for _, s := range c.Subjects {
		j.subjects[s.ID] = s.Name
	}
	j.queues = make(map[string]string, len(c.Queues))
	for _, q := range c.Queues {
		j.queues[q.ID] = q.Name
	}
	return j, nil
}

// cursor is the position after which a page starts: entries strictly older
// (At, then ID, descending).
type cursor struct {
	at time.Time
	id string
}

// before reports whether e comes after the cursor in newest-first order.
func (c cursor) before(e Entry) bool {
	if !e.At.Equal(c.at) {
		return e.At.Before(c.at)
	}
	return e.ID < c.id
}

// Page returns one page of the beneficiary's journey. It does not
// authorize: the entries include agents' internal notes, so only an
// agent-facing path may call it (see [Journey]). A malformed query is
// attendance.ErrInvalidArgument; a token that was altered, or issued for
// another beneficiary or by another key, is ErrInvalidPageToken; the
// sources' errors are wrapped, and a source's panic is recovered as a
// *SourcePanicError.
func (j *Journey) Page(ctx context.Context, q JourneyQuery) (JourneyPage, error) {
	if q.BeneficiaryID == "" {
		return JourneyPage{}, fmt.Errorf("%w: beneficiary: JourneyQuery.BeneficiaryID is empty", attendance.ErrInvalidArgument)
	}
	if q.Limit < 0 {
		return JourneyPage{}, fmt.Errorf("%w: beneficiary: JourneyQuery.Limit must not be negative", attendance.ErrInvalidArgument)
	}
	limit := q.Limit
	if limit == 0 {
		limit = j.size
	}
	limit = min(limit, j.max)
	var after *cursor
	if q.PageToken != "" {
		c, err := j.decodeToken(q.BeneficiaryID, q.PageToken)
		if err != nil {
			return JourneyPage{}, err
		}
		after = &c
	}

	entries, err := guard("journey source", func() ([]Entry, error) { return j.collect(ctx, q.BeneficiaryID, after) })
	if err != nil {
		return JourneyPage{}, err
	}
	slices.SortFunc(entries, func(a, b Entry) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return cmp.Compare(b.ID, a.ID)
	})
	if after != nil {
		entries = slices.DeleteFunc(entries, func(e Entry) bool { return !after.before(e) })
	}
	page := JourneyPage{Entries: entries}
	if len(entries) > limit {
		page.Entries = entries[:limit:limit]
		last := page.Entries[limit-1]
		page.NextPageToken = j.encodeToken(q.BeneficiaryID, cursor{at: last.At, id: last.ID})
	}
	if page.Entries == nil {
		page.Entries = []Entry{}
	}
	return page, nil
}

func (j *Journey) collect(ctx context.Context, beneficiaryID string, after *cursor) ([]Entry, error) {
	var out []Entry
	convs, err := j.convs.ListConversations(ctx, attendance.ListConversationsFilter{BeneficiaryID: beneficiaryID})
	if err != nil {
		return nil, fmt.Errorf("beneficiary: journey: listing conversations: %w", err)
	}
	for _, c := range convs {
		if c.BeneficiaryID != beneficiaryID {
			continue // defensive: a lister that ignores the filter
		}
		out = append(out, j.conversationEntry(c))
		// Every transition of c is dated at or after its creation (eventEntry
		// sees to it); if that is newer than the cursor, none of them can be
		// on this page.
		if after != nil && c.CreatedAt.After(after.at) {
			continue
		}
		msgs, err := j.convs.ListMessages(ctx, attendance.ListMessagesFilter{ConversationID: c.ID})
		if err != nil {
			return nil, fmt.Errorf("beneficiary: journey: listing conversation %q: %w", c.ID, err)
		}
		for _, m := range msgs {
			if e, ok := j.eventEntry(c, m); ok {
				out = append(out, e)
			}
		}
	}

	occs, err := j.occ.ListOccurrences(ctx, ListOccurrencesFilter{BeneficiaryID: beneficiaryID})
	if err != nil {
		return nil, fmt.Errorf("beneficiary: journey: listing occurrences: %w", err)
	}
	for _, o := range occs {
		if o.BeneficiaryID != beneficiaryID {
			continue
		}
		out = append(out, occurrenceEntries(o)...)
	}

	if j.events != nil {
		evs, err := j.events.ListEvents(ctx, beneficiaryID)
		if err != nil {
			return nil, fmt.Errorf("beneficiary: journey: listing events: %w", err)
		}
		for _, ev := range evs {
			if ev.BeneficiaryID != beneficiaryID {
				continue
			}
			out = append(out, Entry{
				Kind: EntryEvent, ID: "event/" + ev.ID, At: ev.At,
				Title: ev.Title, Detail: ev.Detail, Channel: ev.Channel,
			})
		}
	}
	for i := range out {
		out[i].ID = boundEntryID(out[i].ID)
	}
	return out, nil
}

// boundEntryID returns id if it is at most MaxEntryIDBytes; otherwise its
// first bytes (cut at a character boundary), "~" and the hex SHA-256 of the
// whole id, MaxEntryIDBytes at most. The result is stable and, but for a
// hash collision, unique, so pagination by (At, ID) still sees each entry
// once; and it keeps page tokens short.
func boundEntryID(id string) string {
	if len(id) <= MaxEntryIDBytes {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	suffix := "~" + hex.EncodeToString(sum[:])
	keep := MaxEntryIDBytes - len(suffix)
	for keep > 0 && !utf8.RuneStart(id[keep]) {
		keep--
	}
	return id[:keep] + suffix
}

func (j *Journey) conversationEntry(c attendance.Conversation) Entry {
	subject := c.SubjectID
	if name, ok := j.subjects[c.SubjectID]; ok {
		subject = name
	}
	title := "Atendimento por chat"
	if c.Protocol != "" {
		title += " — protocolo " + c.Protocol
	}
	return Entry{
		Kind: EntryConversation, ID: "conversation/" + c.ID, At: c.CreatedAt,
		Title:          title,
		Detail:         fmt.Sprintf("Assunto: %s. Situação: %s.", subject, stateLabel(c.State)),
		Channel:        c.Channel,
		ConversationID: c.ID, Protocol: c.Protocol,
	}
}

// eventEntry turns a system message into an entry; offers, declines and the
// opening (already the conversation entry) are left out as noise. The
// entry's time is at least the conversation's creation time, which collect
// relies on to skip the messages of conversations newer than the cursor.
func (j *Journey) eventEntry(c attendance.Conversation, m attendance.Message) (Entry, bool) {
	if m.Kind != attendance.KindSystem || m.Event == nil {
		return Entry{}, false
	}
	ev := m.Event
	var title, detail string
	switch ev.Type {
	case attendance.EventAccepted, attendance.EventAutoAccepted:
		title = "Atendimento iniciado por " + ev.AgentID
	case attendance.EventTransferred:
		switch {
		case ev.AgentID != "":
			title = "Transferido para o atendente " + ev.AgentID
		case ev.QueueID != "":
			name := ev.QueueID
			if n, ok := j.queues[ev.QueueID]; ok {
				name = n
			}
			title = "Transferido para a fila " + name
		default:
			title = "Transferido"
		}
		detail = ev.Note
	case attendance.EventFinalized:
		title = "Atendimento finalizado"
		if ev.Reason != "" {
			title += ": " + ev.Reason
		}
		detail = ev.Note
	case attendance.EventAbandoned:
		title = "Atendimento abandonado pelo beneficiário"
	default:
		return Entry{}, false
	}
	at := m.CreatedAt
	if at.Before(c.CreatedAt) {
		at = c.CreatedAt
	}
	return Entry{
		Kind: EntryConversationEvent, ID: fmt.Sprintf("conversation/%s/%010d", c.ID, m.Seq), At: at,
		Title: title, Detail: detail, Channel: c.Channel,
		ConversationID: c.ID, Protocol: c.Protocol,
	}, true
}

func occurrenceEntries(o Occurrence) []Entry {
	base, lower := "Ocorrência", "ocorrência"
	if o.Protocol != "" {
		base += " " + o.Protocol
		lower += " " + o.Protocol
	}
	out := []Entry{{
		Kind: EntryOccurrence, ID: "occurrence/" + o.ID, At: o.CreatedAt,
		Title:   fmt.Sprintf("%s aberta: %s", base, o.Title),
		Detail:  strings.TrimSpace(o.Category + ". " + o.Description),
		Channel: o.Channel, OccurrenceID: o.ID,
	}}
	for _, c := range o.Comments {
		out = append(out, Entry{
			Kind: EntryOccurrenceComment, ID: "occurrence/" + o.ID + "/comment/" + c.ID, At: c.At,
			Title: "Comentário na " + lower, Detail: c.Text, OccurrenceID: o.ID,
		})
	}
	for i, h := range o.History {
		out = append(out, Entry{
			Kind: EntryOccurrenceStatus, ID: fmt.Sprintf("occurrence/%s/status/%06d", o.ID, i), At: h.At,
			Title:  fmt.Sprintf("%s: %s → %s", base, h.From.Label(), h.To.Label()),
			Detail: h.Note, OccurrenceID: o.ID,
		})
	}
	return out
}

func stateLabel(s attendance.State) string {
	switch s {
	case attendance.StateQueued:
		return "na fila"
	case attendance.StateOffered:
		return "oferecido a um atendente"
	case attendance.StateActive:
		return "em atendimento"
	case attendance.StateFinalized:
		return "finalizado"
	case attendance.StateAbandoned:
		return "abandonado"
	}
	return string(s)
}

// Page tokens: base64url(payload || mac), payload = version(1) || unix
// seconds(8, two's complement) || nanoseconds(4) || entry ID; mac =
// HMAC-SHA256(key, "journey" 0 beneficiaryID 0 payload) cut to 16 bytes.
// Seconds and nanoseconds hold every time.Time, the zero one included (Unix
// nanoseconds hold only the years 1678 to 2262). Entry IDs are at most
// MaxEntryIDBytes, so a token is at most tokenHeaderLen+MaxEntryIDBytes+
// tokenMACLen bytes, well under maxTokenLen once encoded. The beneficiary
// ID is in the MAC, not in the token, so a token neither reveals it nor
// works for another beneficiary.
const (
	tokenVersion   = 2
	tokenHeaderLen = 1 + 8 + 4
	tokenMACLen    = 16
	maxTokenLen    = 1024
)

func (j *Journey) mac(beneficiaryID string, payload []byte) []byte {
	h := hmac.New(sha256.New, j.key)
	h.Write([]byte("journey\x00"))
	h.Write([]byte(beneficiaryID))
	h.Write([]byte{0})
	h.Write(payload)
	return h.Sum(nil)[:tokenMACLen]
}

func (j *Journey) encodeToken(beneficiaryID string, c cursor) string {
	payload := make([]byte, 0, tokenHeaderLen+len(c.id)+tokenMACLen)
	payload = append(payload, tokenVersion)
	payload = binary.BigEndian.AppendUint64(payload, uint64(c.at.Unix()))
	payload = binary.BigEndian.AppendUint32(payload, uint32(c.at.Nanosecond()))
	payload = append(payload, c.id...)
	return base64.RawURLEncoding.EncodeToString(append(payload, j.mac(beneficiaryID, payload)...))
}

func (j *Journey) decodeToken(beneficiaryID, token string) (cursor, error) {
	if len(token) > maxTokenLen {
		return cursor{}, &PageTokenError{Reason: "too long"}
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return cursor{}, &PageTokenError{Reason: "not a token"}
	}
	if len(raw) < tokenHeaderLen+tokenMACLen {
		return cursor{}, &PageTokenError{Reason: "too short"}
	}
	payload, sum := raw[:len(raw)-tokenMACLen], raw[len(raw)-tokenMACLen:]
	if !hmac.Equal(sum, j.mac(beneficiaryID, payload)) {
		return cursor{}, &PageTokenError{Reason: "signature does not match (altered, or issued for another beneficiary or key)"}
	}
	if payload[0] != tokenVersion {
		return cursor{}, &PageTokenError{Reason: "unknown version"}
	}
	sec := int64(binary.BigEndian.Uint64(payload[1:9]))
	nsec := binary.BigEndian.Uint32(payload[9:13])
	if nsec >= 1e9 {
		return cursor{}, &PageTokenError{Reason: "malformed time"}
	}
	return cursor{at: time.Unix(sec, int64(nsec)).UTC(), id: string(payload[tokenHeaderLen:])}, nil
}
