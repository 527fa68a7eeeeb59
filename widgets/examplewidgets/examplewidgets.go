package examplewidgets

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets"
	"github.com/mosiachat/mosiachat/widgets/boleto"
)

// Widget IDs, to list in attendance.Profile.Widgets.
const (
	// UsageStatementID is the usage statement (extrato de utilização).
	UsageStatementID = "extrato-utilizacao"
	// CopayStatementID is the co-payment statement (extrato de
	// coparticipação).
	CopayStatementID = "extrato-coparticipacao"
	// BankSlipsID is the bank slips (boletos).
	BankSlipsID = "boletos"
)

// Config tunes the example providers. A nil *Config is the same as the zero
// Config.
type Config struct {
	// Now is the clock the statements are relative to. Defaults to
	// time.Now.
	Now func() time.Time
	// Location is the operator's time zone, for "today". Defaults to UTC-3
	// (Brasília time, which has no daylight saving since 2019).
	Location *time.Location
	// DocumentBaseURL prefixes the bank slips' PDF links. Defaults to
	// "https://boletos.example.com".
	DocumentBaseURL string
	// PortalURL is the beneficiary portal linked from the statements.
	// Defaults to "https://portal.example.com".
	PortalURL string
}

func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.Location == nil {
		out.Location = time.FixedZone("BRT", -3*60*60)
	}
	if out.DocumentBaseURL == "" {
		out.DocumentBaseURL = "https://boletos.example.com"
	}
	if out.PortalURL == "" {
		out.PortalURL = "https://portal.example.com"
	}
	out.DocumentBaseURL = strings.TrimRight(out.DocumentBaseURL, "/")
	return out
}

// All returns the three example widgets.
func All(cfg *Config) []widgets.Widget {
	return []widgets.Widget{UsageStatement(cfg), CopayStatement(cfg), BankSlips(cfg)}
}

// RegisterAll registers the three example widgets in reg.
func RegisterAll(reg *widgets.Registry, cfg *Config) error {
	for _, w := range All(cfg) {
		if err := reg.Register(w); err != nil {
			return err
		}
	}
	return nil
}

// procedure is one kind of service in the fake catalog.
type procedure struct {
	name     string
	provider string
	price    widgets.BRL
	share    int // co-payment share, percent
}

// catalog: invented providers, typical names and prices.
var catalog = []procedure{
	{"Consulta em consultório — clínica médica", "Clínica Bem Viver", 18000, 30},
	{"Consulta em pronto-socorro", "Hospital Vale Azul", 26000, 30},
	{"Consulta com psicólogo", "Espaço Mente Serena", 15000, 30},
	{"Hemograma completo", "Laboratório Santa Luzia Diagnósticos", 1850, 20},
	{"Glicemia de jejum", "Laboratório Santa Luzia Diagnósticos", 920, 20},
	{"Colesterol total e frações", "Laboratório Santa Luzia Diagnósticos", 2540, 20},
	{"Eletrocardiograma", "Clínica Bem Viver", 6000, 20},
	{"Raio-X de tórax (PA e perfil)", "Centro de Imagem Horizonte", 9500, 20},
	{"Ultrassonografia de abdome total", "Centro de Imagem Horizonte", 22000, 20},
	{"Ressonância magnética de joelho", "Centro de Imagem Horizonte", 85000, 20},
	{"Sessão de fisioterapia", "Fisio+ Reabilitação", 7000, 30},
}

// copayCap is the most charged for one procedure (teto de coparticipação).
const copayCap widgets.BRL = 15000

// use is one service the beneficiary used.
type use struct {
	date widgets.Date
	proc procedure
}

// copay is the co-payment due for u: its share of the price, rounded to the
// centavo, capped.
func (u use) copay() widgets.BRL {
	return min((u.proc.price*widgets.BRL(u.proc.share)+50)/100, copayCap)
}

func seed(beneficiaryID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(beneficiaryID))
	return h.Sum64()
}

