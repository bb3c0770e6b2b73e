package smprun

import (
	"crypto/rand"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/spec"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Generator describes the load generator in results.
type Generator struct {
	Name, Version, Host string
	CPUs                int
}

// ResultOptions are what a result carries beyond the measurements.
type ResultOptions struct {
	// ID of the result; "" makes a random UUID.
	ID string
	// Labels are merged over the config's labels.
	Labels    map[string]string
	Generator Generator
	Mesh      *spec.ServiceMesh
	// Percentiles for percentiles_ms; nil means load.DefaultPercentiles().
	Percentiles []float64
}

// ToSMP converts what the engine measured into an SMP result. cfg is the
// config that ran; the result's copy of it names each client's protocol,
// as the engine reports it, where cfg left it to the URL scheme.
func ToSMP(r *load.Result, cfg *spec.PerformanceTestConfig, o ResultOptions) (*spec.PerformanceTestResult, error) {
	ps := o.Percentiles
	if ps == nil {
		ps = load.DefaultPercentiles()
	}
	id := o.ID
	if id == "" {
		id = newUUID()
	}
	labels := map[string]string{}
	for k, v := range cfg.GetLabels() {
		labels[k] = v
	}
	for k, v := range o.Labels {
		labels[k] = v
	}
	if note := spec.GeneratorNote(cfg); note != "" {
		// A config written for another load generator ran on smp's: the
		// result says so (it has no notes field).
		labels[spec.NoteLabel] = note
	}
	if len(labels) == 0 {
		labels = nil
	}

	clientErrors := make([]map[string]int64, len(r.Clients))
	totalErrors := map[string]int64{}
	for i := range r.Clients {
		clientErrors[i] = errorMap(&r.Clients[i])
		for k, v := range clientErrors[i] {
			totalErrors[k] += v
		}
	}

	out, err := figures(&r.Total, r, totalErrors, ps, o.Generator)
	if err != nil {
		return nil, err
	}
	out.SmpVersion = SMPVersion
	out.Id = id
	out.TestId = cfg.GetId()
	out.Labels = labels
	out.StartTime = timestamppb.New(r.Start)
	out.EndTime = timestamppb.New(r.End)
	out.Config = withProtocols(cfg, r.Clients)
	if out.Config.GetDuration() == "" && r.Duration > 0 {
		// A count or a schedule decided the window: say how long it was.
		if out.Config == cfg {
			out.Config = proto.Clone(cfg).(*spec.PerformanceTestConfig)
		}
		out.Config.Duration = r.Duration.String()
	}
	for _, g := range r.Generators {
		out.Agents = append(out.Agents, &spec.PerformanceTestResult_AgentShare{
			Address: g.Address, ShareIndex: int32(g.Share.Index), ShareCount: int32(g.Share.Count),
			ClockOffsetMs: msf(g.ClockOffset), ClockUncertaintyMs: msf(g.ClockUncertainty), StartOffsetMs: msf(g.StartOffset),
			Requests: g.Requests, Errors: g.Errors, LatenessP99Ms: msf(g.LatenessP99), CpuBusy: g.CPUBusy,
			Lost: g.Lost, LostAtS: g.LostAt.Seconds(), Unsent: g.Unsent, Note: g.Note,
		})
	}
	out.Mesh = o.Mesh
	if out.Mesh == nil {
		out.Mesh = cfg.GetMesh()
	}
	out.Partial = r.Partial
	out.PartialReason = r.PartialReason
	out.Name = cfg.GetName()
	if len(r.Clients) > 1 {
		for i := range r.Clients {
			c, err := figures(&r.Clients[i], r, clientErrors[i], ps, o.Generator)
			if err != nil {
				return nil, err
			}
			c.Name = r.Clients[i].Name
			out.Clients = append(out.Clients, c)
		}
	}
	return out, nil
}

// figures fills the measurement fields of a result from one Figures.
func figures(f *load.Figures, r *load.Result, errs map[string]int64, ps []float64, g Generator) (*spec.PerformanceTestResult, error) {
	out := &spec.PerformanceTestResult{
		ActualQps:    f.ActualQPS,
		RequestedQps: f.RequestedQPS,
		DurationS:    r.Span.Seconds(),
		Requests:     &spec.PerformanceTestResult_Requests{Total: f.Requests, Ok: f.OK, Errors: f.Errors},
		Generator: &spec.PerformanceTestResult_Generator{
			Name: g.Name, Version: g.Version, Host: g.Host, Cpus: int32(g.CPUs), Workers: int32(f.Workers),
			CpuUserS: r.CPU.User.Seconds(), CpuSysS: r.CPU.Sys.Seconds(), Cores: int32(r.Cores),
		},
	}
	if f.ErrorLatency != nil && f.ErrorLatency.Count() > 0 {
		out.ErrorLatenciesMs = latency(f.ErrorLatency)
	}
	if c := f.Connections; c.Setup != nil {
		out.Connections = &spec.PerformanceTestResult_Connections{
			Opened: c.Opened, Failed: c.Failed, Reconnects: c.Reconnects, ReconnectsFailed: c.ReconnectsFailed,
		}
		if c.Setup.Count() > 0 {
			out.Connections.ConnectMs = latency(c.Setup)
		}
	}
	if len(errs) > 0 {
		out.Errors = errs
	}
	for _, kind := range slices.Sorted(maps.Keys(f.ErrorMessages)) {
		for _, m := range f.ErrorMessages[kind] {
			out.ErrorSamples = append(out.ErrorSamples, &spec.PerformanceTestResult_ErrorSample{Kind: kind, Message: m.Message, Count: m.Count})
		}
	}
	if len(f.Codes) > 0 {
		out.StatusCodes = map[int32]int64{}
		for code, n := range f.Codes {
			out.StatusCodes[int32(code)] = n
		}
	}
	h := &spec.PerformanceTestResult_Histogram{Encoding: hist.Encoding, Unit: hist.Unit}
	var err error
	// Latency describes successful answers: with none, the latency fields
	// are absent rather than a table of zeros (or of the lower bounds of
	// requests cut short by the stop, which alone describe no answer).
	if f.OK > 0 {
		out.LatenciesMs, out.UncorrectedLatenciesMs = latency(f.Latency), latency(f.Uncorrected)
		vals := f.Latency.Percentiles(ps)
		for i, p := range ps {
			out.PercentilesMs = append(out.PercentilesMs, &spec.PerformanceTestResult_Percentile{Percentile: p, Value: msf(vals[i])})
		}
		if h.Data, err = f.Latency.Encode(); err != nil {
			return nil, err
		}
		if h.UncorrectedData, err = f.Uncorrected.Encode(); err != nil {
			return nil, err
		}
	}
	if f.OpenLoop {
		if h.LatenessData, err = f.Lateness.Encode(); err != nil {
			return nil, err
		}
		out.Generator.LatenessP99Ms = msf(f.Lateness.Percentile(99))
		out.Generator.LateSends = f.LateSends
		out.Generator.SaturatedSlots = f.Saturation.Slots
		out.Generator.SaturationWaitMs = msf(f.Saturation.Wait)
		out.Generator.SaturationMaxMs = msf(f.Saturation.Max)
		out.Generator.Unsent = f.Unsent
	}
	if f.ErrorLatency != nil && f.ErrorLatency.Count() > 0 {
		if h.ErrorData, err = f.ErrorLatency.Encode(); err != nil {
			return nil, err
		}
	}
	out.Histogram = h
	for _, e := range f.PerEndpoint {
		ep := &spec.PerformanceTestResult{
			Name: e.URL, ActualQps: e.ActualQPS, DurationS: r.Span.Seconds(),
			Requests: &spec.PerformanceTestResult_Requests{Total: e.Requests, Ok: e.OK, Errors: e.Errors},
		}
		if e.OK > 0 {
			ep.LatenciesMs, ep.UncorrectedLatenciesMs = latency(e.Latency), latency(e.Uncorrected)
			vals := e.Latency.Percentiles(ps)
			for i, p := range ps {
				ep.PercentilesMs = append(ep.PercentilesMs, &spec.PerformanceTestResult_Percentile{Percentile: p, Value: msf(vals[i])})
			}
			eh := &spec.PerformanceTestResult_Histogram{Encoding: hist.Encoding, Unit: hist.Unit}
			if eh.Data, err = e.Latency.Encode(); err != nil {
				return nil, err
			}
			ep.Histogram = eh
		}
		out.Endpoints = append(out.Endpoints, ep)
	}
	for _, iv := range f.Intervals {
		out.Intervals = append(out.Intervals, &spec.PerformanceTestResult_Interval{
			OffsetS: iv.Offset.Seconds(), Requests: iv.Requests, Errors: iv.Errors, ActualQps: iv.ActualQPS,
			P50Ms: msf(iv.P50), P99Ms: msf(iv.P99), MaxMs: msf(iv.Max),
			Latencies: iv.Latencies, Histogram: iv.Histogram,
		})
	}
	return out, nil
}

// errorMap names a client's errors: transport reasons as they are, failed
// responses as the protocol's codes and the code ("http_503", "grpc_14").
func errorMap(f *load.Figures) map[string]int64 {
	m := map[string]int64{}
	for k, v := range f.ErrorReasons {
		m[k] += v
	}
	codes := f.Protocol.Codes
	if codes == "" {
		codes = "http" // figures that do not say (only protocols with codes have failures)
	}
	for code, v := range f.Failures {
		m[fmt.Sprintf("%s_%d", codes, code)] += v
	}
	return m
}

// withProtocols returns cfg with the protocol of each client that left it
// to its URLs' scheme set to what the engine says the client spoke; cfg
// itself when every client names its protocol.
func withProtocols(cfg *spec.PerformanceTestConfig, clients []load.Figures) *spec.PerformanceTestConfig {
	var out *spec.PerformanceTestConfig
	for i, c := range cfg.GetClients() {
		if c.GetProtocol() != spec.PerformanceTestConfig_Client_PROTOCOL_INVALID || i >= len(clients) || clients[i].Protocol.Name == "" {
			continue
		}
		if out == nil {
			out = proto.Clone(cfg).(*spec.PerformanceTestConfig)
		}
		out.Clients[i].Protocol = protocolField(clients[i].Protocol.Name)
	}
	if out == nil {
		return cfg
	}
	return out
}

func latency(h *hist.Histogram) *spec.PerformanceTestResult_Latency {
	return &spec.PerformanceTestResult_Latency{
		Min: msf(h.Min()), Average: msf(h.Mean()), P50: msf(h.Percentile(50)),
		P90: msf(h.Percentile(90)), P99: msf(h.Percentile(99)), Max: msf(h.Max()),
	}
}

// msf converts to milliseconds, as SMP's *_ms fields are.
func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // since Go 1.24 it never returns an error
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// ThisGenerator describes the running smp binary: its module version from
// the build information, the host name and the CPUs it may use.
func ThisGenerator() Generator {
	g := Generator{Name: "smp", Version: Version(), CPUs: runtime.GOMAXPROCS(0)}
	g.Host, _ = os.Hostname()
	return g
}
