package boleto_test

import (
	"errors"
	"fmt"

	"github.com/mosiachat/mosiachat/widgets/boleto"
)

func ExampleParse() {
	l, err := boleto.Parse("00190.00009 01234.567004 00000.123174 6 13810000052315")
	if err != nil {
		panic(err)
	}
	fmt.Println(l.Kind, l.BankCode(), l.Amount(), l.DueFactor())

	_, err = boleto.Parse("00190.00009 01234.567005 00000.123174 6 13810000052315")
	fmt.Println(errors.Is(err, boleto.ErrCheckDigit), err)
	// Output:
	// bank 001 52315 1381
	// true boleto: field 2 check digit is 5, want 4
}

func ExampleNewBankLine() {
	l, err := boleto.NewBankLine(boleto.BankSlip{
		BankCode:  "001",
		DueFactor: 1381, // 10/03/2026
		Amount:    52315,
		FreeField: "0000001234567000000012317",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(l.Formatted())
	// Output: 00190.00009 01234.567004 00000.123174 6 13810000052315
}
