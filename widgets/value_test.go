package widgets_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mosiachat/mosiachat/widgets"
)

func TestBRLString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   widgets.BRL
		want string
	}{
		{0, "R$ 0,00"},
		{5, "R$ 0,05"},
		{12345, "R$ 123,45"},
		{123456, "R$ 1.234,56"},
		{100000000, "R$ 1.000.000,00"},
		{-150, "-R$ 1,50"},
		{widgets.Reais(1234, 5), "R$ 1.234,05"},
		{widgets.Reais(-1, 50), "-R$ 1,50"},
		{widgets.Reais(0, -50), "-R$ 0,50"},
		{math.MinInt64, "-R$ 92.233.720.368.547.758,08"},
	} {
		require.Equal(t, tc.want, tc.in.String(), "%d", int64(tc.in))
	}
}

func TestNumberString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{3, "3"},
		{1234.5, "1.234,5"},
		{0.126, "0,13"},
		{-2.25, "-2,25"},
		{-0.001, "0"},
	} {
		require.Equal(t, tc.want, widgets.NumberValue(tc.in).String(), "%v", tc.in)
	}
}

func TestDate(t *testing.T) {
	t.Parallel()
	d := widgets.NewDate(2024, time.February, 29)
	require.True(t, d.Valid())
	require.Equal(t, "29/02/2024", d.String())
	require.Equal(t, "2024-02-29", d.ISO())
	require.False(t, widgets.NewDate(2025, time.February, 29).Valid())
	require.False(t, widgets.Date{}.Valid())
	require.True(t, widgets.Date{}.IsZero())
	require.Equal(t, widgets.NewDate(2024, time.March, 1), d.AddDays(1))
	require.True(t, d.Before(d.AddDays(1)))
	require.True(t, d.After(d.AddDays(-1)))
	require.Equal(t, 0, d.Compare(widgets.DateOf(time.Date(2024, 2, 29, 23, 59, 0, 0, time.UTC))))
	got, err := widgets.ParseDate("2026-03-10")
	require.NoError(t, err)
	require.Equal(t, widgets.NewDate(2026, time.March, 10), got)
	_, err = widgets.ParseDate("10/03/2026")
	require.Error(t, err)
}

func TestValueString(t *testing.T) {
	t.Parallel()
	require.Equal(t, "—", widgets.Value{}.String())
	require.True(t, widgets.Value{}.IsEmpty())
	require.Equal(t, "abc", widgets.TextValue("abc").String())
	require.Equal(t, "R$ 10,00", widgets.MoneyValue(1000).String())
	require.Equal(t, "10/03/2026", widgets.DateValue(widgets.NewDate(2026, 3, 10)).String())
}

func TestValidateAcceptsGoodResults(t *testing.T) {
	t.Parallel()
	good := widgets.Result{
		Title: "Extrato",
		Note:  "Linha 1\nLinha 2",
		Fields: []widgets.Field{
			{Label: "Total", Value: widgets.MoneyValue(-500)},
			{Label: "Sem valor", Value: widgets.Value{}},
		},
		Tables: []widgets.Table{{
			Columns: []widgets.Column{{Label: "Data", Kind: widgets.KindDate}, {Label: "Qtd", Kind: widgets.KindNumber}, {Label: "Pago em", Kind: widgets.KindDate}},
			Rows:    [][]widgets.Value{{widgets.DateValue(widgets.NewDate(2026, 1, 31)), widgets.NumberValue(2), {}}},
		}},
		Documents: []widgets.Document{{Title: "PDF", URL: "https://example.com/a.pdf", ContentType: "application/pdf", Size: 10}},
		Links:     []widgets.Link{{Label: "Portal", URL: "/portal"}},
	}
	require.NoError(t, good.Validate())
	require.NoError(t, widgets.Result{}.Validate())
}

func TestValidateLimits(t *testing.T) {
	t.Parallel()
	rows := make([][]widgets.Value, widgets.MaxRows+1)
	for i := range rows {
		rows[i] = []widgets.Value{widgets.TextValue("x")}
	}
	big := widgets.Result{Tables: []widgets.Table{{Columns: []widgets.Column{{Label: "x", Kind: widgets.KindText}}, Rows: rows}}}
	err := big.Validate()
	require.ErrorIs(t, err, widgets.ErrMalformedResult)
	require.ErrorContains(t, err, "tables[0].rows")

	for _, u := range []string{"//evil.example/x", "ftp://h/x", "data:text/html,x", "http:///nohost", "https://user:pw@h/x", "relative/path"} {
		err := widgets.Result{Links: []widgets.Link{{Label: "x", URL: u}}}.Validate()
		require.ErrorIs(t, err, widgets.ErrMalformedResult, u)
	}
	err = widgets.Result{Fields: []widgets.Field{{Label: "x", Value: widgets.NumberValue(math.Inf(1))}}}.Validate()
	require.ErrorIs(t, err, widgets.ErrMalformedResult)
	err = widgets.Result{Fields: []widgets.Field{{Label: "x", Value: widgets.TextValue("\xff")}}}.Validate()
	require.ErrorIs(t, err, widgets.ErrMalformedResult)
}

// Every part within its own limit, but too much in all: one table of the
// most rows and columns of long texts, or ten tables of empty cells (which
// still take memory), are malformed as a whole; one full table of short
// texts, or of numbers, is fine.
func TestValidateTotalSize(t *testing.T) {
	t.Parallel()
	tables := func(n int, v widgets.Value, kind widgets.Kind) widgets.Result {
		cols := make([]widgets.Column, widgets.MaxColumns)
		for j := range cols {
			cols[j] = widgets.Column{Label: fmt.Sprint("c", j), Kind: kind}
		}
		rows := make([][]widgets.Value, widgets.MaxRows)
		for i := range rows {
			rows[i] = make([]widgets.Value, len(cols))
			for j := range rows[i] {
				rows[i][j] = v
			}
		}
		var r widgets.Result
		for range n {
			r.Tables = append(r.Tables, widgets.Table{Columns: cols, Rows: rows})
		}
		return r
	}
	for name, r := range map[string]widgets.Result{
		"long texts":  tables(1, widgets.TextValue(strings.Repeat("a", 100)), widgets.KindText),
		"empty cells": tables(widgets.MaxTables, widgets.Value{}, widgets.KindText),
	} {
		err := r.Validate()
		require.ErrorIs(t, err, widgets.ErrMalformedResult, name)
		var re *widgets.ResultError
		require.ErrorAs(t, err, &re)
		require.Equal(t, "result", re.Path)
		require.Contains(t, re.Reason, fmt.Sprint("at most ", widgets.MaxResultBytes))
	}
	require.NoError(t, tables(1, widgets.TextValue(strings.Repeat("a", 20)), widgets.KindText).Validate())
	require.NoError(t, tables(1, widgets.NumberValue(12.5), widgets.KindNumber).Validate())
}
