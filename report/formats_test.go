package report

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/spec"
)

// TestHDRLogRoundTrip reads the log back with hdrhistogram-go's own log
// reader: one interval with identical totals, and a histogram equal to the
// result's.
func TestHDRLogRoundTrip(t *testing.T) {
	r := synth{name: "run one", seconds: 60, rate: 800, median: 2 * time.Millisecond, sigma: 0.6, seed: 9}.result(t)
	var buf bytes.Buffer
	if err := WriteHDRLog(&buf, r); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{"#[Histogram log format version 1.3]\n", "#[StartTime: 1795600800.000 (seconds since epoch), 2026-11-25T10:00:00.000Z]\n",
		`"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"` + "\n", "\n0.000,60.000,"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
	want, err := hist.Decode(r.GetHistogram().GetData())
	if err != nil {
		t.Fatal(err)
	}
	reader := hdr.NewHistogramLogReader(&buf)
	var n int
	var total int64
	var last *hdr.Histogram
	for i := 0; i < 10; i++ {
		h, err := reader.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		n++
		total += h.TotalCount()
		last = h
	}
	if n != 1 || total != want.Count() {
		t.Fatalf("read %d intervals, %d values; want 1 and %d", n, total, want.Count())
	}
	// hdrhistogram-go takes rank round(p·N), smp the nearest rank
	// ceil(p·N): ask it for the percentile that lands on smp's rank.
	p99 := last.ValueAtPercentile(100 * float64(hist.Rank(99, total)) / float64(total))
	if last.Max() != int64(want.Max()/time.Microsecond) || p99 != int64(want.Percentile(99)/time.Microsecond) {
		t.Errorf("read max %d p99 %d, want %v %v", last.Max(), p99, want.Max(), want.Percentile(99))
	}
	if reader.RangeObservedMax() != last.Max() {
		t.Errorf("observed max %d", reader.RangeObservedMax())
	}
}

func TestHDRLogErrors(t *testing.T) {
	tests := []struct {
		name string
		r    *spec.PerformanceTestResult
		want string
	}{
		{"no histogram", &spec.PerformanceTestResult{}, "no latency histogram"},
		{"bad encoding", &spec.PerformanceTestResult{Histogram: &spec.PerformanceTestResult_Histogram{Data: "HISTFxx"}}, "histogram.data"},
		{"other encoding", &spec.PerformanceTestResult{Histogram: &spec.PerformanceTestResult_Histogram{Encoding: "t-digest", Data: "x"}}, "histogram.encoding"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteHDRLog(&bytes.Buffer{}, tc.r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func readCSV(t *testing.T, data []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestCSV(t *testing.T) {
	a := synth{name: "a", seconds: 5, rate: 100, median: time.Millisecond, sigma: 0.2, seed: 1, errorsAt: map[int]int64{2: 3}}.result(t)
	b := &spec.PerformanceTestResult{Name: "b, quoted", LatenciesMs: &spec.PerformanceTestResult_Latency{Min: 1, P50: 2, P90: 3, P99: 4, Max: 5}}
	var buf bytes.Buffer
	if err := WriteIntervalsCSV(&buf, []*spec.PerformanceTestResult{a, b}, nil); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, buf.Bytes())
	if len(rows) != 6 || strings.Join(rows[0], ",") != "name,offset_s,requests,errors,actual_qps,p50_ms,p99_ms,max_ms" ||
		rows[3][0] != "a" || rows[3][1] != "2" || rows[3][2] != "103" || rows[3][3] != "3" {
		t.Errorf("intervals csv:\n%s", buf.String())
	}

	buf.Reset()
	if err := WritePercentilesCSV(&buf, []*spec.PerformanceTestResult{a, b}, []string{"", "named"}); err != nil {
		t.Fatal(err)
	}
	rows = readCSV(t, buf.Bytes())
	np := len(SpectrumPercentiles())
	if len(rows) != 1+np+5 || rows[0][3] != "uncorrected_ms" {
		t.Fatalf("percentiles csv has %d rows:\n%s", len(rows), buf.String())
	}
	h, _ := hist.Decode(a.GetHistogram().GetData())
	for _, row := range rows[1 : 1+np] {
		if row[1] == "99" && row[2] != formatFloat(float64(h.Percentile(99))/1e6) {
			t.Errorf("p99 row %v, want %v", row, h.Percentile(99))
		}
		if row[3] == "" {
			t.Errorf("row %v lacks the uncorrected value", row)
		}
	}
	if last := rows[len(rows)-1]; strings.Join(last, ",") != "named,100,5," {
		t.Errorf("stated percentiles: %v", last)
	}
}

func TestJUnit(t *testing.T) {
	checks := []Check{
		{Name: "p99 < 250ms", Pass: true, Message: "p99 was 12.5ms"},
		{Name: "errors < 1%", Pass: false, Message: "error rate was 2.5%\n(25 of 1000)", Group: "istio"},
		{Name: `<"&'>`, Pass: false, Message: "escaping \x00 checked"},
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, "smp slo", checks, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name      string `xml:"name,attr"`
			Time      string `xml:"time,attr"`
			Timestamp string `xml:"timestamp,attr"`
			Cases     []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, buf.String())
	}
	if doc.Tests != 3 || doc.Failures != 2 || len(doc.Suites) != 1 {
		t.Fatalf("counts: %+v", doc)
	}
	s := doc.Suites[0]
	if s.Name != "smp slo" || s.Time != "90.000" || s.Timestamp != "2026-01-02T03:04:05" || len(s.Cases) != 3 {
		t.Errorf("suite: %+v", s)
	}
	if s.Cases[0].Failure != nil || s.Cases[1].Failure == nil || s.Cases[1].Failure.Message != "error rate was 2.5%" ||
		s.Cases[1].Classname != "istio" || s.Cases[2].Name != `<"&'>` {
		t.Errorf("cases: %+v", s.Cases)
	}
}

func TestFormatsAndNames(t *testing.T) {
	for path, want := range map[string]string{"r.json": "fortio", "r.HLOG": "hdrlog", "r.hdr": "hdrlog", "r.csv": "csv-intervals", "r.html": "html", "r": "html"} {
		if got := FormatFor(path); got != want {
			t.Errorf("FormatFor(%q) = %q, want %q", path, got, want)
		}
	}
	for _, tt := range []struct {
		format string
		n      int
		ok     bool
	}{{"html", 3, true}, {"csv-percentiles", 2, true}, {"fortio", 1, true}, {"fortio", 2, false}, {"hdrlog", 2, false}, {"pdf", 1, false}} {
		if err := CheckFormat(tt.format, tt.n); (err == nil) != tt.ok {
			t.Errorf("CheckFormat(%q, %d) = %v", tt.format, tt.n, err)
		}
	}
	named := func(n string) *spec.PerformanceTestResult { return &spec.PerformanceTestResult{Name: n} }
	got := ResultNames([]*spec.PerformanceTestResult{named(""), named("mesh")}, []string{"dir/base.yaml", "dir/m.json"})
	if strings.Join(got, ",") != "base,mesh" {
		t.Errorf("names %q", got)
	}
	got = ResultNames([]*spec.PerformanceTestResult{named("x"), named("x")}, []string{"a/r.yaml", "b/r.yaml"})
	if strings.Join(got, ",") != "a/r.yaml,b/r.yaml" {
		t.Errorf("colliding names %q", got)
	}
}
