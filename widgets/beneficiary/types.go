package beneficiary

import (
	"context"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets"
)

// Beneficiary is a health-plan member as the panel's Dados do cliente shows
// them.
type Beneficiary struct {
	ID string `json:"id"`
	// Name is the civil name.
	Name string `json:"name"`
	// SocialName (nome social), when set, is how the person is addressed.
	SocialName string `json:"social_name,omitempty"`
	// BirthDate is the date of birth.
	BirthDate widgets.Date `json:"birth_date,omitzero"`
	// CPF is masked on every output; see [CPF].
	CPF CPF `json:"cpf,omitempty"`
	// CPFRevealed is the full, formatted CPF. Directories leave it empty;
	// the Service fills it only when Config.RevealCPF allows the viewer.
	CPFRevealed string `json:"cpf_revealed,omitempty"`
	// CardNumber is the plan card (carteirinha) number.
	CardNumber string `json:"card_number"`
	// Holder is true for the plan's holder (titular), false for a dependant.
	Holder  bool    `json:"holder"`
	Plan    Plan    `json:"plan"`
	Contact Contact `json:"contact"`
}

// DisplayName is the social name if set, else the civil name.
func (b Beneficiary) DisplayName() string {
	if b.SocialName != "" {
		return b.SocialName
	}
	return b.Name
}

// Plan is the beneficiary's health plan.
type Plan struct {
	// Code is the operator's product code.
	Code string `json:"code"`
	// Name is the commercial name ("Essencial Enfermaria").
	Name string `json:"name"`
	// ANSRegistration is the product's registration number at the regulator.
	ANSRegistration string `json:"ans_registration,omitempty"`
	// Contract is "individual", "coletivo empresarial", "coletivo por adesão".
	Contract string `json:"contract,omitempty"`
	// Coverage ("ambulatorial + hospitalar com obstetrícia").
	Coverage string `json:"coverage,omitempty"`
	// Accommodation is "enfermaria" or "apartamento".
	Accommodation string `json:"accommodation,omitempty"`
	// Status is "ativo", "suspenso" or "cancelado".
	Status string `json:"status"`
	// Since is the start of the coverage.
	Since widgets.Date `json:"since,omitzero"`
}

// Contact is how to reach the beneficiary.
type Contact struct {
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
	City  string `json:"city,omitempty"`
	State string `json:"state,omitempty"`
}

// Directory is the host's beneficiary register (Dados do cliente).
//
// Beneficiary returns one beneficiary, or an error matching
// attendance.ErrNotFound. It must be safe for concurrent use, honour ctx,
// and return the CPF as digits in Beneficiary.CPF (masking is the library's
// job) with CPFRevealed empty.
type Directory interface {
	Beneficiary(ctx context.Context, id string) (Beneficiary, error)
}

// OccurrenceStatus is where a ticket (ocorrência) of the omnichannel
// platform stands.
type OccurrenceStatus string

const (
	// StatusOpen: registered, nobody working on it yet.
	StatusOpen OccurrenceStatus = "open"
	// StatusInProgress: someone is handling it.
	StatusInProgress OccurrenceStatus = "in_progress"
	// StatusWaiting: waiting for the beneficiary (a document, an answer).
	StatusWaiting OccurrenceStatus = "waiting"
	// StatusResolved: done. May be reopened.
	StatusResolved OccurrenceStatus = "resolved"
	// StatusCanceled: dropped (duplicate, opened by mistake). May be
	// reopened.
	StatusCanceled OccurrenceStatus = "canceled"
)

// Valid reports whether s is a known status.
func (s OccurrenceStatus) Valid() bool {
	switch s {
	case StatusOpen, StatusInProgress, StatusWaiting, StatusResolved, StatusCanceled:
		return true
	}
	return false
}

// Closed reports whether s is resolved or canceled.
func (s OccurrenceStatus) Closed() bool { return s == StatusResolved || s == StatusCanceled }

// Label is the pt-BR name shown in the panel.
func (s OccurrenceStatus) Label() string {
	switch s {
	case StatusOpen:
		return "Aberta"
	case StatusInProgress:
		return "Em andamento"
	case StatusWaiting:
		return "Aguardando beneficiário"
	case StatusResolved:
		return "Resolvida"
	case StatusCanceled:
		return "Cancelada"
	}
	return string(s)
}

