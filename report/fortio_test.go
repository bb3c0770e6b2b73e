package report

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	fstats "fortio.org/fortio/stats"
	flog "fortio.org/log"
	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/spec"
)

// bucketOf returns the Fortio bucket holding value v (seconds) and its
// width; the last bucket when v is past the end.
func bucketOf(data []fstats.Bucket, v float64) (fstats.Bucket, float64) {
	for _, b := range data {
		if v <= b.End {
			return b, b.End - b.Start
		}
	}
	b := data[len(data)-1]
	return b, b.End - b.Start
}

// TestFortioReadByFortio writes a result as Fortio JSON and reads it back
// with Fortio's own types: same count, and each percentile Fortio computes
// from the buckets within one bucket of smp's.
func TestFortioReadByFortio(t *testing.T) {
	tests := []struct {
		name string
		s    synth
	}{
		{"sub-millisecond", synth{name: "fast", seconds: 20, rate: 2000, median: 300 * time.Microsecond, sigma: 0.3, seed: 3}},
		{"wide tail", synth{name: "tail", seconds: 30, rate: 500, median: 4 * time.Millisecond, sigma: 1.2, seed: 4,
			errorsAt: map[int]int64{5: 7}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.s.result(t)
			data, err := Fortio(r)
			if err != nil {
				t.Fatal(err)
			}
			var got fhttp.HTTPRunnerResults
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("Fortio's types cannot read it: %v", err)
			}
			h, err := hist.Decode(r.GetHistogram().GetData())
			if err != nil {
				t.Fatal(err)
			}
			dh := got.DurationHistogram
			if dh == nil || dh.Count != h.Count() {
				t.Fatalf("count: got %+v, want %d", dh, h.Count())
			}
			var sum int64
			for _, b := range dh.Data {
				sum += b.Count
			}
			if sum != dh.Count {
				t.Errorf("bucket counts sum to %d, Count %d", sum, dh.Count)
			}
			if got.RunType != "HTTP" || got.NumThreads != 8 || got.ActualQPS != r.GetActualQps() ||
				got.ActualDuration != time.Duration(r.GetDurationS()*1e9) || !got.StartTime.Equal(r.GetStartTime().AsTime()) {
				t.Errorf("run figures: %+v", got.RunnerResults)
			}
			if got.RetCodes[200] != r.GetStatusCodes()[200] {
				t.Errorf("RetCodes %v", got.RetCodes)
			}
			if errs := r.GetRequests().GetErrors(); errs > 0 && got.RetCodes[-1] != errs {
				t.Errorf("RetCodes[-1] = %d, want the %d transport errors", got.RetCodes[-1], errs)
			}
			if math.Abs(dh.Avg-float64(h.Mean())/1e9) > 1e-9 || math.Abs(dh.Max-float64(h.Max())/1e9) > 2e-6 {
				t.Errorf("avg %g max %g, want %v %v", dh.Avg, dh.Max, h.Mean(), h.Max())
			}
			for _, p := range []float64{50, 75, 90, 99, 99.9} {
				want := float64(h.Percentile(p)) / 1e9
				fortio := dh.CalcPercentile(p)
				_, width := bucketOf(dh.Data, want)
				if math.Abs(fortio-want) > width+1e-6 {
					t.Errorf("p%g: Fortio computes %.6fs, smp %.6fs, bucket %.6fs wide", p, fortio, want, width)
				}
				var listed float64
				for _, pc := range dh.Percentiles {
					if pc.Percentile == p {
						listed = pc.Value
					}
				}
				if math.Abs(listed-want) > 1e-9 {
					t.Errorf("p%g listed as %g, want %g", p, listed, want)
				}
			}
			if len(data) > 200<<10 {
				t.Errorf("Fortio JSON is %d bytes", len(data))
			}
		})
	}
}

func TestFortioWithoutHistogram(t *testing.T) {
	r := &spec.PerformanceTestResult{ActualQps: 10, Requests: &spec.PerformanceTestResult_Requests{Total: 100},
		LatenciesMs: &spec.PerformanceTestResult_Latency{Min: 1, Average: 2, P50: 2, P90: 3, P99: 4, Max: 5}}
	data, err := Fortio(r)
	if err != nil {
		t.Fatal(err)
	}
	var got fhttp.HTTPRunnerResults
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	dh := got.DurationHistogram
	if dh.Count != 100 || dh.Max != 0.005 || len(dh.Data) != 0 || len(dh.Percentiles) != 3 || dh.Percentiles[2].Value != 0.004 {
		t.Errorf("summary-only histogram: %+v", dh)
	}
	if _, err := Fortio(&spec.PerformanceTestResult{Histogram: &spec.PerformanceTestResult_Histogram{Data: "HISTFnot"}}); err == nil {
		t.Error("a broken histogram was written")
	}
}

