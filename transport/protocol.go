package transport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

// ProtocolVersion is the version of the frame protocol this package speaks.
// A client names it in its hello command; a different version is refused
// with CodeUnsupportedVersion.
const ProtocolVersion = 1

// Subprotocol is the WebSocket subprotocol name the handler offers. Clients
// may ask for it; the version inside the hello command is what counts.
const Subprotocol = "mosiachat.v1"

// Client frame (command) types.
const (
	CmdHello         = "hello"
	CmdPing          = "ping"
	CmdOpen          = "open"
	CmdSend          = "send"
	CmdAccept        = "accept"
	CmdDecline       = "decline"
	CmdTransfer      = "transfer"
	CmdFinalize      = "finalize"
	CmdLeave         = "leave"
	CmdPresence      = "presence"
	CmdRead          = "read"
	CmdTyping        = "typing"
	CmdHistory       = "history"
	CmdWatch         = "watch"
	CmdQueueStatus   = "queue_status"
	CmdConversations = "conversations"
)

// Server frame types.
const (
	// FrameResult answers a command that succeeded; ID is the command's.
	FrameResult = "result"
	// FrameError answers a command that failed, or reports a frame that could
	// not be read as a command (then ID is empty).
	FrameError = "error"
	// EventMessage carries one conversation message (text, attachment or
	// system); Seq is its sequence number.
	EventMessage = "message"
	// EventConversation carries a conversation snapshot after a change; Seq
	// is its newest sequence number.
	EventConversation = "conversation"
	// EventOffer tells an agent a conversation is offered to them, with the
	// deadline to accept it.
	EventOffer = "offer"
	// EventRemoved says the principal can no longer read a conversation
	// (declined, expired, transferred away, finalized by an agent).
	EventRemoved = "removed"
	// EventQueue carries a waiting conversation's position and estimated
	// wait.
	EventQueue = "queue"
	// EventTyping relays a typing indicator; it is not stored.
	EventTyping = "typing"
	// EventRead carries a participant's read mark.
	EventRead = "read"
	// EventAgent carries the agent's own state (presence, load).
	EventAgent = "agent"
	// EventSynced marks the end of the backlog sent after a hello.
	EventSynced = "synced"
	// EventHeartbeat is sent every Config.HeartbeatInterval so a client can
	// tell a quiet connection from a dead one.
	EventHeartbeat = "heartbeat"
)

// ClientFrame is one command from a client. ID is chosen by the client and
// must be unique on the connection; the server answers each command with
// exactly one result or error frame carrying the same ID.
type ClientFrame struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data,omitempty"`
}

// ServerFrame is one frame from the server: a reply (result or error, with
// the command's ID) or an event (with the conversation and sequence number
// it concerns, when it concerns one).
type ServerFrame struct {
	Type           string          `json:"type"`
	ID             string          `json:"id,omitempty"`
	ConversationID string          `json:"conversation_id,omitempty"`
	Seq            int64           `json:"seq,omitempty"`
	Data           json.RawMessage `json:"data,omitempty"`
	Error          *ErrorBody      `json:"error,omitempty"`

	// msg, when set, is encoded as Data by encodeFrame, straight into the
	// frame (a send result or a message event).
	msg *attendance.Message
}

// ErrorBody is the payload of an error frame.
type ErrorBody struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// RetryAfterMS is set with CodeRateLimited.
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
	// ConversationID is set with CodeInvalidSequence: the conversation
	// whose cursor was refused.
	ConversationID string `json:"conversation_id,omitempty"`
}

// LimitsInfo are a connection's limits, announced in the hello result.
type LimitsInfo struct {
	MaxFrameBytes     int64   `json:"max_frame_bytes"`
	CommandsPerSecond float64 `json:"commands_per_second"`
	CommandBurst      int     `json:"command_burst"`
	OutboundBuffer    int     `json:"outbound_buffer"`
}

// HelloParams is the data of the hello command, the first a client sends.
type HelloParams struct {
	// Protocol is the version the client speaks; must be ProtocolVersion.
	Protocol int `json:"protocol"`
	// Resume maps conversation IDs to the last sequence number the client
	// has seen; the server sends everything after it. Conversations not
	// named are sent from the start.
	Resume map[string]int64 `json:"resume,omitempty"`
}

