package boleto

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrFormat: the input is not a digitable line at all: wrong length,
	// characters other than digits and the usual separators, or a 48-digit
	// line that does not start with the collection product digit 8 or has an
	// unknown value identifier.
	ErrFormat = errors.New("boleto: malformed digitable line")
	// ErrCheckDigit: a check digit does not match; the error is a
	// *CheckDigitError.
	ErrCheckDigit = errors.New("boleto: check digit mismatch")
	// ErrInvalidSlip: NewBankLine or FromBarcode was given bad parts.
	ErrInvalidSlip = errors.New("boleto: invalid slip data")
)

// CheckDigitError is a check digit that does not match. errors.Is(err,
// ErrCheckDigit) holds for it.
type CheckDigitError struct {
	// Part is "field 1", "field 2", "field 3" (bank slips), "block 1" to
	// "block 4" (collection slips) or "general".
	Part string
	// Want is the digit the algorithm computes; Got is the one in the line.
	Want, Got int
}

// Error names the part and both digits.
func (e *CheckDigitError) Error() string {
	return fmt.Sprintf("boleto: %s check digit is %d, want %d", e.Part, e.Got, e.Want)
}

// Is makes errors.Is(err, ErrCheckDigit) true.
func (e *CheckDigitError) Is(target error) bool { return target == ErrCheckDigit }

// Kind says which of the two layouts a line follows.
type Kind string

const (
	// KindBank is the bank slip (boleto de cobrança, ficha de compensação):
	// 47 digits, 44 in the barcode.
	KindBank Kind = "bank"
	// KindCollection is the collection slip (arrecadação: utilities, taxes,
	// agreements): 48 digits, 44 in the barcode, first digit 8.
	KindCollection Kind = "collection"
)

// Line is a validated digitable line.
type Line struct {
	// Kind is the layout.
	Kind Kind
	// Digits are the 47 or 48 digits of the line, no separators.
	Digits string
	// Barcode is the 44-digit content of the barcode the line encodes.
	Barcode string
}

// Parse validates a digitable line and returns it. Spaces, dots and hyphens
// are ignored, so the printed form ("00190.00009 01234.567890 ...") and the
// bare digits both work. A 47-digit line is a bank slip: each of its first
// three fields ends in a modulo-10 check digit, and the general check digit
// (the fourth field) is modulo 11 over the barcode. A 48-digit line is a
// collection slip: four blocks of eleven digits, each followed by a check
// digit, modulo 10 or 11 as the third digit says (6 or 7: modulo 10; 8 or 9:
// modulo 11), and the barcode's fourth digit is the general check digit by
// the same modulo.
//
// The error matches ErrFormat or ErrCheckDigit (a *CheckDigitError saying
// which part is wrong).
func Parse(s string) (Line, error) {
	digits, err := normalize(s)
	if err != nil {
		return Line{}, err
	}
	switch len(digits) {
	case 47:
		return parseBank(digits)
	case 48:
		return parseCollection(digits)
	}
	return Line{}, fmt.Errorf("%w: %d digits, want 47 (bank slip) or 48 (collection slip)", ErrFormat, len(digits))
}

// Validate reports whether s is a valid digitable line; see Parse.
func Validate(s string) error {
	_, err := Parse(s)
	return err
}

func normalize(s string) (string, error) {
	if len(s) > 80 {
		return "", fmt.Errorf("%w: %d characters", ErrFormat, len(s))
	}
	var sb strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			sb.WriteRune(r)
		case r == ' ' || r == '.' || r == '-':
		default:
			return "", fmt.Errorf("%w: unexpected character at position %d", ErrFormat, i+1)
		}
	}
	return sb.String(), nil
}

