package transport

import "unicode/utf8"

// fastSend decodes the common shape of a send command without
// encoding/json: an object with exactly the keys "type" ("send"), "id" and
// "data" in any order, data an object with some of "conversation_id",
// "body" and "idempotency_key", every value a string without escapes or
// control characters, valid UTF-8, nothing after the object but JSON
// whitespace. For anything else (escapes, attachments, other keys or
// spellings, a repeated key, a bad ID) it reports false and the caller
// uses DecodeClientFrame, which defines the behaviour; a test checks that
// both agree wherever fastSend accepts.
func fastSend(b []byte) (id string, p SendParams, ok bool) {
	d := fastDec{b: b}
	var typ []byte
	var haveType, haveID, haveData bool
	if !d.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "type":
			if haveType {
				return false
			}
			haveType = true
			typ, ok = d.strBytes()
		case "id":
			if haveID {
				return false
			}
			haveID = true
			id, ok = d.str()
		case "data":
			if haveData {
				return false
			}
			haveData = true
			ok = d.sendParams(&p)
		}
		return ok
	}) {
		return "", SendParams{}, false
	}
	d.ws()
	if d.i != len(d.b) || !haveType || string(typ) != CmdSend || !haveData || id == "" || len(id) > MaxRequestIDBytes {
		return "", SendParams{}, false
	}
	return id, p, true
}

type fastDec struct {
	b []byte
	i int
}

func (d *fastDec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDec) next(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// object reads {"key": value, ...}, letting field read each value; an
// empty object is refused (no command is empty).
func (d *fastDec) object(field func(key []byte) bool) bool {
	if !d.next('{') {
		return false
	}
	for {
		d.ws()
		key, ok := d.strBytes()
		if !ok || !d.next(':') {
			return false
		}
		d.ws()
		if !field(key) {
			return false
		}
		if d.next('}') {
			return true
		}
		if !d.next(',') {
			return false
		}
	}
}

// str reads a string with no escape and no control character, valid
// UTF-8 (exactly the strings encoding/json decodes to their own bytes).
func (d *fastDec) str() (string, bool) {
	b, ok := d.strBytes()
	return string(b), ok
}

// strBytes is str without the copy: the bytes stay in the frame.
func (d *fastDec) strBytes() ([]byte, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			d.i = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

func (d *fastDec) sendParams(p *SendParams) bool {
	var haveConv, haveBody, haveKey bool
	return d.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "conversation_id":
			if haveConv {
				return false
			}
			haveConv = true
			p.ConversationID, ok = d.str()
		case "body":
			if haveBody {
				return false
			}
			haveBody = true
			p.Body, ok = d.str()
		case "idempotency_key":
			if haveKey {
				return false
			}
			haveKey = true
			p.IdempotencyKey, ok = d.str()
		}
		return ok
	})
}
