package examplewidgets_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/attendance"
	"github.com/mosiachat/mosiachat/widgets"
	"github.com/mosiachat/mosiachat/widgets/boleto"
	"github.com/mosiachat/mosiachat/widgets/examplewidgets"
	"github.com/mosiachat/mosiachat/widgets/memdata"
)

var brt = time.FixedZone("BRT", -3*60*60)

func cfgAt(now time.Time) *examplewidgets.Config {
	return &examplewidgets.Config{Now: func() time.Time { return now }}
}

func fetch(t *testing.T, w widgets.Widget, beneficiaryID string) widgets.Result {
	t.Helper()
	res, err := w.Provider.Fetch(t.Context(), widgets.Request{WidgetID: w.ID, Conversation: attendance.Conversation{ID: "c", BeneficiaryID: beneficiaryID}})
	require.NoError(t, err)
	require.NoError(t, res.Validate())
	return res
}

var beneficiaries = []string{memdata.DemoBeneficiaryID, "ben-0002", "ben-0003", "ben-0004", "x", "9f1c2a"}

func TestResultsAreValidAndDeterministic(t *testing.T) {
	t.Parallel()
	for _, now := range []time.Time{
		time.Date(2026, 3, 8, 10, 0, 0, 0, brt),
		time.Date(2026, 3, 25, 10, 0, 0, 0, brt),
		time.Date(2027, 1, 2, 10, 0, 0, 0, brt),
	} {
		for _, w := range examplewidgets.All(cfgAt(now)) {
			for _, b := range beneficiaries {
				require.Equal(t, fetch(t, w, b), fetch(t, w, b), "%s %s", w.ID, b)
			}
		}
	}
	for _, w := range examplewidgets.All(nil) {
		_, err := w.Provider.Fetch(t.Context(), widgets.Request{WidgetID: w.ID})
		require.ErrorIs(t, err, attendance.ErrInvalidArgument)
	}
}

func TestUsageStatement(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 10, 0, 0, 0, brt)
	today := widgets.DateOf(now)
	res := fetch(t, examplewidgets.UsageStatement(cfgAt(now)), memdata.DemoBeneficiaryID)
	rows := res.Tables[0].Rows
	require.NotEmpty(t, rows)
	var total widgets.BRL
	for i, r := range rows {
		d := r[0].Date
		require.False(t, d.After(today))
		require.True(t, d.After(today.AddDays(-90)))
		if i > 0 {
			require.False(t, d.After(rows[i-1][0].Date), "newest first")
		}
		total += r[3].Money
	}
	require.Equal(t, total, res.Fields[2].Value.Money)
}

func TestCopayStatementTotals(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 10, 0, 0, 0, brt)
	for _, b := range beneficiaries {
		res := fetch(t, examplewidgets.CopayStatement(cfgAt(now)), b)
		items, totals := res.Tables[0], res.Tables[1]
		byMonth := map[string]widgets.BRL{}
		var all widgets.BRL
		for _, r := range items.Rows {
			price, share, due := r[2].Money, r[3].Number, r[4].Money
			require.Contains(t, []float64{20, 30}, share)
			require.LessOrEqual(t, due, widgets.BRL(15000), "capped")
			require.LessOrEqual(t, due, price)
			require.False(t, r[0].Date.Before(widgets.NewDate(2026, 1, 1)))
			byMonth[r[0].Date.String()[3:]] += due
			all += due
		}
		var sum widgets.BRL
		for _, r := range totals.Rows {
			require.Equal(t, byMonth[r[0].Text], r[2].Money, "month %s", r[0].Text)
			sum += r[2].Money
		}
		require.Equal(t, all, sum)
		require.Equal(t, all, res.Fields[1].Value.Money)
	}
}

func TestBankSlips(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, now := range []time.Time{time.Date(2026, 3, 8, 10, 0, 0, 0, brt), time.Date(2026, 3, 12, 10, 0, 0, 0, brt)} {
		today := widgets.DateOf(now)
		for _, b := range beneficiaries {
			slips, err := examplewidgets.Slips(b, today)
			require.NoError(t, err)
			require.Len(t, slips, 6)
			for _, s := range slips {
				seen[string(s.Status)] = true
				// Every line is valid and says what the slip says.
				l, err := boleto.Parse(s.Line.Formatted())
				require.NoError(t, err)
				require.Equal(t, int64(s.Amount), l.Amount())
				due, ok := boleto.DueDate(l.DueFactor(), now)
				require.True(t, ok)
				require.Equal(t, s.Due, widgets.DateOf(due))
				switch s.Status {
				case examplewidgets.SlipPaid:
					require.True(t, s.PaidOn.Before(s.Due))
				case examplewidgets.SlipOpen:
					require.False(t, today.After(s.Due))
					require.True(t, s.PaidOn.IsZero())
				case examplewidgets.SlipOverdue:
					require.True(t, today.After(s.Due))
					require.True(t, s.PaidOn.IsZero())
				}
			}
			res := fetch(t, examplewidgets.BankSlips(cfgAt(now)), b)
			for _, row := range res.Tables[0].Rows {
				require.NoError(t, boleto.Validate(row[5].Text), "the line shown is valid")
			}
			for _, d := range res.Documents {
				require.True(t, strings.HasPrefix(d.URL, "https://boletos.example.com/"))
			}
		}
	}
	require.Equal(t, map[string]bool{"paid": true, "open": true, "overdue": true}, seen)

	// The demo beneficiary shows all three at once before the 10th.
	slips, err := examplewidgets.Slips(memdata.DemoBeneficiaryID, widgets.NewDate(2026, 3, 8))
	require.NoError(t, err)
	require.Equal(t, examplewidgets.SlipOpen, slips[0].Status)
	require.Equal(t, examplewidgets.SlipOverdue, slips[1].Status)
	require.Equal(t, examplewidgets.SlipPaid, slips[2].Status)
}

func TestRegisterAll(t *testing.T) {
	t.Parallel()
	demo := memdata.NewDemo(time.Now())
	reg, err := widgets.NewRegistry(demo.Conversations, nil)
	require.NoError(t, err)
	require.NoError(t, examplewidgets.RegisterAll(reg, nil))
	require.ErrorIs(t, examplewidgets.RegisterAll(reg, nil), widgets.ErrDuplicateWidget)
	profile := attendance.Profile{Widgets: []string{examplewidgets.UsageStatementID, examplewidgets.CopayStatementID, examplewidgets.BankSlipsID}}
	res, err := reg.Fetch(context.Background(), widgets.FetchParams{
		Principal: attendance.AgentPrincipal(memdata.DemoAgentID), Profile: profile, ConversationID: memdata.DemoConversationID,
	})
	require.NoError(t, err)
	require.Len(t, res, 3)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
}