// Occurrence is a ticket of the host's omnichannel platform.
type Occurrence struct {
	ID            string `json:"id"`
	BeneficiaryID string `json:"beneficiary_id"`
	// Protocol is the number the beneficiary knows it by.
	Protocol string `json:"protocol"`
	// Category ("Reembolso", "Autorização de procedimento").
	Category    string           `json:"category"`
	Title       string           `json:"title"`
	Description string           `json:"description,omitempty"`
	Status      OccurrenceStatus `json:"status"`
	// Channel it was opened through ("chat", "telefone", "app").
	Channel   string    `json:"channel,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Comments, oldest first.
	Comments []Comment `json:"comments,omitempty"`
	// History of status changes, oldest first.
	History []StatusChange `json:"history,omitempty"`
}

// Comment is a note on an occurrence.
type Comment struct {
	ID     string               `json:"id"`
	Author attendance.Principal `json:"author"`
	Text   string               `json:"text"`
	At     time.Time            `json:"at"`
}

// StatusChange records one change of an occurrence's status.
type StatusChange struct {
	From   OccurrenceStatus     `json:"from"`
	To     OccurrenceStatus     `json:"to"`
	Author attendance.Principal `json:"author"`
	Note   string               `json:"note,omitempty"`
	At     time.Time            `json:"at"`
}

// ListOccurrencesFilter selects occurrences.
type ListOccurrencesFilter struct {
	// BeneficiaryID is required.
	BeneficiaryID string
	// Statuses, if not empty, keeps only these.
	Statuses []OccurrenceStatus
}

// AddCommentParams are the arguments of Occurrences.AddComment.
type AddCommentParams struct {
	OccurrenceID string
	Author       attendance.Principal
	Text         string
	At           time.Time
}

// SetStatusParams are the arguments of Occurrences.SetStatus.
type SetStatusParams struct {
	OccurrenceID string
	// From, if set, is the status the caller saw: if the occurrence is no
	// longer in it, the change is refused with attendance.ErrConflict.
	From   OccurrenceStatus
	To     OccurrenceStatus
	Author attendance.Principal
	Note   string
	At     time.Time
}

// Occurrences is the host's ticket platform (Ocorrências).
//
// Every method must be safe for concurrent use and honour ctx. Errors match
// attendance's sentinels: ErrNotFound for an unknown occurrence,
// ErrInvalidArgument for malformed params, ErrConflict when SetStatus's From
// no longer holds, ErrInvalidTransition when the platform refuses a status
// change.
type Occurrences interface {
	// ListOccurrences returns a beneficiary's occurrences, newest first.
	ListOccurrences(ctx context.Context, filter ListOccurrencesFilter) ([]Occurrence, error)
	// GetOccurrence returns one occurrence.
	GetOccurrence(ctx context.Context, id string) (Occurrence, error)
	// AddComment appends a comment and returns the updated occurrence.
	AddComment(ctx context.Context, params AddCommentParams) (Occurrence, error)
	// SetStatus changes the status, records it in History and returns the
	// updated occurrence.
	SetStatus(ctx context.Context, params SetStatusParams) (Occurrence, error)
}

// Event is something that happened to the beneficiary outside the chat and
// the occurrences (a phone call, an e-mail, an app notification), for the
// journey.
type Event struct {
	ID            string    `json:"id"`
	BeneficiaryID string    `json:"beneficiary_id"`
	At            time.Time `json:"at"`
	Channel       string    `json:"channel"`
	Title         string    `json:"title"`
	Detail        string    `json:"detail,omitempty"`
}

// EventLister is an optional source of journey events. ListEvents returns a
// beneficiary's events in any order; safe for concurrent use; honours ctx.
type EventLister interface {
	ListEvents(ctx context.Context, beneficiaryID string) ([]Event, error)
}

// ConversationLister is what the journey needs from the conversation side:
// a beneficiary's conversations and their logs. Its methods have the
// signatures of attendance.Store's, so any store (or the engine) satisfies
// it. The journey calls ListConversations with BeneficiaryID set and
// ListMessages per conversation; it reads only system messages (the
// transitions), never message bodies.
type ConversationLister interface {
	ListConversations(ctx context.Context, filter attendance.ListConversationsFilter) ([]attendance.Conversation, error)
	ListMessages(ctx context.Context, filter attendance.ListMessagesFilter) ([]attendance.Message, error)
}

var _ ConversationLister = attendance.Store(nil)
