package memory

import (
	"encoding/binary"
	"hash/maphash"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

// msgLog is one conversation's messages, encoded one after another into
// byte chunks. Byte slices hold no pointers, so the garbage collector never
// scans a log, however long it grows: a store holding millions of messages
// costs each collection about what an empty one does.
// (Kept as attendance.Message values, every message was a dozen pointers
// to scan and four or five objects to mark, and collections grew with the
// history.) Appending encodes; reading decodes into fresh values, so no
// caller ever shares the store's memory.
//
// Records are written into chunks that never move once allocated (a
// record never spans two), so a long log is not copied as it grows; chunks
// double in size from minChunk to maxChunk, so a short conversation stays
// small.
type msgLog struct {
	chunks [][]byte
	recs   []recordLoc // recs[i] locates the record of Seq i+1
	// keys finds a message by sender and idempotency key: hash -> Seq. A
	// slot taken by another (sender, key) with the same hash moves the
	// search to the next hash value, and every hit is confirmed against the
	// record itself, so a collision can never return another message.
	keys map[uint64]int64
}

// recordLoc is where a record lies: chunks[chunk][start:end].
type recordLoc struct{ chunk, start, end int32 }

const (
	minChunk = 1 << 10
	maxChunk = 64 << 10
)

// keySeed seeds the idempotency hashes of every log.
var keySeed = maphash.MakeSeed()

// len is the number of messages, which is also the last Seq.
func (l *msgLog) len() int { return len(l.recs) }

// append encodes m as the next record and returns m as stored: with
// CreatedAt in UTC, as every read returns it. ConversationID and Seq are
// not stored: they are the log's own and the record's position.
func (l *msgLog) append(m attendance.Message) attendance.Message {
	m.CreatedAt = m.CreatedAt.UTC()
	need := recordBound(m)
	last := len(l.chunks) - 1
	if last < 0 || cap(l.chunks[last])-len(l.chunks[last]) < need {
		size := minChunk
		if last >= 0 {
			size = min(2*cap(l.chunks[last]), maxChunk)
		}
		l.chunks = append(l.chunks, make([]byte, 0, max(size, need)))
		last++
	}
	start := len(l.chunks[last])
	l.chunks[last] = encodeRecord(l.chunks[last], m)
	l.recs = append(l.recs, recordLoc{chunk: int32(last), start: int32(start), end: int32(len(l.chunks[last]))})
	if m.IdempotencyKey != "" {
		if l.keys == nil {
			l.keys = make(map[uint64]int64)
		}
		h := keyHash(m.Sender, m.IdempotencyKey)
		for {
			if _, taken := l.keys[h]; !taken {
				l.keys[h] = int64(len(l.recs))
				break
			}
			h++
		}
	}
	return m
}

// recordBound is at least the size of m's record: every field's bytes
// and the longest length prefix each could need.
func recordBound(m attendance.Message) int {
	n := len(m.ID) + len(m.Kind) + len(m.Sender.Role) + len(m.Sender.ID) + len(m.Body) + len(m.IdempotencyKey)
	fields := 6 + 2 + 2 // strings, the time's two numbers, two flags
	if a := m.Attachment; a != nil {
		n += len(a.BlobID) + len(a.Name) + len(a.ContentType) + len(a.SHA256)
		fields += 5
	}
	if e := m.Event; e != nil {
		n += len(e.Type) + len(e.From) + len(e.To) + len(e.AgentID) + len(e.QueueID) + len(e.Reason) + len(e.Note)
		fields += 7
	}
	return n + fields*binary.MaxVarintLen64
}

// encodeRecord appends m's record to b. Its callers make room first
// (recordBound), so that a chunk is never reallocated.
func encodeRecord(b []byte, m attendance.Message) []byte {
	b = putString(b, m.ID)
	b = putString(b, string(m.Kind))
	b = putString(b, string(m.Sender.Role))
	b = putString(b, m.Sender.ID)
	b = putString(b, m.Body)
	b = putString(b, m.IdempotencyKey)
	b = binary.AppendVarint(b, m.CreatedAt.Unix())
	b = binary.AppendUvarint(b, uint64(m.CreatedAt.Nanosecond()))
	if a := m.Attachment; a != nil {
		b = append(b, 1)
		b = putString(b, a.BlobID)
		b = putString(b, a.Name)
		b = putString(b, a.ContentType)
		b = binary.AppendVarint(b, a.Size)
		b = putString(b, a.SHA256)
	} else {
		b = append(b, 0)
	}
	if e := m.Event; e != nil {
		b = append(b, 1)
		b = putString(b, string(e.Type))
		b = putString(b, string(e.From))
		b = putString(b, string(e.To))
		b = putString(b, e.AgentID)
		b = putString(b, e.QueueID)
		b = putString(b, e.Reason)
		b = putString(b, e.Note)
	} else {
		b = append(b, 0)
	}
	return b
}

// byKey returns the Seq of sender's message with idempotency key, if any.
func (l *msgLog) byKey(sender attendance.Principal, key string) (int64, bool) {
	for h := keyHash(sender, key); ; h++ {
		seq, ok := l.keys[h]
		if !ok {
			return 0, false
		}
		if l.sentWith(seq, sender, key) {
			return seq, true
		}
	}
}

// sentWith reports whether record seq has the given sender and key,
// comparing bytes without building the message.
func (l *msgLog) sentWith(seq int64, sender attendance.Principal, key string) bool {
	d := l.record(seq)
	d.skip() // ID
	d.skip() // Kind
	if string(d.next()) != string(sender.Role) || string(d.next()) != sender.ID {
		return false
	}
	d.skip() // Body
	return string(d.next()) == key
}

// message decodes the message with the given Seq, for the conversation id.
func (l *msgLog) message(conversationID string, seq int64) attendance.Message {
	d := l.record(seq)
	m := attendance.Message{
		ConversationID: conversationID,
		Seq:            seq,
		ID:             string(d.next()),
		Kind:           attendance.MessageKind(d.next()),
		Sender:         attendance.Principal{Role: attendance.Role(d.next()), ID: string(d.next())},
		Body:           string(d.next()),
		IdempotencyKey: string(d.next()),
	}
	sec := d.varint()
	m.CreatedAt = time.Unix(sec, int64(d.uvarint())).UTC()
	if d.flag() {
		m.Attachment = &attendance.Attachment{
			BlobID: string(d.next()), Name: string(d.next()), ContentType: string(d.next()),
			Size: d.varint(), SHA256: string(d.next()),
		}
	}
	if d.flag() {
		m.Event = &attendance.Event{
			Type: attendance.EventType(d.next()), From: attendance.State(d.next()), To: attendance.State(d.next()),
			AgentID: string(d.next()), QueueID: string(d.next()), Reason: string(d.next()), Note: string(d.next()),
		}
	}
	return m
}

// record returns a decoder over record seq (1-based).
func (l *msgLog) record(seq int64) recordDecoder {
	r := l.recs[seq-1]
	return recordDecoder{b: l.chunks[r.chunk][r.start:r.end]}
}

func keyHash(sender attendance.Principal, key string) uint64 {
	var h maphash.Hash
	h.SetSeed(keySeed)
	h.WriteString(string(sender.Role))
	h.WriteByte(0)
	h.WriteString(sender.ID)
	h.WriteByte(0)
	h.WriteString(key)
	return h.Sum64()
}

func putString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// recordDecoder reads the fields of one record in the order append wrote
// them. The log only decodes what it encoded itself, so it does not check
// for malformed input.
type recordDecoder struct{ b []byte }

// next returns the next string field's bytes, which alias the log: the
// callers copy them with string(), or only compare them.
func (d *recordDecoder) next() []byte {
	n, w := binary.Uvarint(d.b)
	s := d.b[w : w+int(n)]
	d.b = d.b[w+int(n):]
	return s
}

func (d *recordDecoder) skip() { d.next() }

func (d *recordDecoder) varint() int64 {
	v, w := binary.Varint(d.b)
	d.b = d.b[w:]
	return v
}

func (d *recordDecoder) uvarint() uint64 {
	v, w := binary.Uvarint(d.b)
	d.b = d.b[w:]
	return v
}

func (d *recordDecoder) flag() bool {
	f := d.b[0] == 1
	d.b = d.b[1:]
	return f
}
