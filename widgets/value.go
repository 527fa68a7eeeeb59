package widgets

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a table column and of the values in it. The panel
// formats and aligns a value by its kind, so a provider never sends
// preformatted money or dates.
type Kind string

const (
	// KindText is free text, shown as is.
	KindText Kind = "text"
	// KindMoney is an amount in Brazilian reais, held as integer centavos
	// ([BRL]) and shown as "R$ 1.234,56".
	KindMoney Kind = "money"
	// KindDate is a calendar date without time of day ([Date]), shown as
	// "31/12/2025".
	KindDate Kind = "date"
	// KindNumber is a plain number (a quantity, a percentage), shown with a
	// decimal comma.
	KindNumber Kind = "number"
)

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindText, KindMoney, KindDate, KindNumber:
		return true
	}
	return false
}

// BRL is an amount of Brazilian reais in integer centavos: BRL(12345) is
// R$ 123,45. Integer centavos keep sums exact.
type BRL int64

// Reais returns the amount for a number of whole reais and centavos, e.g.
// Reais(123, 45) is R$ 123,45. For negative amounts pass a negative reais
// and a non-negative centavos: Reais(-1, 50) is -R$ 1,50; under one real,
// negative centavos: Reais(0, -50) is -R$ 0,50 (as is BRL(-50)).
func Reais(reais int64, centavos int64) BRL {
	if reais < 0 {
		return BRL(reais*100 - centavos)
	}
	return BRL(reais*100 + centavos)
}

// String formats the amount the Brazilian way: "R$ 1.234,56", "-R$ 0,50".
func (b BRL) String() string {
	v := int64(b)
	sign := ""
	if v < 0 {
		sign = "-"
	}
	// Work with the magnitude as uint64 so math.MinInt64 does not overflow.
	u := uint64(v)
	if v < 0 {
		u = uint64(-(v + 1)) + 1
	}
	return sign + "R$ " + groupThousands(strconv.FormatUint(u/100, 10)) + "," + fmt.Sprintf("%02d", u%100)
}

// groupThousands inserts a dot every three digits from the right.
func groupThousands(digits string) string {
	if len(digits) <= 3 {
		return digits
	}
	var sb strings.Builder
	head := len(digits) % 3
	if head > 0 {
		sb.WriteString(digits[:head])
	}
	for i := head; i < len(digits); i += 3 {
		if sb.Len() > 0 {
			sb.WriteByte('.')
		}
		sb.WriteString(digits[i : i+3])
	}
	return sb.String()
}

// Date is a calendar date with no time of day and no time zone: a due date,
// the date a procedure was performed. The zero Date means "no date".
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// NewDate returns the date year-month-day. It does not normalise: use
// [Date.Valid] to check a date built from untrusted parts.
func NewDate(year int, month time.Month, day int) Date {
	return Date{Year: year, Month: month, Day: day}
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// ParseDate parses an ISO date "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("widgets: bad date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// Valid reports whether d is a real calendar date between the years 1 and
// 9999 (31 February is not).
func (d Date) Valid() bool {
	if d.Year < 1 || d.Year > 9999 {
		return false
	}
	return DateOf(d.Time(time.UTC)) == d
}

// Time returns midnight of d in loc.
func (d Date) Time(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// AddDays returns d moved by n days (n may be negative).
func (d Date) AddDays(n int) Date { return DateOf(d.Time(time.UTC).AddDate(0, 0, n)) }

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmpInt(d.Year, e.Year)
	case d.Month != e.Month:
		return cmpInt(int(d.Month), int(e.Month))
	default:
		return cmpInt(d.Day, e.Day)
	}
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.Compare(e) > 0 }

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// String formats the date the Brazilian way, "31/12/2025"; the zero Date is
// the empty string.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%02d/%02d/%04d", d.Day, int(d.Month), d.Year)
}