// usages generates the beneficiary's services in the 90 days up to today,
// newest first. The same beneficiary and day give the same list.
func usages(beneficiaryID string, today widgets.Date) []use {
	s := seed(beneficiaryID)
	// Seed by the beneficiary and by 90-day window, so the history does not
	// reshuffle every day; then keep what falls in the last 90 days.
	var out []use
	for window := range 2 {
		start := today.AddDays(-(dayNumber(today)%90 + 90*window))
		rng := rand.New(rand.NewPCG(s, uint64(dayNumber(start))))
		n := 5 + rng.IntN(6)
		for range n {
			d := start.AddDays(rng.IntN(90))
			if d.After(today) || !d.After(today.AddDays(-90)) {
				continue
			}
			out = append(out, use{date: d, proc: catalog[rng.IntN(len(catalog))]})
		}
	}
	slices.SortStableFunc(out, func(a, b use) int {
		if c := b.date.Compare(a.date); c != 0 {
			return c
		}
		return strings.Compare(a.proc.name, b.proc.name)
	})
	return out
}

func dayNumber(d widgets.Date) int {
	return int(d.Time(time.UTC).Unix() / 86400)
}

func beneficiaryOf(req widgets.Request) (string, error) {
	id := req.BeneficiaryID()
	if id == "" {
		return "", fmt.Errorf("%w: examplewidgets: the conversation has no beneficiary", attendance.ErrInvalidArgument)
	}
	return id, nil
}

// UsageStatement returns the usage-statement widget (extrato de
// utilização): every service used in the last 90 days with date, procedure,
// provider and amount.
func UsageStatement(cfg *Config) widgets.Widget {
	c := cfg.withDefaults()
	return widgets.Widget{
		ID:          UsageStatementID,
		Title:       "Extrato de utilização",
		Description: "Procedimentos realizados nos últimos 90 dias",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			id, err := beneficiaryOf(req)
			if err != nil {
				return widgets.Result{}, err
			}
			today := widgets.DateOf(c.Now().In(c.Location))
			list := usages(id, today)
			var total widgets.BRL
			rows := make([][]widgets.Value, 0, len(list))
			for _, u := range list {
				total += u.proc.price
				rows = append(rows, []widgets.Value{
					widgets.DateValue(u.date),
					widgets.TextValue(u.proc.name),
					widgets.TextValue(u.proc.provider),
					widgets.MoneyValue(u.proc.price),
				})
			}
			res := widgets.Result{
				Fields: []widgets.Field{
					{Label: "Período", Value: widgets.TextValue(today.AddDays(-89).String() + " a " + today.String())},
					{Label: "Procedimentos", Value: widgets.NumberValue(float64(len(list)))},
					{Label: "Valor total", Value: widgets.MoneyValue(total)},
				},
				Tables: []widgets.Table{{
					Columns: []widgets.Column{
						{Label: "Data", Kind: widgets.KindDate},
						{Label: "Procedimento", Kind: widgets.KindText},
						{Label: "Prestador", Kind: widgets.KindText},
						{Label: "Valor", Kind: widgets.KindMoney},
					},
					Rows: rows,
				}},
				Links: []widgets.Link{{Label: "Extrato completo no portal", URL: c.PortalURL + "/extrato"}},
			}
			if len(list) == 0 {
				res.Note = "Nenhum procedimento nos últimos 90 dias."
			}
			return res, nil
		}),
	}
}

