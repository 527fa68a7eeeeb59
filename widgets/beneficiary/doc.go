// Package beneficiary is the data side of the agent panel around a
// conversation: the beneficiary's record (Dados do cliente), their
// occurrences (Ocorrências, tickets of the host's omnichannel platform) and
// their journey (Perfil do usuário / Aba de Contatos), a single timeline of
// conversations, occurrences and other events.
//
// The host implements the interfaces: [Directory] for beneficiary records,
// [Occurrences] for tickets, optionally [EventLister] for other channels.
// The conversation side comes through [ConversationLister], whose methods
// are a subset of attendance.Store, so any store satisfies it.
// widgets/memdata has in-memory implementations for tests and examples.
//
// The library supplies the concrete types the panel calls: [Journey], which
// merges the sources newest first and paginates with opaque HMAC-signed
// tokens, and [Service], which authorizes every call against the
// conversation being served (through widgets.Authorize) and scopes every
// read and write to that conversation's beneficiary. A Journey does not
// authorize and its entries include agents' internal notes: hosts reach it
// through the Service, or through a path of their own that only agents and
// supervisors can reach.
//
// # Personal data
//
// A CPF is a [CPF] value: String, fmt, slog and JSON all print it masked
// ("***.456.789-**"). The full number reaches the panel only in
// Beneficiary.CPFRevealed, which Service fills only when Config.RevealCPF
// allows the viewer. Nothing here logs CPFs, comments or message bodies;
// the journey reads only system messages (transitions) of conversations.
//
// # Concurrency
//
// Journey and Service are safe for concurrent use, and require the same of
// the host's implementations.
//
// # Errors
//
// attendance's sentinels: ErrForbidden (the principal may not see or act on
// the conversation), ErrNotFound (unknown conversation, beneficiary or
// occurrence, or an occurrence of another beneficiary), ErrInvalidArgument,
// ErrConflict (a status changed meanwhile), ErrInvalidTransition (the
// platform refused a status change); and [ErrInvalidPageToken] (a
// *[PageTokenError]) for a journey page token that was altered or issued
// for another beneficiary or key, [ErrInvalidCPF], [ErrSourceMismatch] (a
// host source returned another beneficiary or occurrence than asked for;
// nothing of it is returned) and [ErrSourcePanic] (a *[SourcePanicError]:
// a host source panicked and was recovered).
package beneficiary