// Bank slip layout. Barcode (44): bank(3) currency(1) DV(1) factor(4)
// amount(10) free(25). Line (47): field 1 = bank, currency, free[0:5], DV;
// field 2 = free[5:15], DV; field 3 = free[15:25], DV; field 4 = general DV;
// field 5 = factor, amount.
func parseBank(d string) (Line, error) {
	fields := []struct {
		part string
		data string
		dv   byte
	}{
		{"field 1", d[0:9], d[9]},
		{"field 2", d[10:20], d[20]},
		{"field 3", d[21:31], d[31]},
	}
	for _, f := range fields {
		if want := Mod10(f.data); want != int(f.dv-'0') {
			return Line{}, &CheckDigitError{Part: f.part, Want: want, Got: int(f.dv - '0')}
		}
	}
	free := d[4:9] + d[10:20] + d[21:31]
	barcode := d[0:4] + d[32:33] + d[33:47] + free
	if want, got := bankGeneralDigit(barcode[:4]+barcode[5:]), int(barcode[4]-'0'); want != got {
		return Line{}, &CheckDigitError{Part: "general", Want: want, Got: got}
	}
	return Line{Kind: KindBank, Digits: d, Barcode: barcode}, nil
}

// Collection slip layout. Barcode (44): product 8, segment, value id, DV,
// value(11), then company and free digits. Line (48): the barcode in four
// blocks of 11 digits, each followed by its check digit.
func parseCollection(d string) (Line, error) {
	if d[0] != '8' {
		return Line{}, fmt.Errorf("%w: a 48-digit line must start with 8 (collection product)", ErrFormat)
	}
	mod, err := collectionModulo(d[2])
	if err != nil {
		return Line{}, err
	}
	var barcode strings.Builder
	for i := range 4 {
		block := d[i*12 : i*12+11]
		got := int(d[i*12+11] - '0')
		if want := mod(block); want != got {
			return Line{}, &CheckDigitError{Part: fmt.Sprintf("block %d", i+1), Want: want, Got: got}
		}
		barcode.WriteString(block)
	}
	bc := barcode.String()
	if want, got := mod(bc[:3]+bc[4:]), int(bc[3]-'0'); want != got {
		return Line{}, &CheckDigitError{Part: "general", Want: want, Got: got}
	}
	return Line{Kind: KindCollection, Digits: d, Barcode: bc}, nil
}

func collectionModulo(valueID byte) (func(string) int, error) {
	switch valueID {
	case '6', '7':
		return Mod10, nil
	case '8', '9':
		return mod11Collection, nil
	}
	return nil, fmt.Errorf("%w: value identifier %c, want 6, 7, 8 or 9", ErrFormat, valueID)
}

// Mod10 computes a modulo-10 check digit of a string of digits: from the
// rightmost digit, multiply by 2, 1, 2, 1, ...; add the digits of each
// product (a product of 12 adds 1+2); the check digit is what takes the sum
// up to the next multiple of ten (0 if it already is one). It panics on a
// non-digit, which is a programming error.
func Mod10(digits string) int {
	sum := 0
	weight := 2
	for i := len(digits) - 1; i >= 0; i-- {
		p := digit(digits[i]) * weight
		sum += p/10 + p%10
		weight = 3 - weight
	}
	return (10 - sum%10) % 10
}

// mod11Sum weighs digits from the right by 2, 3, ..., 9, 2, 3, ... and
// returns the sum modulo 11.
func mod11Sum(digits string) int {
	sum := 0
	weight := 2
	for i := len(digits) - 1; i >= 0; i-- {
		sum += digit(digits[i]) * weight
		weight++
		if weight > 9 {
			weight = 2
		}
	}
	return sum % 11
}

// bankGeneralDigit is the bank slip's general check digit over the 43
// barcode digits other than itself: 11 minus the modulo-11 remainder, and 1
// when that gives 0, 10 or 11.
func bankGeneralDigit(digits43 string) int {
	dv := 11 - mod11Sum(digits43)
	if dv == 0 || dv == 10 || dv == 11 {
		return 1
	}
	return dv
}

// mod11Collection is the collection slip's modulo-11 check digit: 11 minus
// the remainder, and 0 when the remainder is 0 or 1.
func mod11Collection(digits string) int {
	r := mod11Sum(digits)
	if r <= 1 {
		return 0
	}
	return 11 - r
}

func digit(c byte) int {
	if c < '0' || c > '9' {
		panic(fmt.Sprintf("boleto: non-digit %q", c))
	}
	return int(c - '0')
}

