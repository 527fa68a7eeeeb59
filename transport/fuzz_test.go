package transport_test

import (
	"errors"
	"testing"

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
