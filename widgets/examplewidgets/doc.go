// Package examplewidgets holds three example widget providers with
// realistic, invented data: the usage statement (extrato de utilização), the
// co-payment statement (extrato de coparticipação) with month totals, and
// bank slips (boletos) with valid digitable lines and the statuses paid,
// open and overdue.
//
// They are examples, not part of the library's main path: they show how a
// provider builds a structured widgets.Result, and they fill the demo panel.
// A host replaces them with providers that call its own systems. The data
// is generated deterministically from the beneficiary ID and the clock, so
// the same beneficiary sees the same statements across widgets and runs;
// every name and number in it is fictitious.
//
// # Concurrency
//
// The providers are pure functions of their request and the clock; safe for
// concurrent use.
//
// # Errors
//
// A request without a beneficiary ID is attendance.ErrInvalidArgument; the
// registry shows it in the widget's box.
package examplewidgets