// Formatted returns the line as printed on a slip: "AAAAA.AAAAA
// BBBBB.BBBBBB CCCCC.CCCCCC D EEEEEEEEEEEEEE" for a bank slip and
// "AAAAAAAAAAA-A BBBBBBBBBBB-B CCCCCCCCCCC-C DDDDDDDDDDD-D" for a
// collection slip.
func (l Line) Formatted() string {
	d := l.Digits
	if !l.wellFormed() {
		return d
	}
	switch l.Kind {
	case KindBank:
		return d[0:5] + "." + d[5:10] + " " + d[10:15] + "." + d[15:21] + " " + d[21:26] + "." + d[26:32] + " " + d[32:33] + " " + d[33:47]
	case KindCollection:
		return d[0:11] + "-" + d[11:12] + " " + d[12:23] + "-" + d[23:24] + " " + d[24:35] + "-" + d[35:36] + " " + d[36:47] + "-" + d[47:48]
	}
	return d
}

// wellFormed reports whether l has the shape Parse gives a Line. The
// methods of a Line built otherwise (by hand, or decoded from storage)
// return the digits as they are, or zero, rather than panic.
func (l Line) wellFormed() bool {
	if len(l.Barcode) != 44 || !allDigits(l.Barcode) || !allDigits(l.Digits) {
		return false
	}
	switch l.Kind {
	case KindBank:
		return len(l.Digits) == 47
	case KindCollection:
		return len(l.Digits) == 48
	}
	return false
}

// String returns Formatted.
func (l Line) String() string { return l.Formatted() }

// BankCode returns the issuing bank's three-digit code (bank slips only;
// empty otherwise).
func (l Line) BankCode() string {
	if l.Kind != KindBank || !l.wellFormed() {
		return ""
	}
	return l.Barcode[0:3]
}

// Amount returns the amount in centavos: barcode digits 10-19 of a bank
// slip, or 5-15 of a collection slip whose value identifier is 6 or 8 (an
// amount in reais). It is 0 when the slip carries no amount ("valor em
// aberto") or, for identifiers 7 and 9, an amount in another unit.
func (l Line) Amount() int64 {
	if !l.wellFormed() {
		return 0
	}
	var s string
	switch {
	case l.Kind == KindBank:
		s = l.Barcode[9:19]
	case l.Kind == KindCollection && (l.Barcode[2] == '6' || l.Barcode[2] == '8'):
		s = l.Barcode[4:15]
	default:
		return 0
	}
	var v int64
	for i := range len(s) {
		v = v*10 + int64(s[i]-'0')
	}
	return v
}

// DueFactor returns a bank slip's due-date factor (barcode digits 6-9): 0
// means no due date; otherwise days counted as [DueDate] explains.
func (l Line) DueFactor() int {
	if l.Kind != KindBank || !l.wellFormed() {
		return 0
	}
	return int(l.Barcode[5]-'0')*1000 + int(l.Barcode[6]-'0')*100 + int(l.Barcode[7]-'0')*10 + int(l.Barcode[8]-'0')
}

var (
	factorBase  = time.Date(1997, time.October, 7, 0, 0, 0, 0, time.UTC)
	factorReset = time.Date(2025, time.February, 22, 0, 0, 0, 0, time.UTC)
)

// DueDate converts a due-date factor to a date (midnight UTC). Factors count
// days from 7 October 1997; when they reached 9999 (21 February 2025) they
// restarted at 1000 on 22 February 2025, so a factor names two dates about
// 24 years apart. DueDate returns the one nearer ref. ok is false for a
// factor outside 1000-9999.
func DueDate(factor int, ref time.Time) (due time.Time, ok bool) {
	if factor < 1000 || factor > 9999 {
		return time.Time{}, false
	}
	old := factorBase.AddDate(0, 0, factor)
	cur := factorReset.AddDate(0, 0, factor-1000)
	if absDuration(ref.Sub(old)) < absDuration(ref.Sub(cur)) {
		return old, true
	}
	return cur, true
}

