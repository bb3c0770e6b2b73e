package interop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/internal/fortiojson"
	"github.com/smp-project/smp/spec"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Limits of what readFortio accepts; beyond them the input is not a
// Fortio result.
const (
	// maxFortioBuckets: Fortio's own histograms have a few hundred buckets
	// at most.
	maxFortioBuckets = 100_000
	// spreadPoints is the most distinct values one bucket is spread over
	// when its counts are rebuilt into an HdrHistogram.
	spreadPoints = 256
)

// mesheryResult is Meshery's stored result (server/models.MesheryResult):
// Fortio's JSON under runner_results, with Meshery's additions there
// ("load-generator", "kubernetes").
type mesheryResult struct {
	ID            string          `json:"meshery_id"`
	Name          string          `json:"name"`
	Mesh          string          `json:"mesh"`
	TestID        string          `json:"test_id"`
	TestStartTime *time.Time      `json:"test_start_time"`
	RunnerResults json.RawMessage `json:"runner_results"`
}

// mesheryExtras are Meshery's fields inside runner_results.
type mesheryExtras struct {
	LoadGenerator string `json:"load-generator"`
	Kubernetes    *struct {
		ServerVersion string `json:"server_version"`
	} `json:"kubernetes"`
}

// fortioKind tells a Fortio result (KindFortio) from Meshery's stored
// result (KindMesheryResult: one, its runner_results an object or a list)
// and from a list of Meshery results (KindMesheryResults: the export array,
// or a page of Meshery's results list) by their top-level fields; "" for
// none of them. It does not validate.
func fortioKind(data []byte) Kind {
	t := bytes.TrimSpace(data)
	if len(t) > 0 && t[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(t, &list) != nil {
			return ""
		}
		for _, e := range list {
			var top map[string]json.RawMessage
			if json.Unmarshal(e, &top) == nil {
				if _, ok := top["runner_results"]; ok {
					return KindMesheryResults
				}
			}
		}
		return ""
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return ""
	}
	if _, ok := top["runner_results"]; ok {
		return KindMesheryResult
	}
	if isResultsPage(top) {
		return KindMesheryResults
	}
	_, hasHist := top["DurationHistogram"]
	_, hasRunType := top["RunType"]
	if hasHist || hasRunType {
		return KindFortio
	}
	return ""
}

// latencyNote says how the load generator named in an imported result
// timed latency, and whether that is uncorrected for coordinated omission.
func latencyNote(generator string) (note string, uncorrected bool) {
	switch generator {
	case "smp": // smp report --format fortio
		return "latency: written by smp (corrected); the histogram is rebuilt from the Fortio buckets, to within 1%", false
	case "wrk2": // run by Meshery, which stores its results in Fortio's shape
		return "latency: wrk2 times each request from its intended send (corrected for coordinated omission, as smp does); the histogram is rebuilt from its buckets", false
	}
	return "latency: " + generator + " times each request from its actual send (not corrected for coordinated omission); the histogram is rebuilt from its buckets", true
}

// readFortio converts a Fortio result JSON (HTTPRunnerResults or
// GrpcRunnerResults), or Meshery's stored result that wraps one, into an SMP
// result. Problems are returned as spec.Errors naming the file, the line and
// the JSON field.
//
// The latency histogram is rebuilt from Fortio's buckets: Fortio keeps only
// a count per bucket, so each bucket's count is spread evenly over its
// range (Start, End], at up to 256 evenly spaced values each ending an
// equal share of the range. That is the assumption Fortio makes when it
// interpolates percentiles within a bucket, so the percentiles of the
// rebuilt histogram agree with Fortio's to well within one Fortio bucket.
// The minimum and maximum are recorded as themselves, as Fortio counts
// them.
//
// Fortio times each call from its actual start, so what it measured is what
// smp calls uncorrected latency. It is stored in latencies_ms and histogram
// (a result has no other latency), and generator.name is "fortio" (or the
// Meshery load generator) so that a reader can tell. latencies_ms p50, p90
// and p99 are Fortio's own figures when its Percentiles list has them.
func readFortio(data []byte, file string) (*spec.PerformanceTestResult, []string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, spec.Errors{{File: file, Msg: "file is empty; expected a Fortio or Meshery result (JSON)"}}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, nil, jsonError(data, 0, file, "", err)
	}
	whole := rawAt{raw: data, off: 0}
	if _, ok := top["runner_results"]; ok {
		return readMesheryResult(data, whole, file, "")
	}
	res, err := readFortioAt(data, whole, file, "")
	return res, nil, err
}

