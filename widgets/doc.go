// Package widgets is the integrator surface of the agent panel's widget
// area: the [Provider] interface integrators implement, the [Registry] that
// holds widgets and filters them by agent profile, and the fetch of every
// widget for a conversation.
//
// A provider returns a structured [Result]: a title, key-value [Field]s,
// [Table]s whose columns are typed ([KindText], [KindMoney] in integer
// centavos, [KindDate], [KindNumber]), [Document]s to download and [Link]s.
// The panel renders any provider from that structure, with no
// provider-specific front-end code. A result is validated before anyone sees
// it; a malformed one becomes that widget's error.
//
// Adding a widget takes a few lines:
//
//	err := reg.Register(widgets.Widget{
//		ID:    "carencias",
//		Title: "Carências",
//		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
//			return widgets.Result{Fields: []widgets.Field{
//				{Label: "Consultas", Value: widgets.TextValue("cumprida")},
//			}}, nil
//		}),
//	})
//
// and listing its ID in the agent profile's Widgets.
//
// Sibling packages hold the rest of the integrator surface: widgets/boleto
// validates bank-slip digitable lines, widgets/beneficiary defines the
// beneficiary directory, occurrences and journey, widgets/shortcuts the
// canned replies, widgets/memdata in-memory implementations for tests and
// examples, and widgets/examplewidgets three example providers.
//
// # Authorization
//
// Every [Registry.Fetch] first asks an [Access] (the engine's AuthorizeView)
// whether the principal may see the conversation, and then allows only a
// supervisor or the agent to whom the conversation is offered or assigned.
// The registry does not import the engine; Access is the one method it
// needs.
//
// # Concurrency
//
// A Registry is safe for concurrent use. Fetch runs the widgets' providers
// concurrently (at most Config.MaxConcurrency at once), each under its own
// timeout (Widget.Timeout, default 2s). Concurrent fetches of the same widget
// for the same conversation share one provider call (singleflight), and a
// successful result is cached for a short time (Widget.CacheTTL, default
// 30s); errors are not cached. A provider call that ignores its context
// and times out is abandoned: until it returns, that widget is not called
// again for that conversation, and once Config.MaxAbandonedPerWidget calls
// of one widget are abandoned, no new call of it starts until they return
// (fetches answer [ErrTimeout] meanwhile; calls already under way may
// still add to them). A provider that errors, panics, times out or returns a
// malformed result yields an error in its own [WidgetResult] only; the
// others return normally. Providers must be safe for concurrent use.
//
// # Errors
//
// Registration errors: [ErrDuplicateWidget], and attendance.ErrInvalidArgument
// for a malformed Widget. Fetch errors, when nothing could be fetched:
// attendance.ErrForbidden, attendance.ErrNotFound,
// attendance.ErrInvalidArgument, [ErrUnknownWidget], [ErrWidgetNotAllowed]
// and the context's error. Per-widget errors in WidgetResult.Err:
// [ErrTimeout], [ErrPanic] (a *[PanicError]), [ErrMalformedResult] (a
// *[ResultError]), the caller's context's error, or [ErrProvider] (a
// *[ProviderError] wrapping the provider's own error, whatever it wraps).
// [ErrorCode] maps them to codes for the panel, which never sees a
// provider's error text.
//
// # Lifecycle
//
// [NewRegistry] starts nothing. There is nothing to stop: goroutines live
// only while a Fetch call or a provider call runs.
package widgets
