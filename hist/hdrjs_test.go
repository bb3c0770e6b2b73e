package hist

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// hdrjsVersion is the hdr-histogram-js release the cross-check runs against.
const hdrjsVersion = "3.0.1"

// TestCrossCheckHdrHistogramJS decodes our encoded histograms (what a
// result's histogram.data holds) with an independent implementation,
// hdr-histogram-js run by Node.js, and compares the count, the maximum
// and the percentiles with ours. Node and npm come from Debian's nodejs
// and npm packages; the npm package is installed once into a cache
// directory (see hdrjsDir). Without node or npm the test skips, except in
// CI (CI=true), where it fails: there the cross-check is required.
func TestCrossCheckHdrHistogramJS(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: the cross-check with hdr-histogram-js runs Node.js")
	}
	dir := hdrjsDir(t)

	rng := rand.New(rand.NewPCG(7, 11))
	var hs []*Histogram
	h199 := New() // the example: 199 samples, p99 the 198th
	for i := 1; i <= 199; i++ {
		h199.Record(time.Duration(i) * time.Millisecond)
	}
	hs = append(hs, h199)
	one := New()
	one.Record(1500 * time.Microsecond)
	hs = append(hs, one)
	for iter := 0; iter < 60; iter++ {
		h := New()
		n := 1 + rng.IntN(5000)
		if iter%5 == 0 {
			n = 1 + rng.IntN(10)
		}
		spread := []time.Duration{2 * time.Millisecond, 80 * time.Millisecond, 30 * time.Second}[iter%3]
		for i := 0; i < n; i++ {
			// Log-uniform-ish: a long tail, as latencies have.
			v := time.Duration(rng.Int64N(int64(spread)) >> rng.IntN(12))
			h.Record(v)
		}
		if iter%6 == 0 {
			h.RecordN(time.Duration(rng.Int64N(int64(spread))), 1+rng.Int64N(1<<34))
		}
		hs = append(hs, h)
	}
	ps := []float64{0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 99.999, 100}

	req := struct {
		Percentiles []float64 `json:"percentiles"`
		Histograms  []string  `json:"histograms"`
	}{Percentiles: ps}
	for _, h := range hs {
		s, err := h.Encode()
		if err != nil {
			t.Fatal(err)
		}
		// Go through Decode as a reader of a result file would.
		d, err := Decode(s)
		if err != nil || !d.Equal(h) {
			t.Fatalf("decode: %v", err)
		}
		req.Histograms = append(req.Histograms, s)
	}
	in, _ := json.Marshal(req)
	cmd := exec.Command("node", filepath.Join("testdata", "hdrjs.js"), dir)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var got []struct {
		Count       int64     `json:"count"`
		Max         float64   `json:"max"`
		Percentiles []float64 `json:"percentiles"`
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(hs) {
		t.Fatalf("node output (%v): %.500s", err, out)
	}
	for i, h := range hs {
		js := got[i]
		if js.Count != h.Count() {
			t.Errorf("histogram %d: count %d in JS, %d here", i, js.Count, h.Count())
		}
		if int64(js.Max) != int64(h.Max()/time.Microsecond) {
			t.Errorf("histogram %d (N=%d): max %v µs in JS, %v here", i, h.Count(), js.Max, h.Max())
		}
		ours := h.Percentiles(ps)
		for j, p := range ps {
			if int64(js.Percentiles[j]) != int64(ours[j]/time.Microsecond) || h.Percentile(p) != ours[j] {
				t.Errorf("histogram %d (N=%d): p%v = %v µs in JS, %v here", i, h.Count(), p, js.Percentiles[j], ours[j])
			}
		}
	}
	t.Logf("%d histograms, %d percentiles each: count, max and percentiles agree with hdr-histogram-js %s", len(hs), len(ps), hdrjsVersion)
}

// hdrjsDir returns a directory whose node_modules holds hdr-histogram-js,
// installing it with npm on first use. The directory is
// $SMP_NPM_CACHE/hdr-histogram-js@<version>, by default beside Go's build
// cache ($GOCACHE/../smp-npm), so CI keeps it with that cache; the install
// goes to a temporary directory renamed into place, so a failed or
// concurrent install never leaves half a package behind.
func hdrjsDir(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("required in CI (CI=true): "+format, args...)
		}
		t.Skipf("skipped: "+format+" (install Debian's nodejs and npm to run this cross-check)", args...)
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing("node not found: %v", err)
	}
	cache := os.Getenv("SMP_NPM_CACHE")
	if cache == "" {
		gocache := os.Getenv("GOCACHE")
		if gocache == "" {
			out, err := exec.Command("go", "env", "GOCACHE").Output()
			if err == nil {
				gocache = string(bytes.TrimSpace(out))
			}
		}
		if gocache == "" || gocache == "off" {
			base, err := os.UserCacheDir()
			if err != nil {
				base = os.TempDir()
			}
			gocache = filepath.Join(base, "go-build")
		}
		cache = filepath.Join(filepath.Dir(gocache), "smp-npm")
	}
	dir := filepath.Join(cache, "hdr-histogram-js@"+hdrjsVersion)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "hdr-histogram-js", "package.json")); err == nil {
		return dir
	}
	if _, err := exec.LookPath("npm"); err != nil {
		missing("npm not found to install hdr-histogram-js: %v", err)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		missing("npm cache directory: %v", err)
	}
	tmp, err := os.MkdirTemp(cache, ".install-")
	if err != nil {
		missing("npm cache directory: %v", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("npm", "install", "--prefix", tmp, "--no-audit", "--no-fund", "--no-save",
		"--loglevel=error", "hdr-histogram-js@"+hdrjsVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		missing("npm install hdr-histogram-js@%s: %v\n%s", hdrjsVersion, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another test process may have installed it meanwhile.
		if _, err2 := os.Stat(filepath.Join(dir, "node_modules", "hdr-histogram-js", "package.json")); err2 != nil {
			t.Fatalf("install hdr-histogram-js: %v", err)
		}
	}
	return dir
}
