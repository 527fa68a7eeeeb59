package transport

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// marshalMessage must write exactly what encoding/json writes.
func TestMarshalMessageMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "a", "Olá!", "<b>&amp;</b>", "quote\"back\\slash", "tab\tnl\n", "\x00\x1f", "\u2028\u2029",
		string([]byte{0xff, 0xfe, 'x'}), "emoji 😀", "plain text body 1234567890"}
	times := []time.Time{
		time.Date(2026, 11, 26, 14, 3, 7, 123456789, time.UTC),
		time.Date(2026, 11, 26, 14, 3, 7, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("x", -3*3600)),
		time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("odd", 3600+17)),
		time.Date(12345, 1, 2, 3, 4, 5, 0, time.UTC),
		{},
		time.Now(),
	}
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return strs[r.IntN(len(strs))] }
	for i := range 2000 {
		m := attendance.Message{
			ID: pick(), ConversationID: pick(), Seq: r.Int64N(1 << 40), Kind: attendance.MessageKind(pick()),
			Sender: attendance.Principal{Role: attendance.Role(pick()), ID: pick()}, Body: pick(),
			IdempotencyKey: pick(), CreatedAt: times[r.IntN(len(times))],
		}
		switch i % 10 {
		case 0:
			m.Attachment = &attendance.Attachment{BlobID: pick(), Name: pick(), Size: 3}
		case 1:
			m.Event = &attendance.Event{Type: attendance.EventType(pick()), Note: pick()}
		}
		want, err := json.Marshal(&m)
		if err != nil {
			continue // encoding/json refuses it (a year beyond 9999); so does rawJSON
		}
		require.Equal(t, string(want), string(marshalMessage(&m)), "message %+v", m)
		// A frame carrying the message encodes it in place, byte for byte
		// as a frame carrying its encoding as Data.
		viaData := encodeFrame(ServerFrame{Type: EventMessage, ConversationID: "c", Seq: m.Seq, Data: want})
		inPlace := encodeFrame(ServerFrame{Type: EventMessage, ConversationID: "c", Seq: m.Seq, msg: &m})
		require.Equal(t, string(viaData), string(inPlace))
	}
}

func BenchmarkMarshalMessage(b *testing.B) {
	m := attendance.Message{ID: "m-123456", ConversationID: "6b1f0a2c-0000-4000-8000-000000000001", Seq: 42, Kind: attendance.KindText,
		Sender: attendance.Principal{Role: attendance.RoleAgent, ID: "a17"}, Body: string(make([]byte, 0, 256)) + "1764171787000000000|xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		CreatedAt: time.Now()}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(&m)
		}
	})
	b.Run("marshalMessage", func(b *testing.B) {
		for b.Loop() {
			_ = marshalMessage(&m)
		}
	})
}
