package transport

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/mosiachat/mosiachat/attendance"
)

// Code is a protocol error code, carried in error frames and in the JSON
// body of HTTP errors. Codes are stable; messages are for people.
type Code string

// Codes mapped from the engine's sentinel errors.
const (
	CodeNotFound          Code = "not_found"
	CodeForbidden         Code = "forbidden"
	CodeConflict          Code = "conflict"
	CodeInvalidTransition Code = "invalid_transition"
	CodeAgentAtCapacity   Code = "agent_at_capacity"
	CodeAgentUnavailable  Code = "agent_unavailable"
	CodeOfferExpired      Code = "offer_expired"
	CodeInvalidArgument   Code = "invalid_argument"
	CodeEmptyMessage      Code = "empty_message"
	CodeMessageTooLarge   Code = "message_too_large"
	CodeUnknownSubject    Code = "unknown_subject"
	CodeUnknownReason     Code = "unknown_reason"
	CodeUnavailable       Code = "unavailable"
	// CodeLimit: a protective limit of the engine (attendance.ErrLimit),
	// e.g. a beneficiary's open conversations.
	CodeLimit Code = "limit_reached"
)

// Codes of the transport itself.
const (
	// CodeMalformedFrame: the frame is not a JSON object with a type, or its
	// data does not fit the command.
	CodeMalformedFrame Code = "malformed_frame"
	// CodeMissingID: a command without a request ID (or one too long).
	CodeMissingID Code = "missing_id"
	// CodeUnknownType: a command type the protocol does not have.
	CodeUnknownType Code = "unknown_type"
	// CodeBinaryFrame: a binary WebSocket frame; the protocol is text JSON.
	CodeBinaryFrame Code = "binary_frame"
	// CodeRateLimited: more commands than Config.CommandsPerSecond allows.
	CodeRateLimited Code = "rate_limited"
	// CodeHelloRequired: a command before the hello command.
	CodeHelloRequired Code = "hello_required"
	// CodeAlreadyHello: a second hello on the same connection.
	CodeAlreadyHello Code = "already_hello"
	// CodeUnsupportedVersion: the hello names another protocol version.
	CodeUnsupportedVersion Code = "unsupported_version"
	// CodeInvalidSequence: a resume or watch names a sequence number above the
	// conversation's newest, which no client can have seen.
	CodeInvalidSequence Code = "invalid_sequence"
	// CodeUnauthenticated: the credentials were missing or refused.
	CodeUnauthenticated Code = "unauthenticated"
	// CodeTooManyConnections: the principal already holds
	// Config.MaxConnectionsPerPrincipal connections.
	CodeTooManyConnections Code = "too_many_connections"
	// CodeTooLarge: an upload above the attachment size limit.
	CodeTooLarge Code = "too_large"
	// CodeUnsupportedType: an upload whose content is not in the allowlist.
	CodeUnsupportedType Code = "unsupported_type"
	// CodeTooManyUploads: the principal already has
	// Config.MaxConcurrentUploads uploads in progress (HTTP 429).
	CodeTooManyUploads Code = "too_many_uploads"
	// CodeUploadTimeout: an upload's body sent nothing for
	// Config.UploadIdleTimeout (HTTP 408).
	CodeUploadTimeout Code = "upload_timeout"
	// CodeMethodNotAllowed: an attachment request with a method other than
	// GET, HEAD or POST (HTTP 405, with an Allow header).
	CodeMethodNotAllowed Code = "method_not_allowed"
	// CodeInternal: anything else; the details are logged, not sent.
	CodeInternal Code = "internal"
)

