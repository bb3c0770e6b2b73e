package interop

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/internal/fortiojson"
	"github.com/smp-project/smp/report"
	"github.com/smp-project/smp/spec"
)

// shape is what one document of testdata/shapes must load as.
type shape struct {
	file    string
	opts    []Option
	kind    Kind
	results []int64 // requests.total of each result in Results, in order
	chosen  int64   // requests.total of Result; 0 when no result
	configs []string
	invalid []string // "line:path" of each problem in Invalid
	notes   []string // parts of the notes, each in some note
	err     string   // a part of the error; the rest is then unchecked
	errAt   string   // "line:path" of the first error
}

func shapes() []shape {
	const (
		runA = 2000 // [0]: two runner results with histograms, 1000 + 1000
		runB = 1500 // [1]: 1000 with a histogram + 500 without
	)
	return []shape{
		{file: "meshery-results-export.json", kind: KindMesheryResults, results: []int64{runA, runB}, chosen: runA,
			invalid: []string{"236:[2].runner_results[0].DurationHistogram.Count"},
			notes: []string{
				"[0].runner_results: 2 load generator results merged",
				"the histograms merge",
				"[1].runner_results: 2 load generator results merged",
				"the percentiles are APPROXIMATE",
				"[2]: skipped, malformed",
				`the file holds 3 results (2 valid): a command that takes one result uses [0] "istio-run-a"`,
			}},
		{file: "meshery-results-export.json", opts: []Option{Index(1)}, kind: KindMesheryResults, results: []int64{runA, runB}, chosen: runB,
			invalid: []string{"236:[2].runner_results[0].DurationHistogram.Count"},
			notes:   []string{`uses [1] "linkerd-run-b" (chosen by --index)`}},
		{file: "meshery-results-export.json", opts: []Option{Index(2)},
			err: "[2].runner_results[0].DurationHistogram.Count", errAt: "236:[2].runner_results[0].DurationHistogram.Count"},
		{file: "meshery-results-export.json", opts: []Option{Index(3)}, err: "--index 3: the file holds 3 results (0..2)"},
		{file: "meshery-result-one.json", kind: KindMesheryResult, results: []int64{runA}, chosen: runA,
			notes: []string{"runner_results: 2 load generator results merged", "the histograms merge"}},
		{file: "meshery-results-page.json", kind: KindMesheryResults, results: []int64{runA, runB}, chosen: runA,
			notes: []string{"results[1].runner_results: 2 load generator results merged", `uses results[0] "istio-run-a"`}},
		{file: "meshery-profiles-one-bad.json", kind: KindMesheryProfile, configs: []string{"productpage-istio", "reviews-nighthawk"},
			invalid: []string{"21:[1].requestHeaders"},
			notes: []string{
				`profile [1] "broken-headers": skipped, malformed`,
				`profile "reviews-nighthawk": load_generator: the config names nighthawk; smp runs the test on its own load generator`,
			}},
		{file: "meshery-profiles-one-bad.json", opts: []Option{Profile("reviews-nighthawk")}, kind: KindMesheryProfile,
			configs: []string{"reviews-nighthawk"}, invalid: []string{"21:[1].requestHeaders"},
			notes: []string{`profile [1] "broken-headers": skipped, malformed`, "load_generator: the config names nighthawk"}},
		{file: "meshery-profiles-one-bad.json", opts: []Option{Profile("broken-headers")},
			err: `expected a JSON object`, errAt: "21:[1].requestHeaders"},
		{file: "config-nighthawk.yaml", kind: KindConfig, configs: []string{"reviews under nighthawk"},
			notes: []string{"load_generator: the config names nighthawk; smp runs the test on its own load generator"}},
	}
}

