package transport

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

// marshalMessage encodes a message exactly as encoding/json does (the test
// compares the two byte for byte); see appendMessage.
func marshalMessage(m *attendance.Message) json.RawMessage {
	return appendMessage(make([]byte, 0, messageSize(m)), m)
}

// messageSize is about the length of m encoded (enough for a text
// message, so appendMessage does not grow the slice).
func messageSize(m *attendance.Message) int {
	return 192 + len(m.Body) + len(m.ID) + len(m.ConversationID) + len(m.IdempotencyKey) + len(m.Sender.ID)
}

// appendMessage appends m as encoding/json writes it, without reflection
// for the common case: a text message whose strings need no escaping
// beyond what is written here. Anything else (attachments, system events,
// odd times) goes through encoding/json.
func appendMessage(b []byte, m *attendance.Message) []byte {
	if m.Attachment != nil || m.Event != nil || !plainTime(m.CreatedAt) {
		return append(b, rawJSON(m)...)
	}
	b = append(b, `{"id":`...)
	b = appendJSONString(b, m.ID)
	b = append(b, `,"conversation_id":`...)
	b = appendJSONString(b, m.ConversationID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, m.Seq, 10)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, string(m.Kind))
	b = append(b, `,"sender":{"role":`...)
	b = appendJSONString(b, string(m.Sender.Role))
	b = append(b, `,"id":`...)
	b = appendJSONString(b, m.Sender.ID)
	b = append(b, '}')
	if m.Body != "" {
		b = append(b, `,"body":`...)
		b = appendJSONString(b, m.Body)
	}
	if m.IdempotencyKey != "" {
		b = append(b, `,"idempotency_key":`...)
		b = appendJSONString(b, m.IdempotencyKey)
	}
	b = append(b, `,"created_at":"`...)
	b = m.CreatedAt.AppendFormat(b, time.RFC3339Nano)
	return append(b, `"}`...)
}

// plainTime reports whether time.Time.MarshalJSON would write t as
// AppendFormat(RFC3339Nano) does: a four-digit year and a zone offset in
// whole minutes.
func plainTime(t time.Time) bool {
	if y := t.Year(); y < 0 || y > 9999 {
		return false
	}
	_, off := t.Zone()
	return off%60 == 0
}

// appendJSONString appends s as encoding/json writes it: as is when no byte
// needs escaping (control characters, quote, backslash, the HTML-sensitive
// <, > and &, and anything not ASCII, which encoding/json checks for
// invalid UTF-8 and U+2028/U+2029); otherwise through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&', c >= 0x80:
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