// readFortioAt converts the Fortio result at.raw, found at byte at.off of
// the file's data; prefix is its field path in the file.
func readFortioAt(data []byte, at rawAt, file, prefix string) (*spec.PerformanceTestResult, error) {
	var f fortiojson.Result
	if err := json.NewDecoder(bytes.NewReader(at.raw)).Decode(&f); err != nil {
		return nil, jsonError(data, at.off, file, prefix, err)
	}
	res, errs := convertFortio(&f, file, prefix)
	if len(errs) > 0 {
		// The checks name the field; the line is that of the Fortio
		// result's opening brace when nothing closer is known.
		for _, e := range errs {
			if e.Line == 0 {
				e.Line = lineAt(data, at.off)
			}
		}
		return nil, errs
	}
	return res, nil
}

// jsonError turns encoding/json's errors into a FieldError with the line
// and the field path. The error's offsets are relative to base, the byte
// offset in data (the whole file) of what was decoded.
func jsonError(data []byte, base int64, file, prefix string, err error) error {
	fe := &spec.FieldError{File: file, Msg: "malformed JSON: " + err.Error()}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		fe.Line = lineAt(data, base+se.Offset)
		fe.Msg = "malformed JSON: " + se.Error()
	case errors.As(err, &te):
		fe.Line = lineAt(data, base+te.Offset)
		fe.Path = join(prefix, te.Field)
		fe.Value = te.Value
		fe.Msg = "expected " + jsonKind(te.Type.String())
	default:
		fe.Line = lineAt(data, base)
	}
	if fe.Path == "" {
		fe.Path = prefix
	}
	return spec.Errors{fe}
}

// lineAt is the 1-based line of a byte offset.
func lineAt(data []byte, off int64) int {
	if off < 0 || off > int64(len(data)) {
		return 0
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map"):
		return "an object"
	case goType == "time.Time":
		return "a time (RFC 3339)"
	}
	return "an object"
}

func join(path, field string) string {
	switch {
	case path == "":
		return field
	case field == "":
		return path
	}
	return path + "." + field
}

