package transport_test

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/mosiachat/mosiachat/transport"
)

// FuzzDecodeClientFrame: the decoder never panics, and either accepts a
// frame with a known type and an ID, or refuses it with a protocol error.
// Run with: go test -fuzz FuzzDecodeClientFrame ./transport/
func FuzzDecodeClientFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"hello","id":"1","data":{"protocol":1,"resume":{"c1":4}}}`,
		`{"type":"send","id":"2","data":{"conversation_id":"c1","body":"oi","idempotency_key":"k"}}`,
		`{"type":"ping","id":"3"}`,
		`{"type":"ping","id":"3","data":null}`,
		`{"type":"ping","id":"3","data":[1]}`,
		`{"type":"nope","id":"4"}`,
		`{"type":"ping"}`,
		`{"id":"5"}`,
		`{`,
		`[]`,
		`""`,
		``,
		`   {"type":"ping","id":"\u0000"}  `,
		`{"type":"ping","id":"6","type":"send"}`,
		`{"type":1,"id":2}`,
		"\xff\xfe{}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := transport.DecodeClientFrame(b)
		if err != nil {
			var pe *transport.ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a *ProtocolError: %v", err)
			}
			if code, _ := transport.CodeOf(err); code == transport.CodeInternal {
				t.Fatalf("decoder error mapped to internal: %v", err)
			}
			return
		}
		if fr.Type == "" || fr.ID == "" || len(fr.ID) > transport.MaxRequestIDBytes {
			t.Fatalf("accepted a frame without type or id: %+v", fr)
		}
	})
}

// FuzzServerFrame: whatever the strings, an encoded server frame is valid
// JSON that decodes back to the same fields.
func FuzzServerFrame(f *testing.F) {
	f.Add("message", "r1", "c1", int64(3), `{"a":1}`)
	f.Add("result", "\"quoted\\", "ç\u2028", int64(0), ``)
	f.Fuzz(func(t *testing.T, typ, id, conv string, seq int64, data string) {
		fr := transport.ServerFrame{Type: typ, ID: id, ConversationID: conv, Seq: seq}
		if json.Valid([]byte(data)) && data != "" {
			fr.Data = json.RawMessage(data)
		}
		b := transport.EncodeFrameForTest(fr)
		var back transport.ServerFrame
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("invalid JSON %q: %v", b, err)
		}
		if utf8.ValidString(typ) && utf8.ValidString(id) && utf8.ValidString(conv) &&
			(back.Type != typ || back.ID != id || back.ConversationID != conv || back.Seq != seq) {
			t.Fatalf("round trip changed the frame: %+v -> %+v", fr, back)
		}
	})
}
