package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// run is one relay phase's result line, as relay prints it.
type run struct {
	impl          string
	rate          int
	p99           time.Duration
	serverCPU     float64 // us per message
	clientCPU     float64 // us per message
	sent, receive int64
}

// parseRun reads a relay result line ("impl=... rate=... p99=..."); ok is
// false for any other line.
func parseRun(line string) (r run, ok bool) {
	if !strings.HasPrefix(line, "impl=") {
		return run{}, false
	}
	f := map[string]string{}
	for _, kv := range strings.Fields(line) {
		if k, v, found := strings.Cut(kv, "="); found {
			f[k] = v
		}
	}
	var err error
	r.impl = f["impl"]
	if r.rate, err = strconv.Atoi(f["rate"]); err != nil {
		return run{}, false
	}
	if r.p99, err = time.ParseDuration(strings.ReplaceAll(f["p99"], "µ", "u")); err != nil {
		return run{}, false
	}
	r.serverCPU, _ = strconv.ParseFloat(strings.TrimSuffix(f["server_cpu_per_msg"], "us"), 64)
	r.clientCPU, _ = strconv.ParseFloat(strings.TrimSuffix(f["load_cpu_per_msg"], "us"), 64)
	r.sent, _ = strconv.ParseInt(f["sent"], 10, 64)
	r.receive, _ = strconv.ParseInt(f["received"], 10, 64)
	return r, true
}

// median returns the middle value (the upper one of an even count).
func median[T int64 | float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// group is every run of one implementation at one rate.
type group struct {
	p99s                 []int64 // ns, in run order
	serverCPU, clientCPU []float64
	lost                 int64
}

// summarize reads relay output (bench.sh's, from the files named or from
// standard input) and prints, per implementation and rate, the runs' p99s,
// their median and the median CPU per message; then, for each bare rate R
// with mosia runs at R/2 (bench.sh halves), mosia's CPU per message against
// the bare relay's, the steadiest figure for the throughput target; and,
// where the acknowledging relay ran at R too (bench.sh floor), its CPU
// per message against the bare relay's and mosia's against it.
func summarize(args []string) error {
	var runs []run
	read := func(r io.Reader) error {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if x, ok := parseRun(sc.Text()); ok {
				runs = append(runs, x)
			}
		}
		return sc.Err()
	}
	if len(args) == 0 {
		if err := read(os.Stdin); err != nil {
			return err
		}
	}
	for _, name := range args {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = read(f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if len(runs) == 0 {
		return fmt.Errorf("no relay result lines (impl=... rate=...) in the input")
	}
	writeSummary(os.Stdout, runs)
	return nil
}

func writeSummary(w io.Writer, runs []run) {
	type key struct {
		impl string
		rate int
	}
	groups := map[key]*group{}
	var keys []key
	for _, r := range runs {
		k := key{r.impl, r.rate}
		g := groups[k]
		if g == nil {
			g = &group{}
			groups[k] = g
			keys = append(keys, k)
		}
		g.p99s = append(g.p99s, int64(r.p99))
		g.serverCPU = append(g.serverCPU, r.serverCPU)
		g.clientCPU = append(g.clientCPU, r.clientCPU)
		g.lost += r.sent - r.receive
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.impl, b.impl); c != 0 {
			return c
		}
		return a.rate - b.rate
	})
	fmt.Fprintln(w, "impl   rate     runs  median p99  under 50ms  server CPU/msg  client CPU/msg  lost  p99 of the runs")
	for _, k := range keys {
		g := groups[k]
		p99 := time.Duration(median(g.p99s))
		var each []string
		for _, x := range g.p99s {
			each = append(each, time.Duration(x).Round(100*time.Microsecond).String())
		}
		fmt.Fprintf(w, "%-6s %-8d %-5d %-11v %-11v %-15s %-15s %-5d %s\n", k.impl, k.rate, len(g.p99s),
			p99.Round(100*time.Microsecond), p99 < 50*time.Millisecond,
			fmt.Sprintf("%.1f us", median(g.serverCPU)), fmt.Sprintf("%.1f us", median(g.clientCPU)),
			g.lost, strings.Join(each, " / "))
	}
	fmt.Fprintln(w, "\nbare R   mosia R/2  mosia/bare CPU per message  mosia's capacity / bare's")
	for _, k := range keys {
		if k.impl != "bare" {
			continue
		}
		m := groups[key{"mosia", k.rate / 2}]
		if m == nil || median(m.serverCPU) == 0 || median(groups[k].serverCPU) == 0 {
			continue // no runs at R/2, or the server's CPU was not reported
		}
		ratio := median(m.serverCPU) / median(groups[k].serverCPU)
		fmt.Fprintf(w, "%-8d %-10d %-27.2f %.2fx\n", k.rate, k.rate/2, ratio, 1/ratio)
	}
	// bench.sh floor: the acknowledging relay at the bare relay's rates
	// says how much of mosia's CPU the reply each command is owed takes.
	header := false
	for _, k := range keys {
		a, b := groups[key{"acked", k.rate}], groups[k]
		if k.impl != "bare" || a == nil || median(a.serverCPU) == 0 || median(b.serverCPU) == 0 {
			continue
		}
		if !header {
			fmt.Fprintln(w, "\nbare R   acked/bare CPU at R  mosia at R/2 / acked at R")
			header = true
		}
		mosia := "-"
		if m := groups[key{"mosia", k.rate / 2}]; m != nil && median(m.serverCPU) > 0 {
			mosia = fmt.Sprintf("%.2f", median(m.serverCPU)/median(a.serverCPU))
		}
		fmt.Fprintf(w, "%-8d %-20.2f %s\n", k.rate, median(a.serverCPU)/median(b.serverCPU), mosia)
	}
}
