package widgets

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// WriteText renders results as plain text, one box per widget: the title,
// the note, the key-value pairs, each table with aligned columns (money and
// numbers to the right), documents and links; a failed widget shows its
// error code and the panel's message. It is meant for terminals, logs of
// examples and tests; the panel renders the JSON form.
func WriteText(w io.Writer, results []WidgetResult) error {
	bw := bufio.NewWriter(w)
	for i, wr := range results {
		if i > 0 {
			bw.WriteString("\n")
		}
		writeBox(bw, wr)
	}
	return bw.Flush()
}

func writeBox(w *bufio.Writer, wr WidgetResult) {
	header := "== " + wr.Title + " =="
	if wr.Cached {
		header += " (cache)"
	}
	fmt.Fprintln(w, header)
	if wr.Err != nil {
		code := ErrorCode(wr.Err)
		fmt.Fprintf(w, "  [erro: %s] %s\n", code, errorMessage(code))
		return
	}
	res := wr.Result
	if res.Note != "" {
		for line := range strings.SplitSeq(res.Note, "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	if len(res.Fields) > 0 {
		width := 0
		for _, f := range res.Fields {
			width = max(width, utf8.RuneCountInString(f.Label))
		}
		for _, f := range res.Fields {
			fmt.Fprintf(w, "  %s:%s %s\n", f.Label, pad("", width-utf8.RuneCountInString(f.Label)), f.Value)
		}
	}
	for _, t := range res.Tables {
		writeTable(w, t)
	}
	if len(res.Documents) > 0 {
		fmt.Fprintln(w, "  Documentos:")
		for _, d := range res.Documents {
			extra := ""
			if d.ContentType != "" {
				extra = " [" + d.ContentType + "]"
			}
			fmt.Fprintf(w, "    - %s%s: %s\n", d.Title, extra, d.URL)
		}
	}
	if len(res.Links) > 0 {
		fmt.Fprintln(w, "  Links:")
		for _, l := range res.Links {
			fmt.Fprintf(w, "    - %s: %s\n", l.Label, l.URL)
		}
	}
}

func writeTable(w *bufio.Writer, t Table) {
	if t.Title != "" {
		fmt.Fprintf(w, "  %s\n", t.Title)
	}
	cells := make([][]string, 0, len(t.Rows)+1)
	head := make([]string, len(t.Columns))
	for j, c := range t.Columns {
		head[j] = c.Label
	}
	cells = append(cells, head)
	for _, row := range t.Rows {
		line := make([]string, len(row))
		for j, v := range row {
			line[j] = strings.ReplaceAll(v.String(), "\n", " ")
		}
		cells = append(cells, line)
	}
	widths := make([]int, len(t.Columns))
	for _, line := range cells {
		for j, s := range line {
			widths[j] = max(widths[j], utf8.RuneCountInString(s))
		}
	}
	for i, line := range cells {
		var sb strings.Builder
		sb.WriteString("  |")
		for j, s := range line {
			gap := widths[j] - utf8.RuneCountInString(s)
			right := (t.Columns[j].Kind == KindMoney || t.Columns[j].Kind == KindNumber)
			sb.WriteString(" ")
			if right {
				sb.WriteString(pad("", gap) + s)
			} else {
				sb.WriteString(s + pad("", gap))
			}
			sb.WriteString(" |")
		}
		fmt.Fprintln(w, sb.String())
		if i == 0 {
			var sep strings.Builder
			sep.WriteString("  |")
			for _, wd := range widths {
				sep.WriteString(strings.Repeat("-", wd+2) + "|")
			}
			fmt.Fprintln(w, sep.String())
		}
	}
	if len(t.Rows) == 0 {
		fmt.Fprintln(w, "  (sem registros)")
	}
}

func pad(s string, n int) string {
	if n <= 0 {
		return s
	}
	return s + strings.Repeat(" ", n)
}
