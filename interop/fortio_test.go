package interop

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"fortio.org/fortio/fhttp"
	"fortio.org/fortio/periodic"
	fstats "fortio.org/fortio/stats"
	flog "fortio.org/log"
	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/report"
	"github.com/smp-project/smp/spec"
)

// widthAt is the width, in seconds, of the Fortio bucket that holds v
// (the last one when v is past the end).
func widthAt(data []fstats.Bucket, v float64) float64 {
	i := min(sort.Search(len(data), func(i int) bool { return v <= data[i].End }), len(data)-1)
	return data[i].End - data[i].Start
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

// TestReadRealFortio imports the JSON of a real Fortio run: the same
// count and status codes, and p50/p90/p99 as Fortio computed them — in
// latencies_ms exactly, and from the rebuilt histogram within one Fortio
// bucket.
func TestReadRealFortio(t *testing.T) {
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
		name string
		kind Kind
		data []byte
	}{{"fortio", KindFortio, data}, {"meshery", KindMesheryResult, wrapped}} {
		t.Run(tc.name, func(t *testing.T) {
			im, err := Read(tc.data, "run.json")
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
				if width := widthAt(dh.Data, fortio); math.Abs(rebuilt-fortio) > width+1e-6 {
					t.Errorf("p%g from the rebuilt histogram %.6fs, Fortio %.6fs, bucket %.6fs", c.p, rebuilt, fortio, widthAt(dh.Data, fortio))
				}
			}
			if math.Abs(lat.GetMin()-dh.Min*1e3) > 1e-6 || math.Abs(lat.GetMax()-dh.Max*1e3) > 1e-6 {
				t.Errorf("min/max %g/%g, Fortio %g/%g", lat.GetMin(), lat.GetMax(), dh.Min, dh.Max)
			}
			if r.GetConfig().GetClients()[0].GetConnections() != 4 || r.GetRequestedQps() != 400 {
				t.Errorf("config %+v qps %g", r.GetConfig(), r.GetRequestedQps())
			}
			// And out again: Fortio's types read smp's export of the import.
			out, err := report.Fortio(r)
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

// TestFortioFixture reads testdata/fortio-http.json, the JSON of a real
// Fortio run (fortio.org/fortio v1.75.3's fhttp.RunHTTPTest, 200 qps for
// 1 s on 2 threads against a loopback server answering in up to 2 ms, one
// request in 40 a 503; Version set to what the fortio binary writes).
func TestFortioFixture(t *testing.T) {
	d, err := Open("testdata/fortio-http.json")
	if err != nil {
		t.Fatal(err)
	}
	r := d.Result
	if d.Kind != KindFortio || !d.Uncorrected || r.GetGenerator().GetName() != "fortio" || r.GetGenerator().GetVersion() != "1.75.3" {
		t.Errorf("kind %s uncorrected %v generator %v", d.Kind, d.Uncorrected, r.GetGenerator())
	}
	if q := r.GetRequests(); q.GetTotal() != 200 || q.GetOk() != 195 || q.GetErrors() != 5 || r.GetErrors()["http_503"] != 5 {
		t.Errorf("requests %v errors %v", q, r.GetErrors())
	}
	if l := r.GetLatenciesMs(); l.GetP50() != 2.413115 || l.GetP90() != 3.6 || l.GetP99() != 8 {
		t.Errorf("latencies_ms %v, want Fortio's p50 2.413115, p90 3.6, p99 8", l)
	}
	c := r.GetConfig()
	if cl := c.GetClients()[0]; cl.GetConnections() != 2 || cl.GetRps() != 200 || cl.GetTimeout() != "3s" || c.GetDuration() != "1s" ||
		r.GetRequestedQps() != 200 || r.GetName() != "fortio loopback fixture" {
		t.Errorf("config %v", c)
	}
	want := "JSON, Fortio result (fortio 1.75.3), converted to an SMP result: p50 2.413115ms p99 8ms, actual_qps 199.3051034243161"
	if d.Summary() != want {
		t.Errorf("summary %q\nwant    %q", d.Summary(), want)
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

func TestReadMesheryFields(t *testing.T) {
	const fortio = `{"RunType":"HTTP","Labels":"x","StartTime":"2025-01-02T03:04:05Z","RequestedQPS":"max","ActualQPS":50,
"ActualDuration":2000000000,"NumThreads":2,"DurationHistogram":{"Count":3,"Min":0.001,"Max":0.003,"Sum":0.006,"Avg":0.002,
"Data":[{"Start":0.001,"End":0.002,"Percent":66.7,"Count":2},{"Start":0.002,"End":0.003,"Percent":100,"Count":1}],
"Percentiles":[{"Percentile":50,"Value":0.0015}]},"RetCodes":{"200":3},"URL":"http://127.0.0.1:8080/"}`
	im, err := Read(mesheryWrap(t, []byte(fortio)), "m.json")
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

// TestReadFortioBadInput: every problem names the file and the field.
func TestReadFortioBadInput(t *testing.T) {
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
			_, _, err := readFortio([]byte(tc.data), "in.json")
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

// FuzzReadFortio: no input panics, and whatever is accepted converts to
// a consistent result that exports again.
func FuzzReadFortio(f *testing.F) {
	f.Add([]byte(`{"RunType":"HTTP","DurationHistogram":{"Count":3,"Min":0.001,"Max":0.003,"Avg":0.002,"Data":[{"Start":0.001,"End":0.002,"Percent":66.7,"Count":2},{"Start":0.002,"End":0.003,"Percent":100,"Count":1}],"Percentiles":[{"Percentile":50,"Value":0.0015}]},"RetCodes":{"200":2,"-1":1}}`))
	f.Add([]byte(`{"name":"m","mesh":"istio","runner_results":{"DurationHistogram":{"Count":1,"Min":0.5,"Max":0.5,"Data":[{"Start":0.5,"End":0.5,"Count":1}]},"load-generator":"wrk2"}}`))
	f.Add([]byte(`{"RunType":"GRPC","DurationHistogram":{"Count":0}}`))
	f.Add([]byte(`{"DurationHistogram":{"Count":9223372036854775807,"Data":[{"Start":0,"End":3600,"Count":9223372036854775807}]}}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, _, err := readFortio(data, "fuzz.json")
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
		if _, err := report.Fortio(r); err != nil {
			t.Fatalf("imported result does not export: %v", err)
		}
	})
}
