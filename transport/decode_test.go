package transport

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

var sendSeeds = []string{
	`{"type":"send","id":"c1","data":{"conversation_id":"6b1f","body":"Olá!","idempotency_key":"k-1"}}`,
	`{"data":{"body":"1764171787|xxxx","conversation_id":"6b1f"},"id":"2000-17","type":"send"}`,
	` { "type" : "send" , "id" : "c2" , "data" : { "body" : "a" } } ` + "\n",
	`{"type":"send","id":"c3","data":{"conversation_id":"x","body":"tab\tin"}}`,
	`{"type":"send","id":"c4","data":{"conversation_id":"x","body":"esc\"aped"}}`,
	`{"type":"send","id":"c5","data":{"conversation_id":"x","attachment":{"blob_id":"b"}}}`,
	`{"type":"send","id":"c6","data":{"conversation_id":"x","body":"a","body":"b"}}`,
	`{"type":"send","type":"ping","id":"c7","data":{}}`,
	`{"Type":"send","id":"c8","data":{"conversation_id":"x"}}`,
	`{"type":"send","id":"","data":{"conversation_id":"x"}}`,
	`{"type":"send","id":"c9","data":null}`,
	`{"type":"send","id":"c10","data":{"conversation_id":"x"}} x`,
	`{"type":"send","id":"c11","data":{"conversation_id":"x",}}`,
	`{"type":"send","id":"c12","data":{"conversation_id":"` + "\xff\xfe" + `"}}`,
	`{"type":"send","id":"c13","data":{"conversation_id":"x","body":"emoji 😀 ok"}}`,
	`{"type":"ping","id":"c14"}`,
	`{"type":"send","id":"0123456789012345678901234567890123456789012345678901234567890123456789","data":{"body":"x"}}`,
	`{"type":"send","id":"c15","data":{}}`,
	`{"type":"send","id":"c16"}`,
}

// checkFastSend fails when fastSend accepts a frame that the general
// decoder reads differently or refuses.
func checkFastSend(t *testing.T, in []byte) bool {
	t.Helper()
	id, p, ok := fastSend(in)
	if !ok {
		return false
	}
	f, err := DecodeClientFrame(in)
	require.NoError(t, err, "%q", in)
	require.Equal(t, CmdSend, f.Type, "%q", in)
	require.Equal(t, f.ID, id, "%q", in)
	want, err := decode[SendParams](f)
	require.NoError(t, err, "%q", in)
	require.Equal(t, want, p, "%q", in)
	return true
}

func TestFastSendAgreesWithDecodeClientFrame(t *testing.T) {
	accepted := 0
	for _, s := range sendSeeds {
		if checkFastSend(t, []byte(s)) {
			accepted++
		}
	}
	require.Equal(t, 4, accepted, "the plain seeds take the fast path")
	// Random mutations of the seeds: wherever the fast path accepts, the
	// general decoder must agree.
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte(`{}[]":,\ ` + "\t\n\x00\x7f\xc3\xa9\xffabsendtypidcoversation_yk0123")
	for range 200000 {
		b := []byte(sendSeeds[r.IntN(len(sendSeeds))])
		for range 1 + r.IntN(3) {
			if len(b) == 0 {
				break
			}
			i := r.IntN(len(b))
			switch r.IntN(3) {
			case 0:
				b[i] = alphabet[r.IntN(len(alphabet))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			default:
				b = append(b[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, b[i:]...)...)
			}
		}
		checkFastSend(t, b)
	}
}

func FuzzFastSend(f *testing.F) {
	for _, s := range sendSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkFastSend(t, in) })
}

func BenchmarkDecodeSend(b *testing.B) {
	in := []byte(`{"data":{"body":"1764171787000000000|xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","conversation_id":"6b1f0a2c-0000-4000-8000-000000000001"},"id":"2000-17","type":"send"}`)
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			f, _ := DecodeClientFrame(in)
			_, _ = decode[SendParams](f)
		}
	})
	b.Run("fastSend", func(b *testing.B) {
		for b.Loop() {
			_, _, _ = fastSend(in)
		}
	})
}