// CopayStatement returns the co-payment widget (extrato de
// coparticipação): for each service in the last three calendar months, the
// share and the amount due, and a table of month totals.
func CopayStatement(cfg *Config) widgets.Widget {
	c := cfg.withDefaults()
	return widgets.Widget{
		ID:          CopayStatementID,
		Title:       "Extrato de coparticipação",
		Description: "Coparticipação por procedimento e total por mês",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			id, err := beneficiaryOf(req)
			if err != nil {
				return widgets.Result{}, err
			}
			today := widgets.DateOf(c.Now().In(c.Location))
			first := widgets.NewDate(today.Year, today.Month, 1)
			first = widgets.DateOf(first.Time(time.UTC).AddDate(0, -2, 0))

			type month struct {
				label string
				count int
				total widgets.BRL
			}
			var months []month
			var rows [][]widgets.Value
			var total widgets.BRL
			for _, u := range usages(id, today) {
				if u.date.Before(first) {
					continue
				}
				cp := u.copay()
				total += cp
				rows = append(rows, []widgets.Value{
					widgets.DateValue(u.date),
					widgets.TextValue(u.proc.name),
					widgets.MoneyValue(u.proc.price),
					widgets.NumberValue(float64(u.proc.share)),
					widgets.MoneyValue(cp),
				})
				label := fmt.Sprintf("%02d/%04d", int(u.date.Month), u.date.Year)
				if len(months) == 0 || months[len(months)-1].label != label {
					months = append(months, month{label: label})
				}
				months[len(months)-1].count++
				months[len(months)-1].total += cp
			}
			totals := make([][]widgets.Value, 0, len(months))
			for _, m := range months {
				totals = append(totals, []widgets.Value{
					widgets.TextValue(m.label), widgets.NumberValue(float64(m.count)), widgets.MoneyValue(m.total),
				})
			}
			res := widgets.Result{
				Note: fmt.Sprintf("Coparticipação de 20%% a 30%% por procedimento, limitada a %s. Cobrada no boleto do mês seguinte.", copayCap),
				Fields: []widgets.Field{
					{Label: "Período", Value: widgets.TextValue(first.String() + " a " + today.String())},
					{Label: "Total de coparticipação", Value: widgets.MoneyValue(total)},
				},
				Tables: []widgets.Table{
					{
						Title: "Procedimentos",
						Columns: []widgets.Column{
							{Label: "Data", Kind: widgets.KindDate},
							{Label: "Procedimento", Kind: widgets.KindText},
							{Label: "Valor do procedimento", Kind: widgets.KindMoney},
							{Label: "Coparticipação (%)", Kind: widgets.KindNumber},
							{Label: "Valor a pagar", Kind: widgets.KindMoney},
						},
						Rows: rows,
					},
					{
						Title: "Totais por mês",
						Columns: []widgets.Column{
							{Label: "Mês", Kind: widgets.KindText},
							{Label: "Procedimentos", Kind: widgets.KindNumber},
							{Label: "Total", Kind: widgets.KindMoney},
						},
						Rows: totals,
					},
				},
			}
			return res, nil
		}),
	}
}

// SlipStatus is the state of a bank slip.
type SlipStatus string

const (
	// SlipPaid: paid.
	SlipPaid SlipStatus = "paid"
	// SlipOpen: not paid, not yet due.
	SlipOpen SlipStatus = "open"
	// SlipOverdue: not paid, past its due date.
	SlipOverdue SlipStatus = "overdue"
)

// Label is the pt-BR name shown in the panel.
func (s SlipStatus) Label() string {
	switch s {
	case SlipPaid:
		return "Pago"
	case SlipOpen:
		return "Em aberto"
	case SlipOverdue:
		return "Vencido"
	}
	return string(s)
}

// Slip is one monthly bank slip of the fake data.
type Slip struct {
	// Reference is the month it charges, "03/2026".
	Reference string
	Due       widgets.Date
	Amount    widgets.BRL
	Status    SlipStatus
	// PaidOn is set for paid slips.
	PaidOn widgets.Date
	// Line is the digitable line, valid under the check-digit rules.
	Line boleto.Line
}

