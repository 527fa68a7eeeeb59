package main

import (
	"strings"
	"testing"
	"time"
)

// Lines as relay prints them (abridged fields are parsed the same way).
const sample = `bench noise that is not a result
impl=bare pairs=1000 rate=60000 sent=600001 received=600001 achieved=60000/s p50=120µs p90=1.4ms p99=41.6ms max=70ms late_sends=10 server_cpu_per_msg=15.0us server_alloc_per_msg=0B server_gcs=0 load_cpu_per_msg=16.5us
impl=mosia pairs=1000 rate=30000 sent=300001 received=300000 achieved=30000/s p50=110µs p90=2ms p99=36.7ms max=60ms late_sends=0 server_cpu_per_msg=31.0us server_alloc_per_msg=2600B server_gcs=5 load_cpu_per_msg=28.7us
impl=bare pairs=1000 rate=60000 sent=600001 received=600001 achieved=60000/s p50=120µs p90=1.4ms p99=55ms max=70ms late_sends=10 server_cpu_per_msg=14.0us server_alloc_per_msg=0B server_gcs=0 load_cpu_per_msg=16.5us
impl=mosia pairs=1000 rate=30000 sent=300001 received=300001 achieved=30000/s p50=110µs p90=2ms p99=900µs max=60ms late_sends=0 server_cpu_per_msg=29.0us server_alloc_per_msg=2600B server_gcs=5 load_cpu_per_msg=28.7us
impl=acked pairs=1000 rate=60000 sent=600001 received=600001 achieved=60000/s p50=120µs p90=1.4ms p99=45ms max=70ms late_sends=10 server_cpu_per_msg=20.0us server_alloc_per_msg=0B server_gcs=0 load_cpu_per_msg=18.5us
`

func TestParseRun(t *testing.T) {
	r, ok := parseRun(strings.Split(sample, "\n")[2])
	if !ok {
		t.Fatal("a relay line was not parsed")
	}
	if r.impl != "mosia" || r.rate != 30000 || r.p99 != 36700*time.Microsecond || r.serverCPU != 31.0 || r.clientCPU != 28.7 || r.sent-r.receive != 1 {
		t.Fatalf("parsed %+v", r)
	}
	if _, ok := parseRun("bench noise that is not a result"); ok {
		t.Fatal("a line that is not a result was parsed")
	}
}

func TestSummaryPairsMosiaAtHalfTheBareRate(t *testing.T) {
	var runs []run
	for _, line := range strings.Split(sample, "\n") {
		if r, ok := parseRun(line); ok {
			runs = append(runs, r)
		}
	}
	var out strings.Builder
	writeSummary(&out, runs)
	got := out.String()
	// Medians of two runs take the upper one: bare 15.0 us, mosia 31.0 us.
	for _, want := range []string{
		"bare   60000    2     55ms        false",
		"mosia  30000    2     36.7ms      true",
		"60000    30000      2.07                        0.48x",
		// acked 20.0 us against bare 15.0 us; mosia 31.0 us against acked.
		"60000    1.33                 1.55",
		" 1     ", // mosia lost one message
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}