// fortioRun runs Fortio's own load generator for about a second against a
// server on 127.0.0.1 that answers after a random delay of up to 4 ms
// (and 503 for one request in 50), and returns its result as JSON.
func fortioRun(t *testing.T) ([]byte, *fhttp.HTTPRunnerResults) {
	t.Helper()
	flog.SetLogLevelQuiet(flog.Error)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(7, 11))
	n := 0
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		d := time.Duration(rng.Float64() * float64(4*time.Millisecond))
		n++
		fail := n%50 == 0
		mu.Unlock()
		time.Sleep(d)
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = io.WriteString(w, "ok")
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	o := fhttp.HTTPRunnerOptions{
		RunnerOptions: periodic.RunnerOptions{
			QPS: 400, Duration: time.Second, NumThreads: 4,
			Percentiles: []float64{50, 75, 90, 99, 99.9},
			// Fortio's default resolution is 1 ms; 0.1 ms gives buckets
			// fine enough to tell p50 from p90 at these latencies.
			Resolution: 0.0001,
			Out:        io.Discard,
			Labels:     "fortio loopback",
		},
		HTTPOptions: fhttp.HTTPOptions{URL: "http://" + ln.Addr().String() + "/"},
	}
	res, err := fhttp.RunHTTPTest(&o)
	if err != nil {
		t.Fatalf("fortio run: %v", err)
	}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return data, res
}

// TestImportRealFortio imports the JSON of a real Fortio run: the same
// count and status codes, and p50/p90/p99 as Fortio computed them — in
// latencies_ms exactly, and from the rebuilt histogram within one Fortio
// bucket.
func TestImportRealFortio(t *testing.T) {
	if testing.Short() {
		t.Skip("runs fortio for 1 s")
	}
	data, fr := fortioRun(t)
	dh := fr.DurationHistogram
	if dh.Count < 100 || len(dh.Data) < 3 {
		t.Fatalf("fortio run too small to test: %d calls in %d buckets", dh.Count, len(dh.Data))
	}
	wrapped := mesheryWrap(t, data)
	for _, tc := range []struct {
		name, kind string
		data       []byte
	}{{"fortio", KindFortio, data}, {"meshery", KindMesheryResult, wrapped}} {
		t.Run(tc.name, func(t *testing.T) {
			im, err := Import(tc.data, "run.json", "")
			if err != nil {
				t.Fatal(err)
			}
			if im.Kind != tc.kind {
				t.Errorf("kind %q, want %q", im.Kind, tc.kind)
			}
			r := im.Result
			if r.GetRequests().GetTotal() != dh.Count || r.GetStatusCodes()[200]+r.GetStatusCodes()[503] != dh.Count {
				t.Errorf("requests %+v codes %v, Fortio counted %d (%v)", r.GetRequests(), r.GetStatusCodes(), dh.Count, fr.RetCodes)
			}
			if r.GetRequests().GetErrors() != fr.RetCodes[503] || r.GetErrors()["http_503"] != fr.RetCodes[503] {
				t.Errorf("errors %+v %v, want %d 503s", r.GetRequests(), r.GetErrors(), fr.RetCodes[503])
			}
			h, err := hist.Decode(r.GetHistogram().GetData())
			if err != nil {
				t.Fatal(err)
			}
			if h.Count() != dh.Count {
				t.Errorf("rebuilt histogram holds %d, Fortio %d", h.Count(), dh.Count)
			}
			lat := r.GetLatenciesMs()
			for _, c := range []struct {
				p      float64
				stated float64
			}{{50, lat.GetP50()}, {90, lat.GetP90()}, {99, lat.GetP99()}} {
				var fortio float64
				for _, pc := range dh.Percentiles {
					if pc.Percentile == c.p {
						fortio = pc.Value
					}
				}
				if math.Abs(c.stated-fortio*1e3) > 1e-6 { // rounded to the nanosecond
					t.Errorf("latencies_ms p%g = %g, Fortio printed %g ms", c.p, c.stated, fortio*1e3)
				}
				rebuilt := float64(h.Percentile(c.p)) / 1e9
				_, width := bucketOf(dh.Data, fortio)
				if math.Abs(rebuilt-fortio) > width+1e-6 {
					t.Errorf("p%g from the rebuilt histogram %.6fs, Fortio %.6fs, bucket %.6fs", c.p, rebuilt, fortio, width)
				}
			}
			if math.Abs(lat.GetMin()-dh.Min*1e3) > 1e-6 || math.Abs(lat.GetMax()-dh.Max*1e3) > 1e-6 {
				t.Errorf("min/max %g/%g, Fortio %g/%g", lat.GetMin(), lat.GetMax(), dh.Min, dh.Max)
			}
			if r.GetConfig().GetClients()[0].GetConnections() != 4 || r.GetRequestedQps() != 400 {
				t.Errorf("config %+v qps %g", r.GetConfig(), r.GetRequestedQps())
			}
			// And out again: Fortio's types read smp's export of the import.
			out, err := Fortio(r)
			if err != nil {
				t.Fatal(err)
			}
			var back fhttp.HTTPRunnerResults
			if err := json.Unmarshal(out, &back); err != nil || back.DurationHistogram.Count != dh.Count {
				t.Errorf("re-export: %v, count %d", err, back.DurationHistogram.Count)
			}
			// The imported result is a valid SMP document.
			y, err := spec.Encode(r, "yaml")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := spec.LoadAs(y, "imported.yaml", spec.KindResult); err != nil {
				t.Errorf("imported result does not validate: %v", err)
			}
		})
	}
}

