package boleto_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/widgets/boleto"
)

// The reference below re-derives the check digits from the published
// algorithm, written independently of the package (explicit weight tables),
// so the tests do not check the code against itself.

// refMod10: weights 2,1,2,1... from the right; products above 9 add their
// digits; the digit completes the sum to a multiple of 10.
func refMod10(s string) int {
	sum := 0
	for i := 0; i < len(s); i++ {
		w := []int{2, 1}[i%2]
		p := int(s[len(s)-1-i]-'0') * w
		if p > 9 {
			p -= 9
		}
		sum += p
	}
	return (10 - sum%10) % 10
}

// refMod11 returns the weighted sum (weights 2..9 from the right) mod 11.
func refMod11(s string) int {
	weights := []int{2, 3, 4, 5, 6, 7, 8, 9}
	sum := 0
	for i := 0; i < len(s); i++ {
		sum += int(s[len(s)-1-i]-'0') * weights[i%8]
	}
	return sum % 11
}

func refBankGeneral(s string) int {
	switch dv := 11 - refMod11(s); dv {
	case 0, 10, 11:
		return 1
	default:
		return dv
	}
}

func refCollectionMod11(s string) int {
	if r := refMod11(s); r > 1 {
		return 11 - r
	}
	return 0
}

// refBankLine builds a 47-digit line from barcode parts.
func refBankLine(bank string, factor int, amount int64, free string) string {
	tail := fmt.Sprintf("%04d%010d", factor, amount)
	dv := refBankGeneral(bank + "9" + tail + free)
	f1, f2, f3 := bank+"9"+free[:5], free[5:15], free[15:]
	return fmt.Sprintf("%s%d%s%d%s%d%d%s", f1, refMod10(f1), f2, refMod10(f2), f3, refMod10(f3), dv, tail)
}

// refValid says whether a 47- or 48-digit string is a valid line.
func refValid(d string) bool {
	switch len(d) {
	case 47:
		for _, f := range [][2]int{{0, 9}, {10, 20}, {21, 31}} {
			if refMod10(d[f[0]:f[1]]) != int(d[f[1]]-'0') {
				return false
			}
		}
		barcode43 := d[0:4] + d[33:47] + d[4:9] + d[10:20] + d[21:31]
		return refBankGeneral(barcode43) == int(d[32]-'0')
	case 48:
		if d[0] != '8' {
			return false
		}
		var mod func(string) int
		switch d[2] {
		case '6', '7':
			mod = refMod10
		case '8', '9':
			mod = refCollectionMod11
		default:
			return false
		}
		bc := ""
		for i := 0; i < 4; i++ {
			block := d[i*12 : i*12+11]
			if mod(block) != int(d[i*12+11]-'0') {
				return false
			}
			bc += block
		}
		return mod(bc[:3]+bc[4:]) == int(bc[3]-'0')
	}
	return false
}

// Lines checked by hand. For the first one:
//
//	field 1 "001900000": from the right 0·2 0·1 0·2 0·1 0·2 9·1 1·2 0·1 0·2,
//	  sum 11, check digit 10-1 = 9
//	field 2 "0123456700": 0 0 7·2=14→1+4=5 6 5·2=10→1 4 3·2=6 2 1·2=2 0, sum 26,
//	  check digit 4
//	field 3 "0000012317": 7·2=14→5 1 3·2=6 2 1·2=2 0..., sum 16, check digit 4
//	general: the barcode without its 5th digit,
//	  0019 1381 0000052315 0000001234567000000012317,
//	  weighted 2..9 from the right sums to 467; 467 mod 11 = 5; 11-5 = 6
const (
	validBank = "00190.00009 01234.567004 00000.123174 6 13810000052315"
	// The general digit here falls on remainder 1 (11-1 = 10), which the
	// rule turns into 1.
	validBankDV1 = "00190000090000000314515926535905113810000048790"
	// Collection, value identifier 6 (modulo 10), R$ 89,90.
	validCollection10 = "82650000000-3 89900042202-7 60310000000-0 00000777123-1"
	// Collection, value identifier 8 (modulo 11), R$ 150,75.
	validCollection11 = "868800000013507599992025604150000007000005557771"
)

