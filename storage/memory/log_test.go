package memory

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
)

// TestLogRoundTrip stores messages of every shape and size, across many
// chunks and with records larger than a chunk, and reads each back whole.
func TestLogRoundTrip(t *testing.T) {
	var l msgLog
	at := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.FixedZone("BRT", -3*3600))
	var want []attendance.Message
	for i := range 300 {
		m := attendance.Message{
			ID:             "m" + strconv.Itoa(i),
			ConversationID: "c",
			Seq:            int64(i + 1),
			Kind:           attendance.KindText,
			Sender:         attendance.BeneficiaryPrincipal("maria"),
			Body:           strings.Repeat("olá ", i*i%97),
			CreatedAt:      at.Add(time.Duration(i) * time.Second),
		}
		switch i % 5 {
		case 1:
			m.IdempotencyKey = "k" + strconv.Itoa(i)
		case 2:
			m.Kind, m.Body = attendance.KindAttachment, ""
			m.Attachment = &attendance.Attachment{BlobID: "b", Name: "exame.pdf", ContentType: "application/pdf", Size: 1 << 40, SHA256: "ab"}
		case 3:
			m.Kind, m.Sender, m.Body = attendance.KindSystem, attendance.SystemPrincipal, ""
			m.Event = &attendance.Event{Type: attendance.EventTransferred, From: attendance.StateActive, To: attendance.StateQueued, QueueID: "q", Note: "nota"}
		case 4:
			if i == 104 {
				m.Body = strings.Repeat("x", 2*maxChunk) // a record bigger than any chunk
			}
		}
		stored := l.append(m)
		require.Equal(t, time.UTC, stored.CreatedAt.Location())
		want = append(want, m)
	}
	require.Greater(t, len(l.chunks), 3)
	for i, w := range want {
		got := l.message("c", int64(i+1))
		require.True(t, w.CreatedAt.Equal(got.CreatedAt), "Seq %d CreatedAt", i+1)
		got.CreatedAt = w.CreatedAt
		require.Equal(t, w, got, "Seq %d", i+1)
	}
	for _, c := range l.chunks {
		require.LessOrEqual(t, len(c), cap(c))
	}
}

// TestLogKeys finds messages by sender and key, never another sender's,
// also when two keys hash alike.
func TestLogKeys(t *testing.T) {
	var l msgLog
	ana, maria := attendance.AgentPrincipal("ana"), attendance.BeneficiaryPrincipal("maria")
	l.append(attendance.Message{ID: "1", Kind: attendance.KindText, Sender: ana, Body: "a", IdempotencyKey: "k"})
	l.append(attendance.Message{ID: "2", Kind: attendance.KindText, Sender: maria, Body: "b", IdempotencyKey: "k"})

	seq, ok := l.byKey(ana, "k")
	require.True(t, ok)
	require.EqualValues(t, 1, seq)
	seq, ok = l.byKey(maria, "k")
	require.True(t, ok)
	require.EqualValues(t, 2, seq)
	_, ok = l.byKey(maria, "other")
	require.False(t, ok)
	_, ok = l.byKey(attendance.AgentPrincipal("maria"), "k") // same ID, other role
	require.False(t, ok)

	// A collision: the slot of (maria, "z") is taken by message 1 before
	// "z" is stored; the lookup must check the record and probe on.
	l.keys[keyHash(maria, "z")] = 1
	l.append(attendance.Message{ID: "3", Kind: attendance.KindText, Sender: maria, Body: "c", IdempotencyKey: "z"})
	seq, ok = l.byKey(maria, "z")
	require.True(t, ok)
	require.EqualValues(t, 3, seq)
	seq, ok = l.byKey(ana, "k")
	require.True(t, ok)
	require.EqualValues(t, 1, seq)
}
