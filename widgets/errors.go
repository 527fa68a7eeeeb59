package widgets

import (
	"context"
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is. Arguments and configuration that
// are malformed match attendance.ErrInvalidArgument, and a principal who may
// not see a conversation gets an error matching attendance.ErrForbidden.
var (
	// ErrDuplicateWidget: Register was given an ID that is already
	// registered. The registry is unchanged.
	ErrDuplicateWidget = errors.New("widgets: duplicate widget id")
	// ErrUnknownWidget: a widget ID that is not registered.
	ErrUnknownWidget = errors.New("widgets: unknown widget")
	// ErrWidgetNotAllowed: the agent's profile does not list that widget.
	ErrWidgetNotAllowed = errors.New("widgets: widget not allowed for this profile")
	// ErrMalformedResult: a provider returned a result that fails
	// Result.Validate; the error is a *ResultError.
	ErrMalformedResult = errors.New("widgets: malformed result")
	// ErrTimeout: a provider did not answer within its timeout, or an
	// earlier call that did not is still running (see [Provider]), so the
	// registry did not call it again.
	ErrTimeout = errors.New("widgets: provider timed out")
	// ErrPanic: a provider panicked; the error is a *PanicError.
	ErrPanic = errors.New("widgets: provider panicked")
	// ErrProvider: a provider returned an error of its own; the error is a
	// *ProviderError wrapping it.
	ErrProvider = errors.New("widgets: provider failed")
)

// ProviderError is an error a provider returned, wrapped. errors.Is(err,
// ErrProvider) holds for it, and it unwraps to the provider's error, so a
// host can still match its own sentinels. Whatever the provider's error
// wraps (a context error from the provider's own backend deadline, say),
// [ErrorCode] classifies it as [CodeProvider].
type ProviderError struct {
	WidgetID string
	// Err is what the provider returned.
	Err error
}

// Error names the widget and includes the provider's error text; that text
// goes neither to the panel nor to the registry's log.
func (e *ProviderError) Error() string {
	return fmt.Sprintf("widgets: widget %q: %v", e.WidgetID, e.Err)
}

// Unwrap returns the provider's error.
func (e *ProviderError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrProvider) true.
func (e *ProviderError) Is(target error) bool { return target == ErrProvider }

// ResultError is a malformed result: which widget, where in the result and
// why. errors.Is(err, ErrMalformedResult) holds for it.
type ResultError struct {
	// WidgetID is empty when the error comes from Result.Validate directly.
	WidgetID string
	// Path locates the problem, e.g. "tables[0].rows[3][2]".
	Path string
	// Reason says what is wrong.
	Reason string
}

// Error names the widget, the path and the reason.
func (e *ResultError) Error() string {
	if e.WidgetID == "" {
		return fmt.Sprintf("widgets: malformed result: %s: %s", e.Path, e.Reason)
	}
	return fmt.Sprintf("widgets: malformed result from widget %q: %s: %s", e.WidgetID, e.Path, e.Reason)
}

// Is makes errors.Is(err, ErrMalformedResult) true.
func (e *ResultError) Is(target error) bool { return target == ErrMalformedResult }

// PanicError is a provider's panic, recovered. errors.Is(err, ErrPanic)
// holds for it. Its message does not include the panic value, which may
// carry beneficiary data; the value and the stack are fields for the host to
// inspect.
type PanicError struct {
	WidgetID string
	// Value is what the provider passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Error names the widget, not the panic value.
func (e *PanicError) Error() string {
	return fmt.Sprintf("widgets: provider of widget %q panicked", e.WidgetID)
}

// Is makes errors.Is(err, ErrPanic) true.
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// Error codes for the panel, returned by [ErrorCode].
const (
	// CodeTimeout: the provider did not answer in time.
	CodeTimeout = "timeout"
	// CodePanic: the provider panicked.
	CodePanic = "panic"
	// CodeMalformed: the provider's result failed validation.
	CodeMalformed = "malformed_result"
	// CodeCanceled: the caller gave up (its context ended) before the answer.
	CodeCanceled = "canceled"
	// CodeProvider: the provider returned an error.
	CodeProvider = "provider_error"
)

// ErrorCode classifies the error of a [WidgetResult] for the panel: one of
// the Code constants, or "" for a nil error.
//
// The outermost classifiable error in err's tree decides, walking it as
// errors.Is does: a *[ProviderError] is [CodeProvider] whatever it wraps
// (even a context error from the provider's own deadline); [ErrTimeout],
// [ErrPanic] and [ErrMalformedResult] give their codes; a bare context error
// (the caller's context ended) is [CodeCanceled]; anything else is
// CodeProvider.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if code := classify(err); code != "" {
		return code
	}
	return CodeProvider
}

// codeOf maps the sentinels ErrorCode knows to their codes, in the order
// they are tried on each error of the tree.
var codeOf = []struct {
	target error
	code   string
}{
	{ErrProvider, CodeProvider},
	{ErrTimeout, CodeTimeout},
	{ErrPanic, CodePanic},
	{ErrMalformedResult, CodeMalformed},
	{context.Canceled, CodeCanceled},
	{context.DeadlineExceeded, CodeCanceled},
}

// classify returns the code of the first error in a pre-order walk of err's
// tree (the order errors.Is uses) that is, or says by its Is method that it
// is, one of codeOf's sentinels; "" if none is.
func classify(err error) string {
	for err != nil {
		isser, hasIs := err.(interface{ Is(error) bool })
		for _, c := range codeOf {
			if err == c.target || (hasIs && isser.Is(c.target)) {
				return c.code
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if code := classify(e); code != "" {
					return code
				}
			}
			return ""
		default:
			return ""
		}
	}
	return ""
}

// errorMessage is the text the panel shows for a code. It never includes
// the provider's own error text, which may carry beneficiary data.
func errorMessage(code string) string {
	switch code {
	case CodeTimeout:
		return "O widget não respondeu a tempo."
	case CodePanic, CodeProvider:
		return "O widget está indisponível no momento."
	case CodeMalformed:
		return "O widget retornou dados inválidos."
	case CodeCanceled:
		return "A consulta foi cancelada."
	}
	return ""
}