func TestKnownValidLines(t *testing.T) {
	t.Parallel()
	l, err := boleto.Parse(validBank)
	require.NoError(t, err)
	require.Equal(t, boleto.KindBank, l.Kind)
	require.Equal(t, "00190000090123456700400000123174613810000052315", l.Digits)
	require.Equal(t, "0019613810000052315"+"0000001234567000000012317", l.Barcode)
	require.Equal(t, "001", l.BankCode())
	require.Equal(t, int64(52315), l.Amount())
	require.Equal(t, 1381, l.DueFactor())
	require.Equal(t, validBank, l.Formatted())
	due, ok := boleto.DueDate(l.DueFactor(), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	require.True(t, ok)
	require.Equal(t, time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), due)

	l, err = boleto.Parse(validBankDV1)
	require.NoError(t, err)
	require.Equal(t, byte('1'), l.Digits[32])

	l, err = boleto.Parse(validCollection10)
	require.NoError(t, err)
	require.Equal(t, boleto.KindCollection, l.Kind)
	require.Equal(t, "82650000000899000422026031000000000000777123", l.Barcode)
	require.Equal(t, int64(8990), l.Amount())
	require.Equal(t, validCollection10, l.Formatted())
	require.Empty(t, l.BankCode())

	l, err = boleto.Parse(validCollection11)
	require.NoError(t, err)
	require.Equal(t, int64(15075), l.Amount())
}

func TestKnownInvalidLines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		part string // "" for a format error
	}{
		{"", ""},
		{"0019000009012345670040000012317461381000005231", ""},         // 46 digits
		{"001900000901234567004000001231746138100000523155", ""},       // 48 digits, not starting with 8
		{"00190.00009 01234.567004 00000.12317X 6 13810000052315", ""}, // letter
		{"825500000003899000422027603100000000000007771231", ""},       // value identifier 5
		{"00190.00008 01234.567004 00000.123174 6 13810000052315", "field 1"},
		{"00190.00009 01234.567005 00000.123174 6 13810000052315", "field 2"},
		{"00190.00009 01234.567004 00000.123175 6 13810000052315", "field 3"},
		{"00190.00009 01234.567004 00000.123174 7 13810000052315", "general"},
		{"00190.00009 01234.567004 00000.123174 6 13810000052316", "general"}, // amount changed
		{"82650000000-4 89900042202-7 60310000000-0 00000777123-1", "block 1"},
		{"82650000000-3 89900042202-7 60310000000-0 00000777124-1", "block 4"},
		{"868800000013507599992025604150000007000005557772", "block 4"},
	} {
		err := boleto.Validate(tc.line)
		require.Error(t, err, tc.line)
		if tc.part == "" {
			require.ErrorIs(t, err, boleto.ErrFormat, tc.line)
			continue
		}
		require.ErrorIs(t, err, boleto.ErrCheckDigit, tc.line)
		var cde *boleto.CheckDigitError
		require.ErrorAs(t, err, &cde)
		require.Equal(t, tc.part, cde.Part, tc.line)
	}
}

// TestGeneratedLines builds random valid lines with the reference algorithm
// and checks the package accepts them, that NewBankLine builds the same, and
// that every single-digit change is judged exactly as the reference judges
// it (all are rejected except the rare ones the general digit cannot see).
func TestGeneratedLines(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		var sb strings.Builder
		for range n {
			sb.WriteByte(byte('0' + rng.IntN(10)))
		}
		return sb.String()
	}
	for range 200 {
		bank := digits(3)
		factor := 1000 + rng.IntN(9000)
		amount := rng.Int64N(10_000_000_000)
		free := digits(25)
		line := refBankLine(bank, factor, amount, free)

		got, err := boleto.Parse(line)
		require.NoError(t, err, line)
		built, err := boleto.NewBankLine(boleto.BankSlip{BankCode: bank, DueFactor: factor, Amount: amount, FreeField: free})
		require.NoError(t, err)
		require.Equal(t, line, built.Digits)
		require.Equal(t, got.Barcode, built.Barcode)
		require.Equal(t, amount, got.Amount())
		if bank[0] != '8' { // a barcode starting with 8 reads as collection
			back, err := boleto.FromBarcode(got.Barcode)
			require.NoError(t, err)
			require.Equal(t, line, back.Digits)
		}

		for i := range len(line) {
			for c := byte('0'); c <= '9'; c++ {
				if c == line[i] {
					continue
				}
				mutated := line[:i] + string(c) + line[i+1:]
				err := boleto.Validate(mutated)
				require.Equal(t, refValid(mutated), err == nil, "%s (digit %d)", mutated, i+1)
				if i < 32 && err == nil {
					t.Fatalf("a change in fields 1-4 went unnoticed: %s", mutated)
				}
			}
		}
	}
}

