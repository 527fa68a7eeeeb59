package beneficiary

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
)

// ErrInvalidCPF: ParseCPF was given something that is not a valid CPF.
var ErrInvalidCPF = errors.New("beneficiary: invalid CPF")

// CPF is a Brazilian individual taxpayer number: 11 digits, no punctuation.
// It is personal data, so every way Go prints it masks it: String, fmt's
// verbs (%v, %s, %q, %x, %#v), slog and JSON all give "***.456.789-**".
// Only [CPF.Reveal] returns the digits, and the [Service] uses it only where
// the host allows (Config.RevealCPF).
type CPF string

// ParseCPF accepts "123.456.789-09" or "12345678909" and checks the two
// check digits. Eleven equal digits are rejected, as the Receita does.
func ParseCPF(s string) (CPF, error) {
	digits := make([]byte, 0, 11)
	for i := range len(s) {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == '.' || c == '-' || c == ' ':
		default:
			return "", fmt.Errorf("%w: unexpected character", ErrInvalidCPF)
		}
	}
	c := CPF(digits)
	if !c.Valid() {
		return "", fmt.Errorf("%w: wrong length or check digits", ErrInvalidCPF)
	}
	return c, nil
}

// Valid reports whether c is 11 digits with correct check digits and not
// all equal.
func (c CPF) Valid() bool {
	if len(c) != 11 {
		return false
	}
	same := true
	for i := range 11 {
		if c[i] < '0' || c[i] > '9' {
			return false
		}
		if c[i] != c[0] {
			same = false
		}
	}
	if same {
		return false
	}
	return cpfDigit(string(c[:9])) == int(c[9]-'0') && cpfDigit(string(c[:10])) == int(c[10]-'0')
}

// cpfDigit computes the next CPF check digit of the digits given: weights
// from len+1 down to 2, remainder of 10*sum by 11, with 10 counting as 0.
func cpfDigit(digits string) int {
	sum := 0
	for i := range len(digits) {
		sum += int(digits[i]-'0') * (len(digits) + 1 - i)
	}
	d := sum * 10 % 11
	if d == 10 {
		return 0
	}
	return d
}

// Masked shows only the middle six digits: "***.456.789-**". A malformed
// value is "***.***.***-**".
func (c CPF) Masked() string {
	if len(c) != 11 {
		return "***.***.***-**"
	}
	return "***." + string(c[3:6]) + "." + string(c[6:9]) + "-**"
}

// Reveal returns the CPF formatted in full, "123.456.789-09". Call it only
// where the host has decided the viewer may see it; never log its result.
func (c CPF) Reveal() string {
	if len(c) != 11 {
		return string(c)
	}
	return string(c[0:3]) + "." + string(c[3:6]) + "." + string(c[6:9]) + "-" + string(c[9:11])
}

// String returns the masked form.
func (c CPF) String() string { return c.Masked() }

// GoString returns the masked form, so %#v does not leak it either.
func (c CPF) GoString() string { return fmt.Sprintf("beneficiary.CPF(%q)", c.Masked()) }

// Format prints the masked form for every verb.
func (c CPF) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", c.Masked())
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, c.GoString())
			return
		}
		fmt.Fprint(f, c.Masked())
	default:
		fmt.Fprint(f, c.Masked())
	}
}

// LogValue makes slog print the masked form.
func (c CPF) LogValue() slog.Value { return slog.StringValue(c.Masked()) }

// MarshalJSON encodes the masked form. A CPF does not survive a JSON round
// trip by design; hosts store the digits themselves.
func (c CPF) MarshalJSON() ([]byte, error) { return json.Marshal(c.Masked()) }
