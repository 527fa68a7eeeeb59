package rules

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
)

// NormTime returns t in UTC truncated to the microsecond, the precision the
// SQL stores keep. The zero time stays zero.
func NormTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// CopyMessage returns m with its pointers copied, so that the caller's
// values are never shared.
func CopyMessage(m attendance.Message) attendance.Message {
	if m.Attachment != nil {
		a := *m.Attachment
		m.Attachment = &a
	}
	if m.Event != nil {
		e := *m.Event
		m.Event = &e
	}
	return m
}

// NormMessage is m as a SQL store keeps it: times normalized, pointers
// copied.
func NormMessage(m attendance.Message) attendance.Message {
	m = CopyMessage(m)
	m.CreatedAt = NormTime(m.CreatedAt)
	return m
}

// NullString stores an empty string as NULL (used for foreign keys).
func NullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// storedProfile is the JSON form of attendance.Profile kept in
// agents.profile. It has no omitempty, so nil and empty slices survive the
// round trip as they were given.
type storedProfile struct {
	Min                int           `json:"min"`
	Max                int           `json:"max"`
	Queues             []string      `json:"queues"`
	OfferTimeout       time.Duration `json:"offer_timeout"`
	AutoAcceptBelowMin bool          `json:"auto_accept_below_min"`
	Widgets            []string      `json:"widgets"`
	Shortcuts          string        `json:"shortcuts"`
}

// EncodeProfile is the JSON text of p as a SQL store keeps it.
func EncodeProfile(prefix string, p attendance.Profile) (string, error) {
	b, err := json.Marshal(storedProfile(p))
	if err != nil {
		return "", fmt.Errorf("%s: encode profile: %w", prefix, err)
	}
	return string(b), nil
}

// DecodeProfile is the inverse of EncodeProfile.
func DecodeProfile(prefix string, b []byte) (attendance.Profile, error) {
	var sp storedProfile
	if err := json.Unmarshal(b, &sp); err != nil {
		return attendance.Profile{}, fmt.Errorf("%s: decode profile: %w", prefix, err)
	}
	return attendance.Profile(sp), nil
}

// EncodeJSON stores a nil pointer as NULL and anything else as JSON text.
func EncodeJSON[T any](prefix string, v *T) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: encode %T: %w", prefix, v, err)
	}
	return string(b), nil
}

// DecodeJSON is the inverse of EncodeJSON; nil (NULL) decodes to nil.
func DecodeJSON[T any](prefix string, b []byte) (*T, error) {
	if b == nil {
		return nil, nil
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("%s: decode %T: %w", prefix, out, err)
	}
	return out, nil
}