// HelloResult is the data of the hello result.
type HelloResult struct {
	Protocol    int                  `json:"protocol"`
	Principal   attendance.Principal `json:"principal"`
	Session     string               `json:"session"`
	HeartbeatMS int64                `json:"heartbeat_ms"`
	Limits      LimitsInfo           `json:"limits"`
	// Removed lists resumed conversations the principal can no longer read.
	Removed []string `json:"removed,omitempty"`
}

// OpenParams is the data of the open command (beneficiaries).
type OpenParams struct {
	SubjectID string `json:"subject_id"`
	Channel   string `json:"channel,omitempty"`
}

// AttachmentRef names a blob uploaded over HTTP; the server fills in the
// rest from the blob store, never from the client.
type AttachmentRef struct {
	BlobID string `json:"blob_id"`
}

// SendParams is the data of the send command.
type SendParams struct {
	ConversationID string         `json:"conversation_id"`
	Body           string         `json:"body,omitempty"`
	Attachment     *AttachmentRef `json:"attachment,omitempty"`
	// IdempotencyKey makes a retried send return the first message.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// ConversationParams is the data of accept, decline, leave and
// queue_status.
type ConversationParams struct {
	ConversationID string `json:"conversation_id"`
}

// TransferParams is the data of the transfer command.
type TransferParams struct {
	ConversationID string `json:"conversation_id"`
	QueueID        string `json:"queue_id,omitempty"`
	AgentID        string `json:"agent_id,omitempty"`
	Note           string `json:"note,omitempty"`
}

// FinalizeParams is the data of the finalize command.
type FinalizeParams struct {
	ConversationID string `json:"conversation_id"`
	Reason         string `json:"reason"`
	Note           string `json:"note,omitempty"`
}

// PresenceParams is the data of the presence command (agents).
type PresenceParams struct {
	Presence attendance.Presence `json:"presence"`
}

// ReadParams is the data of the read command: the participant has read the
// conversation up to Seq.
type ReadParams struct {
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq"`
}

// TypingParams is the data of the typing command.
type TypingParams struct {
	ConversationID string `json:"conversation_id"`
	Active         bool   `json:"active"`
}

// HistoryParams is the data of the history command: messages after
// AfterSeq, at most Limit (0 or above the server's cap means the cap).
type HistoryParams struct {
	ConversationID string `json:"conversation_id"`
	AfterSeq       int64  `json:"after_seq"`
	Limit          int    `json:"limit,omitempty"`
}

// HistoryResult is the data of the history result.
type HistoryResult struct {
	Messages []attendance.Message `json:"messages"`
}

// WatchParams is the data of the watch command: stream a conversation the
// principal may read (a supervisor following any chat) from AfterSeq.
type WatchParams struct {
	ConversationID string `json:"conversation_id"`
	AfterSeq       int64  `json:"after_seq"`
}

// ConversationsParams is the data of the conversations command.
type ConversationsParams struct {
	States []attendance.State `json:"states,omitempty"`
	Limit  int                `json:"limit,omitempty"`
}

// ConversationsResult is the data of the conversations result.
type ConversationsResult struct {
	Conversations []attendance.Conversation `json:"conversations"`
}

// PingResult is the data of the ping result.
type PingResult struct {
	Time time.Time `json:"time"`
}

// QueueInfo is the data of a queue event and of the queue_status result.
type QueueInfo struct {
	QueueID         string `json:"queue_id"`
	Position        int    `json:"position"`
	Waiting         int    `json:"waiting"`
	EstimatedWaitMS int64  `json:"estimated_wait_ms"`
}

// OfferInfo is the data of an offer event.
type OfferInfo struct {
	Deadline     time.Time               `json:"deadline"`
	Conversation attendance.Conversation `json:"conversation"`
}

// RemovedInfo is the data of a removed event.
type RemovedInfo struct {
	// State is the conversation's state as last announced, when known.
	State attendance.State `json:"state,omitempty"`
}

// TypingInfo is the data of a typing event.
type TypingInfo struct {
	From   attendance.Principal `json:"from"`
	Active bool                 `json:"active"`
}

// HeartbeatInfo is the data of a heartbeat event.
type HeartbeatInfo struct {
	Time time.Time `json:"time"`
}

// DecodeClientFrame parses one client frame. It fails with a *ProtocolError
// whose code is CodeMalformedFrame for anything that is not a JSON object
// with a string type, CodeMissingID when the ID is empty or longer than
// MaxRequestIDBytes, and CodeUnknownType for a type the protocol lacks (the
// ID is then kept so the reply can name it). It never panics.
func DecodeClientFrame(b []byte) (ClientFrame, error) {
	var f ClientFrame
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return f, &ProtocolError{Code: CodeMalformedFrame, Message: "frame is not a JSON object"}
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return ClientFrame{}, &ProtocolError{Code: CodeMalformedFrame, Message: "frame is not valid JSON: " + trimErr(err)}
	}
	if f.Type == "" {
		return f, &ProtocolError{Code: CodeMalformedFrame, ID: safeID(f.ID), Message: "frame has no type"}
	}
	if f.ID == "" || len(f.ID) > MaxRequestIDBytes {
		return f, &ProtocolError{Code: CodeMissingID, Message: fmt.Sprintf("command needs an id of 1 to %d bytes", MaxRequestIDBytes)}
	}
	if !knownCommand(f.Type) {
		return f, &ProtocolError{Code: CodeUnknownType, ID: f.ID, Message: fmt.Sprintf("unknown command type %.40q", f.Type)}
	}
	if len(f.Data) > 0 && f.Data[0] != '{' && !bytes.Equal(f.Data, []byte("null")) {
		return f, &ProtocolError{Code: CodeMalformedFrame, ID: f.ID, Message: "data must be a JSON object"}
	}
	return f, nil
}

