// Package boleto validates the digitable line (linha digitável) of Brazilian
// payment slips and builds valid ones, for bank-slip widgets and their tests.
//
// Two layouts are handled:
//
//   - The bank slip (boleto de cobrança): 47 digits in five fields. Fields
//     1 to 3 each end in a modulo-10 check digit; field 4 is the general
//     check digit, modulo 11 over the 44-digit barcode; field 5 is the
//     due-date factor and the amount.
//   - The collection slip (arrecadação: utilities, taxes, agreements): 48
//     digits, starting with 8, in four blocks of eleven barcode digits each
//     followed by a check digit, modulo 10 or modulo 11 as the barcode's
//     third digit (the value identifier) says; the barcode's fourth digit is
//     the general check digit by the same modulo.
//
// Validation checks the structure and every check digit, which catches any
// single mistyped digit in fields 1 to 3 and almost all others. It does not
// say whether the slip exists, is registered or is still payable: only the
// bank knows. Bank codes, segments and company codes are not checked against
// any list.
//
// # Concurrency
//
// Everything here is a pure function; safe for concurrent use.
//
// # Errors
//
// [ErrFormat] for input that is not a line at all, [ErrCheckDigit] (a
// *[CheckDigitError] naming the part) for a wrong check digit, and
// [ErrInvalidSlip] for bad parts given to [NewBankLine].
package boleto
