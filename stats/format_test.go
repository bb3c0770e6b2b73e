package stats

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func sampleComparisons(t *testing.T) []*Comparison {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 5))
	base := noisyRuns(rng, 6, 1.0, 0.02)
	var cs []*Comparison
	for _, v := range []struct {
		name   string
		center float64
	}{{"mesh", 1.2}, {"same", 1.0}} {
		c, err := Compare(base, noisyRuns(rng, 6, v.center, 0.02), Options{Resamples: 500})
		if err != nil {
			t.Fatal(err)
		}
		c.BaseName, c.OtherName = "baseline", v.name
		cs = append(cs, c)
	}
	return cs
}

func TestWriteComparisons_Text(t *testing.T) {
	var b bytes.Buffer
	if err := WriteComparisons(&b, sampleComparisons(t), "text"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("\n%s", out)
	lines := strings.Split(out, "\n")
	// The table is the first block; each column ends (right-aligned) or
	// starts (left-aligned) at the same rune offset on every row: check
	// the end of the first variant's "vs base" column.
	header := lines[0]
	col := runeIndex(header, "vs base") + utf8.RuneCountInString("vs base")
	rows := 0
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		rows++
		r := []rune(l)
		if len(r) < col || r[col-1] == ' ' || (len(r) > col && r[col] != ' ') {
			t.Errorf("row %q: the vs-base column does not end at rune %d", l, col)
		}
	}
	if rows != len(Metrics()) {
		t.Errorf("%d metric rows, want %d", rows, len(Metrics()))
	}
	for _, want := range []string{"p50 (ms)", "p99.9 (ms)", "errors (%)", "~", "mesh vs baseline (6 vs 6 runs): worse p50 +", "same vs baseline (6 vs 6 runs): no significant difference"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func runeIndex(s, sub string) int {
	i := strings.Index(s, sub)
	if i < 0 {
		return -1
	}
	return utf8.RuneCountInString(s[:i])
}

func TestWriteComparisons_Markdown(t *testing.T) {
	var b bytes.Buffer
	if err := WriteComparisons(&b, sampleComparisons(t), "markdown"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if !strings.HasPrefix(lines[0], "| metric | baseline | mesh | vs base |") {
		t.Errorf("header %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "| --- | ---: |") {
		t.Errorf("separator %q", lines[1])
	}
	cols := strings.Count(lines[0], "|")
	for _, l := range lines[1 : 2+len(Metrics())] {
		if strings.Count(l, "|")-strings.Count(l, `\|`) != cols {
			t.Errorf("row %q: %d cells, header has %d", l, strings.Count(l, "|"), cols)
		}
	}
	if !strings.Contains(b.String(), "**mesh vs baseline (6 vs 6 runs): worse p50") {
		t.Errorf("no bold verdict:\n%s", b.String())
	}
}

func TestWriteComparisons_CSV(t *testing.T) {
	var b bytes.Buffer
	if err := WriteComparisons(&b, sampleComparisons(t), "csv"); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+2*len(Metrics()) {
		t.Fatalf("%d records, want %d", len(recs), 1+2*len(Metrics()))
	}
	if recs[0][2] != "metric" || recs[1][1] != "mesh" || recs[1][2] != "p50" || recs[1][19] != "true" || recs[1][20] != "worse" || recs[7][15] != "pp" {
		t.Errorf("records %q, %q", recs[0], recs[1])
	}
}

func TestWriteComparisons_JSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteComparisons(&b, sampleComparisons(t), "json"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Base     string `json:"base"`
		Variants []struct {
			Name    string `json:"name"`
			Verdict string `json:"verdict"`
			Metrics []struct {
				Metric      string                       `json:"metric"`
				Change      *float64                     `json:"change"`
				ChangeUnit  string                       `json:"change_unit"`
				ChangeCI    []float64                    `json:"change_interval"`
				Significant bool                         `json:"significant"`
				Base        struct{ Interval []float64 } `json:"base"`
			} `json:"metrics"`
		} `json:"variants"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if doc.Base != "baseline" || len(doc.Variants) != 2 || doc.Variants[0].Name != "mesh" {
		t.Fatalf("%+v", doc)
	}
	p50 := doc.Variants[0].Metrics[0]
	if p50.Metric != "p50" || p50.Change == nil || *p50.Change < 15 || p50.ChangeUnit != "%" || len(p50.ChangeCI) != 2 || !p50.Significant || len(p50.Base.Interval) != 2 {
		t.Errorf("p50 %+v", p50)
	}
}

func TestWriteComparisons_BadFormat(t *testing.T) {
	if err := WriteComparisons(&bytes.Buffer{}, sampleComparisons(t), "xml"); err == nil || !strings.Contains(err.Error(), "text, json, csv, markdown") {
		t.Errorf("err = %v", err)
	}
	if err := WriteComparisons(&bytes.Buffer{}, nil, "text"); err == nil {
		t.Error("no comparisons: want an error")
	}
}

func TestFormatHelpers(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{FormatValue(1.05234), "1.052"},
		{FormatValue(12.3456), "12.35"},
		{FormatValue(999.84), "999.8"},
		{FormatValue(12345.6), "12346"},
		{FormatValue(0), "0"},
		{FormatValue(999.96), "1000"},
		{FormatValue(0.04123), "0.041"},
		{FormatChange(20.04), "+20.0%"},
		{FormatChange(-0.351), "-0.35%"},
		{FormatChange(-0.0001), "+0.00%"},
		{FormatChange(150), "+150%"},
		{FormatInterval(18.1, 22.34), "[+18.1%, +22.3%]"},
		{FormatP(0.0021645), "0.002"},
		{FormatP(0.00012), "1.2e-04"},
		{formatSummary(Summary{N: 6, Median: 2, HasInterval: true, Low: 1.9, High: 2.1}), "2.000 ± 5%"},
		{formatSummary(Summary{N: 1, Median: 2}), "2.000 ± ∞"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
