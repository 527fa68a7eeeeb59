package widgets

import (
	"context"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

// Provider produces the content of one widget for one conversation. It is
// the interface integrators implement; [ProviderFunc] turns a plain function
// into one.
//
// Fetch may be called concurrently, for different conversations and, after
// the cache expires, for the same one. ctx carries the widget's timeout:
// Fetch should return promptly when ctx is done (the registry stops waiting
// at the deadline in any case and reports [ErrTimeout]). A call that ignores
// ctx and outlives the deadline is abandoned, not killed: until it returns,
// fetches of that widget for that conversation answer ErrTimeout at once
// without calling Fetch again, and while Config.MaxAbandonedPerWidget
// abandoned calls of the widget run, every fetch of it does; so a hung
// backend costs at most that many goroutines plus those of the fetches
// that started within its first timeout, not one per fetch.
//
// A returned error, a panic or a malformed Result become that widget's
// error only; the other widgets are not affected. A returned error is
// reported as a *[ProviderError] ([CodeProvider] for the panel) whatever it
// wraps, even a context error from a deadline of the provider's own; only a
// provider that gives up because the registry's deadline passed is reported
// as ErrTimeout. The provider's error text is kept in WidgetResult.Err for
// the host but is neither logged nor sent to the panel, so it may name what
// went wrong in the host's own terms.
type Provider interface {
	Fetch(ctx context.Context, req Request) (Result, error)
}

// ProviderFunc adapts a plain function to [Provider], as http.HandlerFunc
// does for http.Handler.
type ProviderFunc func(ctx context.Context, req Request) (Result, error)

// Fetch calls f(ctx, req).
func (f ProviderFunc) Fetch(ctx context.Context, req Request) (Result, error) { return f(ctx, req) }

// Request is what a provider is asked for. The result is cached per widget
// and conversation and shared by every principal allowed to see that
// conversation, so it must depend only on what is in the request.
type Request struct {
	// WidgetID is the widget being fetched, for providers that serve several.
	WidgetID string
	// Conversation is a snapshot of the conversation the agent is serving:
	// its BeneficiaryID says whose data to show, SubjectID what it is about.
	Conversation attendance.Conversation
}

// BeneficiaryID is shorthand for r.Conversation.BeneficiaryID.
func (r Request) BeneficiaryID() string { return r.Conversation.BeneficiaryID }

// Widget describes one widget for [Registry.Register].
type Widget struct {
	// ID is stable and unique in a registry, and is what
	// attendance.Profile.Widgets lists: 1 to 64 characters among lower-case
	// letters, digits, '-', '_' and '.', starting with a letter or digit.
	ID string
	// Title heads the widget's box in the panel ("Extrato de utilização").
	// Required.
	Title string
	// Description is an optional line for the panel's widget picker.
	Description string
	// Provider fetches the content. Required.
	Provider Provider
	// Timeout bounds one fetch. Zero means Config.DefaultTimeout.
	Timeout time.Duration
	// CacheTTL is how long a successful result is reused for the same
	// conversation. Zero means Config.CacheTTL; negative disables caching
	// for this widget (one fetch in flight per conversation still holds).
	CacheTTL time.Duration
}

// Descriptor is what the panel learns about an available widget before
// fetching it.
type Descriptor struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Access is the authorization the registry consumes: whether a principal may
// see a conversation. The engine implements it (attendance.Engine's
// AuthorizeView); tests and examples use widgets/memdata.
//
// AuthorizeView returns the conversation if p is its beneficiary, the agent
// it is currently offered or assigned to, or a supervisor; an error matching
// attendance.ErrForbidden otherwise, and attendance.ErrNotFound for an
// unknown conversation. It must be safe for concurrent use and honour ctx.
type Access interface {
	AuthorizeView(ctx context.Context, p attendance.Principal, conversationID string) (attendance.Conversation, error)
}