// Slips generates a beneficiary's last six monthly slips, newest first:
// each is the monthly fee plus the previous month's co-payment, due on the
// 10th. Next month's slip is issued on the 21st, so from then on it heads
// the list. A slip not yet due is open; the most recent slip past its due
// date is overdue for most beneficiaries (not for those whose ID hashes to
// a multiple of 3); the others were paid a few days before they were due.
func Slips(beneficiaryID string, today widgets.Date) ([]Slip, error) {
	s := seed(beneficiaryID)
	fee := widgets.BRL(42000 + int64(s%48000)) // R$ 420,00 to R$ 899,99
	list := usages(beneficiaryID, today)
	newest := widgets.NewDate(today.Year, today.Month, 1)
	if today.Day > 20 {
		newest = widgets.DateOf(newest.Time(time.UTC).AddDate(0, 1, 0))
	}
	var out []Slip
	pastDue := 0
	for back := range 6 {
		ref := widgets.DateOf(newest.Time(time.UTC).AddDate(0, -back, 0))
		due := widgets.NewDate(ref.Year, ref.Month, 10)
		prev := widgets.DateOf(ref.Time(time.UTC).AddDate(0, -1, 0))
		amount := fee
		for _, u := range list {
			if u.date.Year == prev.Year && u.date.Month == prev.Month {
				amount += u.copay()
			}
		}
		status := SlipPaid
		var paid widgets.Date
		switch {
		case !today.After(due):
			status = SlipOpen
		case pastDue == 0 && s%3 != 0:
			status = SlipOverdue
			pastDue++
		default:
			pastDue++
			paid = due.AddDays(-int(1 + (s>>uint(back*4))%5))
		}
		factor, ok := boleto.Factor(due.Time(time.UTC))
		if !ok {
			return nil, fmt.Errorf("examplewidgets: no due-date factor for %s", due)
		}
		// Free field: an invented agreement number, a "nosso número" made of
		// the beneficiary's hash and the month, and a portfolio code.
		free := fmt.Sprintf("000000%07d%06d%02d%02d17", 2718281, s%1_000_000, ref.Year%100, int(ref.Month))
		line, err := boleto.NewBankLine(boleto.BankSlip{BankCode: "001", DueFactor: factor, Amount: int64(amount), FreeField: free})
		if err != nil {
			return nil, fmt.Errorf("examplewidgets: building a slip: %w", err)
		}
		out = append(out, Slip{
			Reference: fmt.Sprintf("%02d/%04d", int(ref.Month), ref.Year),
			Due:       due, Amount: amount, Status: status, PaidOn: paid, Line: line,
		})
	}
	return out, nil
}

// BankSlips returns the bank-slip widget (boletos): the last six monthly
// slips with reference month, amount, due date, status and digitable line,
// totals of what is open and overdue, and a PDF for each unpaid slip.
func BankSlips(cfg *Config) widgets.Widget {
	c := cfg.withDefaults()
	return widgets.Widget{
		ID:          BankSlipsID,
		Title:       "Boletos",
		Description: "Mensalidades dos últimos seis meses",
		Provider: widgets.ProviderFunc(func(ctx context.Context, req widgets.Request) (widgets.Result, error) {
			id, err := beneficiaryOf(req)
			if err != nil {
				return widgets.Result{}, err
			}
			today := widgets.DateOf(c.Now().In(c.Location))
			slips, err := Slips(id, today)
			if err != nil {
				return widgets.Result{}, err
			}
			var open, overdue widgets.BRL
			var docs []widgets.Document
			rows := make([][]widgets.Value, 0, len(slips))
			for _, s := range slips {
				paid := widgets.Value{}
				if !s.PaidOn.IsZero() {
					paid = widgets.DateValue(s.PaidOn)
				}
				rows = append(rows, []widgets.Value{
					widgets.TextValue(s.Reference),
					widgets.DateValue(s.Due),
					widgets.MoneyValue(s.Amount),
					widgets.TextValue(s.Status.Label()),
					paid,
					widgets.TextValue(s.Line.Formatted()),
				})
				switch s.Status {
				case SlipOpen:
					open += s.Amount
				case SlipOverdue:
					overdue += s.Amount
				}
				if s.Status != SlipPaid {
					docs = append(docs, widgets.Document{
						Title:       "Boleto " + s.Reference,
						URL:         fmt.Sprintf("%s/%s/%s.pdf", c.DocumentBaseURL, url.PathEscape(id), strings.ReplaceAll(s.Reference, "/", "-")),
						ContentType: "application/pdf",
					})
				}
			}
			return widgets.Result{
				Fields: []widgets.Field{
					{Label: "Em aberto", Value: widgets.MoneyValue(open)},
					{Label: "Vencido", Value: widgets.MoneyValue(overdue)},
				},
				Tables: []widgets.Table{{
					Columns: []widgets.Column{
						{Label: "Competência", Kind: widgets.KindText},
						{Label: "Vencimento", Kind: widgets.KindDate},
						{Label: "Valor", Kind: widgets.KindMoney},
						{Label: "Situação", Kind: widgets.KindText},
						{Label: "Pago em", Kind: widgets.KindDate},
						{Label: "Linha digitável", Kind: widgets.KindText},
					},
					Rows: rows,
				}},
				Documents: docs,
				Links:     []widgets.Link{{Label: "Financeiro no portal", URL: c.PortalURL + "/financeiro"}},
			}, nil
		}),
	}
}