func mesheryWrap(t *testing.T, fortio []byte) []byte {
	t.Helper()
	var inner map[string]any
	if err := json.Unmarshal(fortio, &inner); err != nil {
		t.Fatal(err)
	}
	inner["load-generator"] = "fortio"
	inner["kubernetes"] = map[string]any{"server_version": "v1.30.4", "nodes": []any{}}
	out, err := json.Marshal(map[string]any{
		"meshery_id": "5f7c", "name": "istio-baseline", "mesh": "istio", "test_id": "t-1",
		"runner_results": inner, "server_metrics": nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportMesheryFields(t *testing.T) {
	const fortio = `{"RunType":"HTTP","Labels":"x","StartTime":"2025-01-02T03:04:05Z","RequestedQPS":"max","ActualQPS":50,
"ActualDuration":2000000000,"NumThreads":2,"DurationHistogram":{"Count":3,"Min":0.001,"Max":0.003,"Sum":0.006,"Avg":0.002,
"Data":[{"Start":0.001,"End":0.002,"Percent":66.7,"Count":2},{"Start":0.002,"End":0.003,"Percent":100,"Count":1}],
"Percentiles":[{"Percentile":50,"Value":0.0015}]},"RetCodes":{"200":3},"URL":"http://127.0.0.1:8080/"}`
	im, err := Import(mesheryWrap(t, []byte(fortio)), "m.json", "")
	if err != nil {
		t.Fatal(err)
	}
	r := im.Result
	if r.GetName() != "istio-baseline" || r.GetId() != "5f7c" || r.GetTestId() != "t-1" ||
		r.GetMesh().GetType() != spec.ServiceMesh_ISTIO || r.GetEnvironment().GetKubernetesVersion() != "v1.30.4" ||
		r.GetGenerator().GetName() != "fortio" || r.GetRequestedQps() != 0 || r.GetDurationS() != 2 ||
		r.GetLatenciesMs().GetP50() != 1.5 || r.GetConfig().GetClients()[0].GetEndpointUrls()[0] != "http://127.0.0.1:8080/" {
		t.Errorf("imported: %v", r)
	}
	if r.GetEndTime().AsTime().Sub(r.GetStartTime().AsTime()) != 2*time.Second {
		t.Errorf("times %v %v", r.GetStartTime(), r.GetEndTime())
	}
}

// TestImportFortioBadInput: every problem names the file and the field.
func TestImportFortioBadInput(t *testing.T) {
	const head = `{"RunType":"HTTP","ActualQPS":1,"DurationHistogram":`
	tests := []struct {
		name  string
		data  string
		wants []string
	}{
		{"empty", "", []string{"in.json", "empty"}},
		{"malformed", "{\n\"RunType\": \"HTTP\",\n\"DurationHistogram\": {,}}", []string{"in.json:3", "malformed JSON"}},
		{"wrong type", head + `{"Count":"many"}}`, []string{"in.json:1", "DurationHistogram.Count", "a whole number"}},
		{"no histogram", `{"RunType":"HTTP"}`, []string{"DurationHistogram", "missing"}},
		{"negative bucket", head + `{"Count":1,"Min":0.001,"Max":0.002,"Data":[{"Start":0.001,"End":0.002,"Count":-1}]}}`,
			[]string{"DurationHistogram.Data[0].Count", "negative"}},
		{"end before start", head + `{"Count":1,"Min":0.001,"Max":0.002,"Data":[{"Start":0.002,"End":0.001,"Count":1}]}}`,
			[]string{"DurationHistogram.Data[0].End", "below Start"}},
		{"count mismatch", head + `{"Count":5,"Min":0.001,"Max":0.002,"Data":[{"Start":0.001,"End":0.002,"Count":1}]}}`,
			[]string{"DurationHistogram.Count", "sum of the bucket counts, 1"}},
		{"beyond an hour", head + `{"Count":1,"Min":0.001,"Max":4000,"Data":[{"Start":0.001,"End":4000,"Count":1}]}}`,
			[]string{"DurationHistogram.Data[0].End", "beyond 1 h"}},
		{"bad percentile", head + `{"Count":1,"Min":0.001,"Max":0.002,"Data":[{"Start":0.001,"End":0.002,"Count":1}],"Percentiles":[{"Percentile":120,"Value":1}]}}`,
			[]string{"DurationHistogram.Percentiles[0].Percentile", "0..100"}},
		{"negative code count", head + `{"Count":0},"RetCodes":{"200":-4}}`, []string{"RetCodes.200", "negative"}},
		{"meshery without results", `{"name":"x","runner_results":null}`, []string{"runner_results", "empty"}},
		{"meshery wrong type", `{"name":"x","runner_results":{"DurationHistogram":{"Count":true}}}`,
			[]string{"runner_results.DurationHistogram.Count", "a whole number"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ImportFortio([]byte(tc.data), "in.json")
			if err == nil {
				t.Fatal("accepted")
			}
			var errs spec.Errors
			if !errors.As(err, &errs) {
				t.Errorf("error is %T, want spec.Errors", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// FuzzImportFortio: no input panics, and whatever is accepted converts to
// a consistent result that exports again.
func FuzzImportFortio(f *testing.F) {
	f.Add([]byte(`{"RunType":"HTTP","DurationHistogram":{"Count":3,"Min":0.001,"Max":0.003,"Avg":0.002,"Data":[{"Start":0.001,"End":0.002,"Percent":66.7,"Count":2},{"Start":0.002,"End":0.003,"Percent":100,"Count":1}],"Percentiles":[{"Percentile":50,"Value":0.0015}]},"RetCodes":{"200":2,"-1":1}}`))
	f.Add([]byte(`{"name":"m","mesh":"istio","runner_results":{"DurationHistogram":{"Count":1,"Min":0.5,"Max":0.5,"Data":[{"Start":0.5,"End":0.5,"Count":1}]},"load-generator":"wrk2"}}`))
	f.Add([]byte(`{"RunType":"GRPC","DurationHistogram":{"Count":0}}`))
	f.Add([]byte(`{"DurationHistogram":{"Count":9223372036854775807,"Data":[{"Start":0,"End":3600,"Count":9223372036854775807}]}}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ImportFortio(data, "fuzz.json")
		if err != nil {
			var errs spec.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T %v is not spec.Errors", err, err)
			}
			return
		}
		if hd := r.GetHistogram().GetData(); hd != "" {
			h, err := hist.Decode(hd)
			if err != nil {
				t.Fatalf("rebuilt histogram does not decode: %v", err)
			}
			if h.Count() != r.GetRequests().GetTotal() && len(r.GetStatusCodes()) == 0 {
				t.Fatalf("histogram holds %d, requests %d", h.Count(), r.GetRequests().GetTotal())
			}
		}
		if _, err := Fortio(r); err != nil {
			t.Fatalf("imported result does not export: %v", err)
		}
	})
}