// MaxRequestIDBytes is the longest request ID accepted.
const MaxRequestIDBytes = 64

func safeID(id string) string {
	if len(id) > MaxRequestIDBytes {
		return ""
	}
	return id
}

func trimErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

func knownCommand(t string) bool {
	switch t {
	case CmdHello, CmdPing, CmdOpen, CmdSend, CmdAccept, CmdDecline, CmdTransfer, CmdFinalize,
		CmdLeave, CmdPresence, CmdRead, CmdTyping, CmdHistory, CmdWatch, CmdQueueStatus, CmdConversations:
		return true
	}
	return false
}

// ProtocolError is a client frame the server could not accept as a command.
type ProtocolError struct {
	Code    Code
	ID      string
	Message string
}

func (e *ProtocolError) Error() string { return "transport: " + string(e.Code) + ": " + e.Message }

// encodeFrame marshals a server frame. Data was produced by json.Marshal
// (rawJSON), so it is appended as is instead of being validated and
// compacted again, which json.Marshal would do for a RawMessage.
func encodeFrame(f ServerFrame) []byte {
	// The keys and punctuation take under 64 bytes; growing the slice
	// would copy the frame and double its size.
	size := 64 + len(f.Type) + len(f.ID) + len(f.ConversationID) + 20 + len(f.Data)
	if f.msg != nil {
		size += messageSize(f.msg)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"type":`...)
	b = appendString(b, f.Type)
	if f.ID != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, f.ID)
	}
	if f.ConversationID != "" {
		b = append(b, `,"conversation_id":`...)
		b = appendString(b, f.ConversationID)
	}
	if f.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, f.Seq, 10)
	}
	if f.msg != nil {
		b = append(b, `,"data":`...)
		b = appendMessage(b, f.msg)
	} else if len(f.Data) > 0 {
		b = append(b, `,"data":`...)
		b = append(b, f.Data...)
	}
	if f.Error != nil {
		eb, err := json.Marshal(f.Error)
		if err != nil {
			eb = []byte(`{"code":"internal","message":"could not encode error"}`)
		}
		b = append(b, `,"error":`...)
		b = append(b, eb...)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func rawJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