// Factor returns the due-date factor of a date in the current cycle, which
// began on 22 February 2025 (factor 1000); dates from 3 July 2000 to 21
// February 2025 get their factor in the first cycle. ok is false for dates
// outside both.
func Factor(due time.Time) (factor int, ok bool) {
	y, m, d := due.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	if !day.Before(factorReset) {
		f := 1000 + int(day.Sub(factorReset).Hours()/24)
		return f, f <= 9999
	}
	f := int(day.Sub(factorBase).Hours() / 24)
	return f, f >= 1000
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// BankSlip holds the parts of a bank slip's barcode, for [NewBankLine].
type BankSlip struct {
	// BankCode is the issuing bank's three-digit code, e.g. "001".
	BankCode string
	// Currency is the currency digit; 0 means 9 (reais), the only one in use.
	Currency int
	// DueFactor is 0 (no due date) or 1000-9999; see [Factor].
	DueFactor int
	// Amount in centavos, 0 to 9,999,999,999.
	Amount int64
	// FreeField is the bank's 25 digits (agreement, our number, agency...).
	FreeField string
}

// NewBankLine builds a valid bank-slip line from its parts, computing every
// check digit. Bad parts are ErrInvalidSlip.
func NewBankLine(s BankSlip) (Line, error) {
	if s.Currency == 0 {
		s.Currency = 9
	}
	switch {
	case len(s.BankCode) != 3 || !allDigits(s.BankCode):
		return Line{}, fmt.Errorf("%w: BankCode must be 3 digits", ErrInvalidSlip)
	case s.Currency < 0 || s.Currency > 9:
		return Line{}, fmt.Errorf("%w: Currency must be one digit", ErrInvalidSlip)
	case s.DueFactor != 0 && (s.DueFactor < 1000 || s.DueFactor > 9999):
		return Line{}, fmt.Errorf("%w: DueFactor must be 0 or 1000-9999", ErrInvalidSlip)
	case s.Amount < 0 || s.Amount > 9_999_999_999:
		return Line{}, fmt.Errorf("%w: Amount out of range", ErrInvalidSlip)
	case len(s.FreeField) != 25 || !allDigits(s.FreeField):
		return Line{}, fmt.Errorf("%w: FreeField must be 25 digits", ErrInvalidSlip)
	}
	head := fmt.Sprintf("%s%d", s.BankCode, s.Currency)
	tail := fmt.Sprintf("%04d%010d", s.DueFactor, s.Amount)
	dv := bankGeneralDigit(head + tail + s.FreeField)
	barcode := fmt.Sprintf("%s%d%s%s", head, dv, tail, s.FreeField)

	f1 := head + s.FreeField[0:5]
	f2 := s.FreeField[5:15]
	f3 := s.FreeField[15:25]
	digits := fmt.Sprintf("%s%d%s%d%s%d%d%s", f1, Mod10(f1), f2, Mod10(f2), f3, Mod10(f3), dv, tail)
	return Line{Kind: KindBank, Digits: digits, Barcode: barcode}, nil
}

// FromBarcode validates a 44-digit barcode and returns its digitable line.
// A barcode starting with 8 is read as a collection slip, any other as a
// bank slip (a bank whose code starts with 8 cannot be told apart here; use
// Parse on its line instead).
// A wrong general check digit is a *CheckDigitError; other problems are
// ErrFormat.
func FromBarcode(barcode string) (Line, error) {
	if len(barcode) != 44 || !allDigits(barcode) {
		return Line{}, fmt.Errorf("%w: a barcode is 44 digits", ErrFormat)
	}
	if barcode[0] == '8' {
		mod, err := collectionModulo(barcode[2])
		if err != nil {
			return Line{}, err
		}
		if want, got := mod(barcode[:3]+barcode[4:]), int(barcode[3]-'0'); want != got {
			return Line{}, &CheckDigitError{Part: "general", Want: want, Got: got}
		}
		var sb strings.Builder
		for i := range 4 {
			block := barcode[i*11 : i*11+11]
			fmt.Fprintf(&sb, "%s%d", block, mod(block))
		}
		return Line{Kind: KindCollection, Digits: sb.String(), Barcode: barcode}, nil
	}
	if want, got := bankGeneralDigit(barcode[:4]+barcode[5:]), int(barcode[4]-'0'); want != got {
		return Line{}, &CheckDigitError{Part: "general", Want: want, Got: got}
	}
	free := barcode[19:44]
	f1 := barcode[0:4] + free[0:5]
	f2 := free[5:15]
	f3 := free[15:25]
	digits := fmt.Sprintf("%s%d%s%d%s%d%s%s", f1, Mod10(f1), f2, Mod10(f2), f3, Mod10(f3), barcode[4:5], barcode[5:19])
	return Line{Kind: KindBank, Digits: digits, Barcode: barcode}, nil
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