// TestShapes loads every document of the shapes corpus as described: the
// kind, the results and their counts, the configs, the skipped elements
// named by index and line, the notes, and the errors.
func TestShapes(t *testing.T) {
	for _, tc := range shapes() {
		name := tc.file
		if len(tc.opts) > 0 {
			name += "+option"
		}
		t.Run(name, func(t *testing.T) {
			d, err := Open(filepath.Join("testdata", "shapes", tc.file), tc.opts...)
			if tc.err != "" {
				var errs spec.Errors
				if !errors.As(err, &errs) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want spec.Errors with %q", err, tc.err)
				}
				if tc.errAt != "" && at(errs[0]) != tc.errAt {
					t.Errorf("error at %q, want %q", at(errs[0]), tc.errAt)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Kind != tc.kind {
				t.Errorf("kind %q, want %q", d.Kind, tc.kind)
			}
			var totals []int64
			for _, r := range d.Results {
				totals = append(totals, r.GetRequests().GetTotal())
			}
			if !equalInts(totals, tc.results) {
				t.Errorf("results' totals %v, want %v", totals, tc.results)
			}
			if got := d.Result.GetRequests().GetTotal(); got != tc.chosen {
				t.Errorf("chosen result's total %d, want %d", got, tc.chosen)
			}
			var names []string
			for _, c := range d.Configs {
				names = append(names, c.GetName())
			}
			if strings.Join(names, ",") != strings.Join(tc.configs, ",") {
				t.Errorf("configs %q, want %q", names, tc.configs)
			}
			var invalid []string
			for _, e := range d.Invalid {
				invalid = append(invalid, at(e))
			}
			if strings.Join(invalid, ",") != strings.Join(tc.invalid, ",") {
				t.Errorf("invalid %q, want %q", invalid, tc.invalid)
			}
			all := strings.Join(d.Notes, "\n")
			for _, n := range tc.notes {
				if !strings.Contains(all, n) {
					t.Errorf("no note with %q in\n%s", n, all)
				}
			}
		})
	}
}

func at(e *spec.FieldError) string {
	return strings.TrimSpace(strings.Join([]string{itoa(e.Line), e.Path}, ":"))
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestShapesMerge checks what a runner_results list merges into: counts
// and codes add, min and max are the extremes, the average is weighted,
// the histograms merge when every part has one, and the percentiles are
// marked approximate otherwise.
func TestShapesMerge(t *testing.T) {
	d, err := Open(filepath.Join("testdata", "shapes", "meshery-results-export.json"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := d.Results[0], d.Results[1]
	if a.GetRequests().GetOk() != 1990 || a.GetStatusCodes()[503] != 10 || a.GetErrors()["http_503"] != 10 {
		t.Errorf("run a: requests %v, codes %v, errors %v", a.GetRequests(), a.GetStatusCodes(), a.GetErrors())
	}
	if a.GetActualQps() != 200 || a.GetDurationS() != 10 || a.GetConfig().GetClients()[0].GetConnections() != 8 {
		t.Errorf("run a: qps %v, duration %v, connections %d", a.GetActualQps(), a.GetDurationS(), a.GetConfig().GetClients()[0].GetConnections())
	}
	if l := a.GetLatenciesMs(); l.GetMin() != 1 || l.GetMax() != 12 {
		t.Errorf("run a: min %v max %v, want 1 and 12", l.GetMin(), l.GetMax())
	}
	h, err := hist.Decode(a.GetHistogram().GetData())
	if err != nil || h.Count() != 2000 {
		t.Fatalf("run a: merged histogram %v, count %d", err, h.Count())
	}
	if _, ok := a.GetLabels()["smp.approximate"]; ok {
		t.Error("run a is marked approximate")
	}
	if b.GetHistogram() != nil || b.GetLabels()["smp.approximate"] == "" {
		t.Errorf("run b: histogram %v, labels %v; want none and smp.approximate", b.GetHistogram(), b.GetLabels())
	}
	// Fortio's p50s were 3 ms (1000 calls) and 3.2 ms (500 calls).
	if p50 := b.GetLatenciesMs().GetP50(); math.Abs(p50-(1000*3+500*3.2)/1500) > 1e-9 {
		t.Errorf("run b: p50 %v, want the count-weighted mean", p50)
	}
	if d.Results[1].GetMesh().GetType() != spec.ServiceMesh_LINKERD || a.GetName() != "istio-run-a" {
		t.Errorf("mesh %v, name %q", d.Results[1].GetMesh(), a.GetName())
	}
}

// TestShapesRefused: documents that are really malformed are refused
// with the file, line and field path; a list whose every element is
// malformed names each by its index.
func TestShapesRefused(t *testing.T) {
	tests := []struct{ name, data, want string }{
		{"every element malformed", "[\n{\"name\":\"a\",\"runner_results\":[]},\n{\"name\":\"b\",\"runner_results\":null}\n]",
			"in.json:2: [0].runner_results: an empty list; a Meshery result carries the load generator's results here\nin.json:3: [1].runner_results: empty"},
		{"element not an object", "[\n{\"runner_results\":" + fortioOne + "},\n7\n]", ""},
		{"empty page", `{"page":0,"page_size":25,"total_count":0,"results":[]}`, "in.json:1: results: an empty list"},
		{"runner result of the wrong type", "{\"name\":\"a\",\n\"runner_results\":[\n" + fortioOne + ",\n{\"RunType\":\"HTTP\",\"DurationHistogram\":{\"Count\":\"x\"}}]}",
			"in.json:4: runner_results[1].DurationHistogram.Count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Read([]byte(tc.data), "in.json")
			if tc.want == "" {
				// One valid element: it loads, the other is named.
				if err != nil || len(d.Results) != 1 || len(d.Invalid) != 1 || d.Invalid[0].Path != "[1]" || d.Invalid[0].Line != 3 {
					t.Fatalf("err %v, doc %+v", err, d)
				}
				return
			}
			var errs spec.Errors
			if !errors.As(err, &errs) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want spec.Errors with %q", err, tc.want)
			}
		})
	}
}

// TestFortioRoundTrip: Fortio -> smp -> Fortio -> smp keeps Fortio's own
// percentiles (percentiles_ms and the Fortio JSON's Percentiles agree), the
// counts and the extremes; the histogram is rebuilt from the buckets, and
// its percentiles stay within one Fortio bucket of Fortio's.
func TestFortioRoundTrip(t *testing.T) {
	// The case of the issue: a p99.9 of 44 ms inside a bucket 40–50 ms
	// wide, where the rebuilt histogram's p99.9 is not 44.
	wide := `{"RunType":"HTTP","Version":"1.60.0","DurationHistogram":{"Count":1000,"Min":0.001,"Max":0.05,
"Data":[{"Start":0.001,"End":0.01,"Count":990},{"Start":0.04,"End":0.05,"Count":10}],
"Percentiles":[{"Percentile":50,"Value":0.0055},{"Percentile":99,"Value":0.01},{"Percentile":99.9,"Value":0.044}]},
"RetCodes":{"200":1000}}`
	fixture, err := os.ReadFile(filepath.Join("testdata", "fortio-http.json"))
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"wide bucket": []byte(wide), "fixture": fixture} {
		t.Run(name, func(t *testing.T) {
			var orig fortiojson.Result
			if err := json.Unmarshal(in, &orig); err != nil {
				t.Fatal(err)
			}
			d1, err := Read(in, "in.json")
			if err != nil {
				t.Fatal(err)
			}
			out, err := report.Fortio(d1.Result)
			if err != nil {
				t.Fatal(err)
			}
			var back fortiojson.Result
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatal(err)
			}
			got := map[float64]float64{}
			for _, p := range back.DurationHistogram.Percentiles {
				got[p.Percentile] = p.Value
			}
			for _, p := range orig.DurationHistogram.Percentiles {
				if v, ok := got[p.Percentile]; !ok || math.Abs(v-p.Value) > 1e-9 {
					t.Errorf("p%v: Fortio said %v s, smp wrote back %v s", p.Percentile, p.Value, v)
				}
			}
			if back.DurationHistogram.Count != orig.DurationHistogram.Count {
				t.Errorf("count %d, want %d", back.DurationHistogram.Count, orig.DurationHistogram.Count)
			}
			d2, err := Read(out, "back.json")
			if err != nil {
				t.Fatal(err)
			}
			r1, r2 := d1.Result, d2.Result
			if len(r2.GetPercentilesMs()) < len(r1.GetPercentilesMs()) {
				t.Fatalf("percentiles_ms %v, then %v", r1.GetPercentilesMs(), r2.GetPercentilesMs())
			}
			stated := map[float64]float64{}
			for _, p := range r2.GetPercentilesMs() {
				stated[p.GetPercentile()] = p.GetValue()
			}
			for _, p := range r1.GetPercentilesMs() {
				if stated[p.GetPercentile()] != p.GetValue() {
					t.Errorf("percentiles_ms p%v: %v, then %v", p.GetPercentile(), p.GetValue(), stated[p.GetPercentile()])
				}
			}
			l1, l2 := r1.GetLatenciesMs(), r2.GetLatenciesMs()
			if l1.GetP50() != l2.GetP50() || l1.GetP90() != l2.GetP90() || l1.GetP99() != l2.GetP99() ||
				l1.GetMin() != l2.GetMin() || l1.GetAverage() != l2.GetAverage() {
				t.Errorf("latencies_ms %v, then %v", l1, l2)
			}
			if math.Abs(l1.GetMax()-l2.GetMax()) > 0.001*l1.GetMax() {
				t.Errorf("max %v, then %v", l1.GetMax(), l2.GetMax())
			}
			if r1.GetRequests().GetTotal() != r2.GetRequests().GetTotal() {
				t.Errorf("requests %v, then %v", r1.GetRequests(), r2.GetRequests())
			}
			// The rebuilt histogram: within the Fortio bucket that holds
			// each stated percentile.
			h, err := hist.Decode(r2.GetHistogram().GetData())
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range orig.DurationHistogram.Percentiles {
				v := float64(h.Percentile(p.Percentile)) / 1e9
				if b := bucketOf(orig.DurationHistogram.Data, p.Value); b != nil && (v < b.Start*0.99 || v > b.End*1.01) {
					t.Errorf("p%v of the rebuilt histogram %v s, outside Fortio's bucket %v–%v", p.Percentile, v, b.Start, b.End)
				}
			}
		})
	}
}

func bucketOf(bs []fortiojson.Bucket, v float64) *fortiojson.Bucket {
	for i := range bs {
		if bs[i].Count > 0 && v >= bs[i].Start && v <= bs[i].End {
			return &bs[i]
		}
	}
	return nil
}
