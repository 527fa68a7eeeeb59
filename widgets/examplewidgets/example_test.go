package examplewidgets_test

import (
	"fmt"
	"time"

	"github.com/mosiachat/mosiachat/widgets"
	"github.com/mosiachat/mosiachat/widgets/boleto"
	"github.com/mosiachat/mosiachat/widgets/examplewidgets"
)

func ExampleSlips() {
	slips, err := examplewidgets.Slips("ben-0001", widgets.NewDate(2026, time.March, 8))
	if err != nil {
		panic(err)
	}
	for _, s := range slips[:3] {
		fmt.Println(s.Reference, s.Due, s.Amount, s.Status.Label(), boleto.Validate(s.Line.Digits) == nil)
	}
	// Output:
	// 03/2026 10/03/2026 R$ 726,30 Em aberto true
	// 02/2026 10/02/2026 R$ 753,38 Vencido true
	// 01/2026 10/01/2026 R$ 677,22 Pago true
}
