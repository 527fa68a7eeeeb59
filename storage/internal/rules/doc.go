// Package rules holds what the storage backends (storage/memory,
// storage/sqlite, storage/postgres) share and that needs no database: the
// validation of the params of every attendance.Store method, the decision
// of a Transition once the current rows are read, and the normalization of
// the values a store keeps.
//
// Every function that can fail takes the backend's name ("memory",
// "sqlite", "postgres"), which prefixes its error messages, and returns
// errors wrapping the attendance sentinels (ErrInvalidArgument, ErrConflict,
// ErrOfferExpired, ...) so that callers check them with errors.Is. The
// checks run in the order the contract documents (see
// storage/storagetest).
package rules