// ISO formats the date as "2025-12-31"; the zero Date is the empty string.
func (d Date) ISO() string {
	if d.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// MarshalJSON encodes the date as an ISO string, or null for the zero Date.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.ISO())
}

// UnmarshalJSON decodes an ISO date string or null.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = Date{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("widgets: date must be a string: %w", err)
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Value is one typed value: a table cell or the value of a key-value field.
// Build values with [TextValue], [MoneyValue], [DateValue] and
// [NumberValue]; the zero Value is an empty cell, shown as a dash. Only the
// field that matches Kind may be set.
type Value struct {
	// Kind says which of the other fields holds the value; empty for an
	// empty cell.
	Kind Kind `json:"kind,omitempty"`
	// Text is the value of a KindText value.
	Text string `json:"text,omitempty"`
	// Money is the value of a KindMoney value, in centavos.
	Money BRL `json:"centavos,omitempty"`
	// Date is the value of a KindDate value.
	Date Date `json:"date,omitzero"`
	// Number is the value of a KindNumber value; it must be finite.
	Number float64 `json:"number,omitempty"`
}

// TextValue returns a text value.
func TextValue(s string) Value { return Value{Kind: KindText, Text: s} }

// MoneyValue returns an amount in reais; see [BRL] and [Reais].
func MoneyValue(b BRL) Value { return Value{Kind: KindMoney, Money: b} }

// DateValue returns a date value; the zero Date ("no date") gives the
// empty cell.
func DateValue(d Date) Value {
	if d.IsZero() {
		return Value{}
	}
	return Value{Kind: KindDate, Date: d}
}

// NumberValue returns a number value.
func NumberValue(f float64) Value { return Value{Kind: KindNumber, Number: f} }

// IsEmpty reports whether v is the empty cell.
func (v Value) IsEmpty() bool { return v == Value{} }

// String formats v for display in pt-BR: text as is, money as "R$ 1.234,56",
// dates as "31/12/2025", numbers with a decimal comma and at most two
// decimals, and the empty cell as "—".
func (v Value) String() string {
	switch v.Kind {
	case KindText:
		return v.Text
	case KindMoney:
		return v.Money.String()
	case KindDate:
		return v.Date.String()
	case KindNumber:
		return formatNumber(v.Number)
	}
	return "—"
}

// formatNumber writes f with at most two decimals, a decimal comma and dots
// between thousands: 1234.5 -> "1.234,5".
func formatNumber(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "?"
	}
	s := strconv.FormatFloat(f, 'f', 2, 64)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	frac = strings.TrimRight(frac, "0")
	out := sign + groupThousands(intPart)
	if frac != "" {
		out += "," + frac
	}
	if out == "-0" {
		out = "0"
	}
	return out
}

// validate checks that v is well formed and, if want is not empty, that it
// is of kind want (or the empty cell).
func (v Value) validate(want Kind) string {
	if v.IsEmpty() {
		return ""
	}
	if !v.Kind.Valid() {
		return fmt.Sprintf("unknown value kind %q", v.Kind)
	}
	if want != "" && v.Kind != want {
		return fmt.Sprintf("%s value in a %s column", v.Kind, want)
	}
	other := Value{Kind: v.Kind}
	switch v.Kind {
	case KindText:
		if reason := checkText(v.Text, MaxTextBytes, true); reason != "" {
			return reason
		}
		other.Text = v.Text
	case KindMoney:
		other.Money = v.Money
	case KindDate:
		if !v.Date.Valid() {
			return fmt.Sprintf("invalid date %04d-%02d-%02d", v.Date.Year, int(v.Date.Month), v.Date.Day)
		}
		other.Date = v.Date
	case KindNumber:
		if math.IsNaN(v.Number) || math.IsInf(v.Number, 0) {
			return "number is not finite"
		}
		other.Number = v.Number
	}
	if other != v {
		return fmt.Sprintf("%s value sets a field of another kind", v.Kind)
	}
	return ""
}