// codeTable is the one place where errors become protocol codes and HTTP
// statuses; the first entry that matches wins.
var codeTable = []struct {
	err    error
	code   Code
	status int
}{
	{attendance.ErrNotFound, CodeNotFound, http.StatusNotFound},
	{attendance.ErrForbidden, CodeForbidden, http.StatusForbidden},
	{attendance.ErrConflict, CodeConflict, http.StatusConflict},
	{attendance.ErrInvalidTransition, CodeInvalidTransition, http.StatusConflict},
	{attendance.ErrAgentAtCapacity, CodeAgentAtCapacity, http.StatusConflict},
	{attendance.ErrAgentUnavailable, CodeAgentUnavailable, http.StatusConflict},
	{attendance.ErrOfferExpired, CodeOfferExpired, http.StatusConflict},
	{attendance.ErrEmptyMessage, CodeEmptyMessage, http.StatusBadRequest},
	{attendance.ErrMessageTooLarge, CodeMessageTooLarge, http.StatusRequestEntityTooLarge},
	{attendance.ErrUnknownSubject, CodeUnknownSubject, http.StatusBadRequest},
	{attendance.ErrUnknownReason, CodeUnknownReason, http.StatusBadRequest},
	{attendance.ErrInvalidArgument, CodeInvalidArgument, http.StatusBadRequest},
	{attendance.ErrClosed, CodeUnavailable, http.StatusServiceUnavailable},
	{attendance.ErrUnavailable, CodeUnavailable, http.StatusServiceUnavailable},
	{attendance.ErrLimit, CodeLimit, http.StatusConflict},
	{ErrBlobNotFound, CodeNotFound, http.StatusNotFound},
	{ErrTooLarge, CodeTooLarge, http.StatusRequestEntityTooLarge},
	{ErrUnsupportedType, CodeUnsupportedType, http.StatusUnsupportedMediaType},
	{ErrUnauthenticated, CodeUnauthenticated, http.StatusUnauthorized},
	{ErrTooManyConnections, CodeTooManyConnections, http.StatusTooManyRequests},
	{errTooManyUploads, CodeTooManyUploads, http.StatusTooManyRequests},
	{errUploadStalled, CodeUploadTimeout, http.StatusRequestTimeout},
	{errMethodNotAllowed, CodeMethodNotAllowed, http.StatusMethodNotAllowed},
	{ErrInvalidSequence, CodeInvalidSequence, http.StatusBadRequest},
	{ErrBadRequest, CodeInvalidArgument, http.StatusBadRequest},
	{context.DeadlineExceeded, CodeUnavailable, http.StatusServiceUnavailable},
	{context.Canceled, CodeUnavailable, http.StatusServiceUnavailable},
}

// Errors of the attachment endpoints, answered with the codes above.
var (
	errTooManyUploads   = errors.New("transport: too many uploads in progress for this principal")
	errUploadStalled    = errors.New("transport: upload stalled")
	errMethodNotAllowed = errors.New("transport: method not allowed")
)

// Errors of the transport. They match with errors.Is.
var (
	// ErrUnauthenticated: the Authenticate hook refused the request.
	ErrUnauthenticated = errors.New("transport: unauthenticated")
	// ErrTooManyConnections: the principal is at its connection limit.
	ErrTooManyConnections = errors.New("transport: too many connections for this principal")
	// ErrTooLarge: an upload above the size limit.
	ErrTooLarge = errors.New("transport: attachment too large")
	// ErrUnsupportedType: an upload whose sniffed content type is not allowed.
	ErrUnsupportedType = errors.New("transport: attachment type not allowed")
	// ErrInvalidSequence: a sequence number above the conversation's newest.
	ErrInvalidSequence = errors.New("transport: invalid sequence")
	// ErrBadRequest: a malformed HTTP request or command payload.
	ErrBadRequest = errors.New("transport: bad request")
	// ErrSlowConsumer: a connection's outbound buffer is full.
	ErrSlowConsumer = errors.New("transport: outbound buffer full")
	// ErrBlobNotFound: a blob store has no blob with that ID.
	ErrBlobNotFound = errors.New("transport: blob not found")
	// ErrServerClosed: the server is not started or was stopped.
	ErrServerClosed = errors.New("transport: server closed")
)

// CodeOf returns the protocol code and HTTP status for err. Errors that
// match nothing known are CodeInternal, 500.
func CodeOf(err error) (Code, int) {
	var fe *ProtocolError
	if errors.As(err, &fe) {
		return fe.Code, http.StatusBadRequest
	}
	for _, e := range codeTable {
		if errors.Is(err, e.err) {
			return e.code, e.status
		}
	}
	return CodeInternal, http.StatusInternalServerError
}

// errorBody builds the error payload for err. Internal errors carry a
// generic message; the rest carry err's text, which never includes message
// bodies.
func errorBody(err error) *ErrorBody {
	code, _ := CodeOf(err)
	msg := err.Error()
	if code == CodeInternal {
		msg = "internal error"
	}
	var fe *ProtocolError
	if errors.As(err, &fe) {
		msg = fe.Message
	}
	body := &ErrorBody{Code: code, Message: msg}
	var se *SequenceError
	if errors.As(err, &se) {
		body.ConversationID = se.ConversationID
	}
	return body
}

// SequenceError is an ErrInvalidSequence about one conversation's cursor
// (in a hello's resume map or a watch), which the error reply names in
// conversation_id so that a client can drop just that cursor.
type SequenceError struct {
	ConversationID string
	Seq            int64 // the cursor refused
	Newest         int64 // the conversation's newest seq
}

func (e *SequenceError) Error() string {
	if e.Seq < 0 {
		return fmt.Sprintf("%v: negative sequence %d for conversation %.64q", ErrInvalidSequence, e.Seq, e.ConversationID)
	}
	return fmt.Sprintf("%v: conversation %s has no sequence %d (newest is %d)", ErrInvalidSequence, e.ConversationID, e.Seq, e.Newest)
}

// Unwrap makes errors.Is(err, ErrInvalidSequence) hold.
func (e *SequenceError) Unwrap() error { return ErrInvalidSequence }