func TestGeneratedCollectionLines(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		var sb strings.Builder
		sb.WriteString("8")
		sb.WriteByte(byte('1' + rng.IntN(9)))
		sb.WriteByte("6789"[rng.IntN(4)])
		sb.WriteString("0") // general digit, fixed below
		for range 40 {
			sb.WriteByte(byte('0' + rng.IntN(10)))
		}
		bc := []byte(sb.String())
		mod := refMod10
		if bc[2] == '8' || bc[2] == '9' {
			mod = refCollectionMod11
		}
		bc[3] = byte('0' + mod(string(bc[:3])+string(bc[4:])))
		line, err := boleto.FromBarcode(string(bc))
		require.NoError(t, err)
		require.True(t, refValid(line.Digits), line.Digits)
		parsed, err := boleto.Parse(line.Formatted())
		require.NoError(t, err)
		require.Equal(t, string(bc), parsed.Barcode)

		for i := range len(line.Digits) {
			c := byte('0' + (int(line.Digits[i]-'0')+1+rng.IntN(9))%10)
			mutated := line.Digits[:i] + string(c) + line.Digits[i+1:]
			require.Equal(t, refValid(mutated), boleto.Validate(mutated) == nil, mutated)
		}
	}
}

func TestNewBankLineRejectsBadParts(t *testing.T) {
	t.Parallel()
	good := boleto.BankSlip{BankCode: "001", DueFactor: 1381, Amount: 100, FreeField: strings.Repeat("1", 25)}
	_, err := boleto.NewBankLine(good)
	require.NoError(t, err)
	for _, mut := range []func(*boleto.BankSlip){
		func(s *boleto.BankSlip) { s.BankCode = "01" },
		func(s *boleto.BankSlip) { s.BankCode = "0a1" },
		func(s *boleto.BankSlip) { s.DueFactor = 999 },
		func(s *boleto.BankSlip) { s.Amount = -1 },
		func(s *boleto.BankSlip) { s.Amount = 10_000_000_000 },
		func(s *boleto.BankSlip) { s.FreeField = "123" },
		func(s *boleto.BankSlip) { s.Currency = 10 },
	} {
		s := good
		mut(&s)
		_, err := boleto.NewBankLine(s)
		require.ErrorIs(t, err, boleto.ErrInvalidSlip)
	}
	_, err = boleto.FromBarcode("123")
	require.ErrorIs(t, err, boleto.ErrFormat)
}

func TestFactor(t *testing.T) {
	t.Parallel()
	utc := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		date   time.Time
		factor int
	}{
		{utc(2000, 7, 3), 1000},
		{utc(2025, 2, 21), 9999},
		{utc(2025, 2, 22), 1000},
		{utc(2026, 3, 10), 1381},
	} {
		f, ok := boleto.Factor(tc.date)
		require.True(t, ok)
		require.Equal(t, tc.factor, f, tc.date)
		due, ok := boleto.DueDate(f, tc.date)
		require.True(t, ok)
		require.Equal(t, tc.date, due)
	}
	// Factor 1381 meant 2001-07-19 in the first cycle.
	due, ok := boleto.DueDate(1381, utc(2001, 1, 1))
	require.True(t, ok)
	require.Equal(t, utc(2001, 7, 19), due)
	_, ok = boleto.Factor(utc(1999, 1, 1))
	require.False(t, ok)
	_, ok = boleto.DueDate(0, utc(2026, 1, 1))
	require.False(t, ok)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{validBank, validBankDV1, validCollection10, validCollection11, "", "8", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := boleto.Parse(s)
		if err != nil {
			return
		}
		again, err := boleto.Parse(l.Formatted())
		if err != nil || again != l {
			t.Fatalf("formatted line %q does not parse back: %v", l.Formatted(), err)
		}
		if l.Kind == boleto.KindBank && l.Barcode[0] == '8' {
			return // FromBarcode reads a leading 8 as a collection slip
		}
		fromBarcode, err := boleto.FromBarcode(l.Barcode)
		if err != nil || fromBarcode != l {
			t.Fatalf("barcode %q does not give the line back: %v", l.Barcode, err)
		}
	})
}

// A Line not made by Parse (built by hand, or decoded from a host's
// storage) with the wrong shape never panics: its methods give the digits
// as they are, or zero.
func TestMalformedLineDoesNotPanic(t *testing.T) {
	for _, l := range []boleto.Line{
		{},
		{Kind: boleto.KindBank, Digits: "123", Barcode: "456"},
		{Kind: boleto.KindCollection, Digits: strings.Repeat("8", 48), Barcode: "x"},
		{Kind: boleto.KindBank, Digits: strings.Repeat("x", 47), Barcode: strings.Repeat("1", 44)},
	} {
		require.NotPanics(t, func() {
			require.Equal(t, l.Digits, l.Formatted())
			require.Empty(t, l.BankCode())
			require.Zero(t, l.Amount())
			require.Zero(t, l.DueFactor())
		}, "%+v", l)
	}
}
