package report

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/spec"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// synth describes a synthetic result: a log-normal latency around median
// with a tail, at rate requests/s for seconds, with an error burst.
type synth struct {
	name    string
	seconds int
	rate    float64
	median  time.Duration
	sigma   float64
	seed    uint64
	// errorsAt marks seconds that had errors.
	errorsAt map[int]int64
}

// result builds the SMP result the engine would write for s: whole-run
// corrected and uncorrected histograms, per-second intervals, summaries.
// Requests are generated per second but recorded in bulk (RecordN per
// distinct microsecond) so that an hour at 1,000/s stays fast.
func (s synth) result(t testing.TB) *spec.PerformanceTestResult {
	t.Helper()
	rng := rand.New(rand.NewPCG(s.seed, s.seed^0x9e3779b97f4a7c15))
	all, unc := hist.New(), hist.New()
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	perSecond := int(s.rate)
	// Samples per interval: enough for its percentiles, few enough to be
	// quick for an hour; each sample stands for weight requests.
	samples := min(perSecond, 200)
	weight := int64(perSecond / samples)
	rest := int64(perSecond % samples) // added to the first sample
	var total, errs int64
	var intervals []*spec.PerformanceTestResult_Interval
	for sec := 0; sec < s.seconds; sec++ {
		iv := hist.New()
		// A slow patch in the middle of the run, as a stall would cause.
		slow := 1.0
		if sec > s.seconds/2 && sec < s.seconds/2+3 {
			slow = 4
		}
		for i := 0; i < samples; i++ {
			d := time.Duration(float64(s.median) * slow * math.Exp(s.sigma*rng.NormFloat64()))
			w := weight
			if i == 0 {
				w += rest
			}
			iv.RecordN(d, w)
			unc.RecordN(time.Duration(float64(d)*0.9), w)
		}
		if err := all.Merge(iv); err != nil {
			t.Fatal(err)
		}
		n := int64(perSecond)
		e := s.errorsAt[sec]
		total += n + e
		errs += e
		intervals = append(intervals, &spec.PerformanceTestResult_Interval{
			OffsetS: float64(sec), Requests: n + e, Errors: e, ActualQps: float64(n + e),
			P50Ms: ms(iv.Percentile(50)), P99Ms: ms(iv.Percentile(99)), MaxMs: ms(iv.Max()),
		})
	}
	data, err := all.Encode()
	if err != nil {
		t.Fatal(err)
	}
	udata, err := unc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	r := &spec.PerformanceTestResult{
		SmpVersion:   "v0.6.1",
		Id:           "id-" + s.name,
		Name:         s.name,
		StartTime:    timestamppb.New(start),
		EndTime:      timestamppb.New(start.Add(time.Duration(s.seconds) * time.Second)),
		ActualQps:    float64(total) / float64(s.seconds),
		RequestedQps: s.rate,
		DurationS:    float64(s.seconds),
		Requests:     &spec.PerformanceTestResult_Requests{Total: total, Ok: total - errs, Errors: errs},
		StatusCodes:  map[int32]int64{200: total - errs},
		LatenciesMs: &spec.PerformanceTestResult_Latency{
			Min: ms(all.Min()), Average: ms(all.Mean()), P50: ms(all.Percentile(50)),
			P90: ms(all.Percentile(90)), P99: ms(all.Percentile(99)), Max: ms(all.Max()),
		},
		UncorrectedLatenciesMs: &spec.PerformanceTestResult_Latency{
			Min: ms(unc.Min()), Average: ms(unc.Mean()), P50: ms(unc.Percentile(50)),
			P90: ms(unc.Percentile(90)), P99: ms(unc.Percentile(99)), Max: ms(unc.Max()),
		},
		Histogram: &spec.PerformanceTestResult_Histogram{Encoding: hist.Encoding, Unit: hist.Unit, Data: data, UncorrectedData: udata},
		Intervals: intervals,
		Generator: &spec.PerformanceTestResult_Generator{Name: "smp", Version: "test", LatenessP99Ms: 0.04, LateSends: 2, Host: "loopback", Cpus: 2},
		Config: &spec.PerformanceTestConfig{
			Name:     s.name,
			Duration: (time.Duration(s.seconds) * time.Second).String(),
			Clients: []*spec.PerformanceTestConfig_Client{{
				Protocol: spec.PerformanceTestConfig_Client_PROTOCOL_HTTP, Connections: 8, Rps: int64(s.rate),
				EndpointUrls: []string{"http://127.0.0.1:8080/"},
			}},
		},
		Environment: &spec.EnvironmentConfig{KubernetesVersion: "v1.31.2",
			Nodes: []*spec.EnvironmentConfig_Node{{Type: "e2-standard-4", Cores: 4, MemMb: 16384}}},
		Mesh: &spec.ServiceMesh{Type: spec.ServiceMesh_ISTIO, Version: "1.24.0"},
	}
	if errs > 0 {
		r.Errors = map[string]int64{"timeout": errs}
	}
	for _, p := range []float64{50, 75, 90, 95, 99, 99.9, 99.99} {
		r.PercentilesMs = append(r.PercentilesMs, &spec.PerformanceTestResult_Percentile{Percentile: p, Value: ms(all.Percentile(p))})
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