// convertFortio checks a decoded Fortio result and converts it.
func convertFortio(f *fortiojson.Result, file, prefix string) (*spec.PerformanceTestResult, spec.Errors) {
	var errs spec.Errors
	bad := func(field, value, msg string) {
		errs = append(errs, &spec.FieldError{File: file, Path: join(prefix, field), Value: value, Msg: msg})
	}
	dh := f.DurationHistogram
	if dh == nil {
		bad("DurationHistogram", "", "missing; a Fortio result carries its latency histogram here")
		return nil, errs
	}
	checkFinite := func(field string, v float64, nonNeg bool) {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			bad(field, fmt.Sprint(v), "not a finite number")
		case nonNeg && v < 0:
			bad(field, fmt.Sprint(v), "must not be negative")
		}
	}
	if dh.Count < 0 {
		bad("DurationHistogram.Count", strconv.FormatInt(dh.Count, 10), "must not be negative")
	}
	checkFinite("DurationHistogram.Min", dh.Min, true)
	checkFinite("DurationHistogram.Max", dh.Max, true)
	checkFinite("DurationHistogram.Avg", dh.Avg, true)
	checkFinite("ActualQPS", f.ActualQPS, true)
	if f.ActualDuration < 0 {
		bad("ActualDuration", strconv.FormatInt(f.ActualDuration, 10), "must not be negative")
	}
	if f.NumThreads < 0 || f.NumThreads > spec.MaxConnections {
		bad("NumThreads", strconv.Itoa(f.NumThreads), fmt.Sprintf("must be 0..%d", spec.MaxConnections))
	}
	if limit := float64(hist.Highest) / 1e6; dh.Max > limit {
		bad("DurationHistogram.Max", fmt.Sprint(dh.Max), "beyond 1 h, the longest latency smp records")
	}
	if dh.Max < dh.Min {
		bad("DurationHistogram.Max", fmt.Sprint(dh.Max), fmt.Sprintf("is below Min %g", dh.Min))
	}
	if len(dh.Data) > maxFortioBuckets {
		bad("DurationHistogram.Data", "", fmt.Sprintf("%d buckets is more than the %d accepted", len(dh.Data), maxFortioBuckets))
	}
	var sum int64
	for i, b := range dh.Data {
		field := fmt.Sprintf("DurationHistogram.Data[%d]", i)
		if b.Count < 0 {
			bad(field+".Count", strconv.FormatInt(b.Count, 10), "must not be negative")
		}
		checkFinite(field+".Start", b.Start, true)
		checkFinite(field+".End", b.End, true)
		if b.End < b.Start {
			bad(field+".End", fmt.Sprint(b.End), fmt.Sprintf("is below Start %g", b.Start))
		}
		if b.End > float64(hist.Highest)/1e6 {
			bad(field+".End", fmt.Sprint(b.End), "beyond 1 h, the longest latency smp records")
		}
		if sum > math.MaxInt64-b.Count {
			bad(field+".Count", strconv.FormatInt(b.Count, 10), "the counts overflow")
			break
		}
		sum += b.Count
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(dh.Data) > 0 && sum != dh.Count {
		bad("DurationHistogram.Count", strconv.FormatInt(dh.Count, 10), fmt.Sprintf("differs from the sum of the bucket counts, %d", sum))
		return nil, errs
	}

	h := hist.New()
	// Fortio counts its minimum as one point of the first bucket and its
	// maximum as one of the last (see its CalcPercentile): they are
	// recorded as themselves, the rest of each bucket is spread.
	data := trimEmpty(dh.Data)
	for i, b := range data {
		if i == 0 && b.Count > 0 {
			h.RecordN(secondsDuration(dh.Min), 1)
			b.Count--
		}
		if i == len(data)-1 && b.Count > 0 {
			h.RecordN(secondsDuration(dh.Max), 1)
			b.Count--
		}
		spread(h, b, dh.Min, dh.Max)
	}
	res := &spec.PerformanceTestResult{
		Name:      f.Labels,
		Id:        f.ID,
		ActualQps: f.ActualQPS,
		DurationS: float64(f.ActualDuration) / 1e9,
		Generator: fortioGenerator(f.Version),
		Requests:  &spec.PerformanceTestResult_Requests{Total: dh.Count},
		LatenciesMs: &spec.PerformanceTestResult_Latency{
			Min:     secondsToMs(dh.Min),
			Average: secondsToMs(dh.Avg),
			Max:     secondsToMs(dh.Max),
		},
	}
	if !f.StartTime.IsZero() {
		res.StartTime = timestamppb.New(f.StartTime)
		res.EndTime = timestamppb.New(f.StartTime.Add(time.Duration(f.ActualDuration)))
	}
	if q, err := strconv.ParseFloat(strings.TrimSpace(f.RequestedQPS), 64); err == nil && q > 0 && !math.IsInf(q, 0) {
		res.RequestedQps = q
	}
	if h.Count() > 0 {
		data, err := h.Encode()
		if err != nil {
			bad("DurationHistogram", "", err.Error())
			return nil, errs
		}
		res.Histogram = &spec.PerformanceTestResult_Histogram{Encoding: hist.Encoding, Unit: hist.Unit, Data: data}
	}
	fortioPs := map[float64]float64{}
	for i, p := range dh.Percentiles {
		field := fmt.Sprintf("DurationHistogram.Percentiles[%d]", i)
		if !(p.Percentile >= 0 && p.Percentile <= 100) {
			bad(field+".Percentile", fmt.Sprint(p.Percentile), "must be 0..100")
			continue
		}
		checkFinite(field+".Value", p.Value, true)
		fortioPs[p.Percentile] = secondsToMs(p.Value)
		res.PercentilesMs = append(res.PercentilesMs, &spec.PerformanceTestResult_Percentile{Percentile: p.Percentile, Value: secondsToMs(p.Value)})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	l := res.LatenciesMs
	for _, t := range []struct {
		p   float64
		dst *float64
	}{{50, &l.P50}, {90, &l.P90}, {99, &l.P99}} {
		if v, ok := fortioPs[t.p]; ok {
			*t.dst = v
		} else if h.Count() > 0 {
			*t.dst = float64(h.Percentile(t.p)) / 1e6
		}
	}

	// Fortio counts a call as OK for 2xx codes (and 418, its test code);
	// -1 is a socket error.
	var ok, answered int64
	for code, n := range f.RetCodes {
		if n < 0 {
			bad(fmt.Sprintf("RetCodes.%d", code), strconv.FormatInt(n, 10), "must not be negative")
			continue
		}
		if code < 0 {
			addErr(res, "other", n)
			continue
		}
		if code > math.MaxInt32 {
			bad(fmt.Sprintf("RetCodes.%d", code), "", "not a status code")
			continue
		}
		if res.StatusCodes == nil {
			res.StatusCodes = map[int32]int64{}
		}
		res.StatusCodes[int32(code)] += n
		answered += n
		if (code >= 200 && code <= 299) || code == 418 {
			ok += n
		} else {
			addErr(res, "http_"+strconv.Itoa(code), n)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(f.RetCodes) > 0 {
		res.Requests.Ok = ok
		res.Requests.Errors = max(0, res.Requests.Total-ok)
		if res.Requests.Total < answered {
			res.Requests.Total = answered
			res.Requests.Errors = answered - ok
		}
	} else {
		res.Requests.Ok = res.Requests.Total
	}

	client := &spec.PerformanceTestConfig_Client{
		LoadGenerator: res.GetGenerator().GetName(),
		Protocol:      spec.PerformanceTestConfig_Client_PROTOCOL_HTTP,
		Connections:   int32(f.NumThreads),
		Rps:           int64(res.RequestedQps),
		ContentType:   f.ContentType,
		Body:          string(f.Payload),
		Method:        f.MethodOverride,
	}
	if strings.EqualFold(f.RunType, "GRPC") {
		client.Protocol = spec.PerformanceTestConfig_Client_PROTOCOL_GRPC
	}
	if f.URL != "" {
		client.EndpointUrls = []string{f.URL}
	}
	if f.HTTPReqTimeOut > 0 {
		client.Timeout = time.Duration(f.HTTPReqTimeOut).String()
	}
	res.Config = &spec.PerformanceTestConfig{Name: f.Labels, Clients: []*spec.PerformanceTestConfig_Client{client}}
	if d, err := time.ParseDuration(f.RequestedDuration); err == nil && d > 0 {
		res.Config.Duration = d.String()
	}
	return res, nil
}

// fortioGenerator names the tool that wrote the JSON: Fortio, or smp
// itself (report.Fortio writes "smp" or "smp VERSION" as the Version).
func fortioGenerator(version string) *spec.PerformanceTestResult_Generator {
	if name, v, _ := strings.Cut(version, " "); name == "smp" {
		return &spec.PerformanceTestResult_Generator{Name: "smp", Version: v}
	}
	return &spec.PerformanceTestResult_Generator{Name: "fortio", Version: version}
}

func addErr(r *spec.PerformanceTestResult, reason string, n int64) {
	if r.Errors == nil {
		r.Errors = map[string]int64{}
	}
	r.Errors[reason] += n
}

// trimEmpty drops empty buckets at both ends, so that the first and last
// buckets hold the minimum and the maximum.
func trimEmpty(bs []fortiojson.Bucket) []fortiojson.Bucket {
	for len(bs) > 0 && bs[0].Count == 0 {
		bs = bs[1:]
	}
	for len(bs) > 0 && bs[len(bs)-1].Count == 0 {
		bs = bs[:len(bs)-1]
	}
	return bs
}

func secondsDuration(s float64) time.Duration { return time.Duration(s * 1e9) }

// secondsToMs converts Fortio's seconds to milliseconds, rounded to the
// nanosecond so that 0.169 s does not print as 168.99999999999997 ms.
func secondsToMs(s float64) float64 { return math.Round(s*1e9) / 1e6 }

// spread records one Fortio bucket's count into h, evenly over the
// bucket's range clamped to [lo, hi] (the run's min and max). Value i of n
// goes to Start + (i+1)/n × width, where Fortio's linear interpolation puts
// the rank that ends the i-th share; with more values than spreadPoints,
// values share points.
func spread(h *hist.Histogram, b fortiojson.Bucket, lo, hi float64) {
	if b.Count <= 0 {
		return
	}
	start, end := math.Max(b.Start, lo), b.End
	if hi >= lo && hi > 0 {
		end = math.Min(end, hi)
	}
	if end < start {
		end = start
	}
	width := end - start
	// Points needed: no more than the count, the bucket's width in µs (a
	// finer spread would round to the same microseconds) or spreadPoints.
	points := min(b.Count, spreadPoints, int64(width*1e6)+1)
	points = max(points, 1)
	per, extra := b.Count/points, b.Count%points
	for i := int64(0); i < points; i++ {
		n := per
		if i < extra {
			n++
		}
		v := start + float64(i+1)/float64(points)*width
		h.RecordN(secondsDuration(v), n)
	}
}

// applyMeshery adds what Meshery's wrapper knows: the test's name and id,
// the mesh, the load generator, the Kubernetes version and start time.
func applyMeshery(res *spec.PerformanceTestResult, mr *mesheryResult, ex *mesheryExtras) {
	if mr.Name != "" {
		res.Name = mr.Name
		res.Config.Name = mr.Name
	}
	if mr.ID != "" {
		res.Id = mr.ID
	}
	res.TestId = mr.TestID
	if mr.TestStartTime != nil && res.StartTime == nil {
		res.StartTime = timestamppb.New(*mr.TestStartTime)
	}
	if lg := ex.LoadGenerator; lg != "" {
		res.Generator.Name = lg
		res.Config.Clients[0].LoadGenerator = lg
	}
	if k := ex.Kubernetes; k != nil && k.ServerVersion != "" {
		res.Environment = &spec.EnvironmentConfig{KubernetesVersion: k.ServerVersion}
	}
	if mr.Mesh != "" {
		name := strings.ToUpper(strings.NewReplacer("-", "_", " ", "_").Replace(strings.TrimSpace(mr.Mesh)))
		if v, ok := spec.ServiceMesh_Type_value[name]; ok && v != 0 {
			res.Mesh = &spec.ServiceMesh{Type: spec.ServiceMesh_Type(v)}
		} else if name != "NONE" {
			if res.Labels == nil {
				res.Labels = map[string]string{}
			}
			// A mesh SMP has no enum value for is kept as a label.
			res.Labels["mesh"] = mr.Mesh
		}
	}
}
