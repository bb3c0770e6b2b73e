package interop

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/spec"
	"google.golang.org/protobuf/proto"
)

// rawAt is a JSON value and the byte offset of its first byte in the file,
// so that an error inside it names the file's line.
type rawAt struct {
	raw json.RawMessage
	off int64
}

// elements splits a JSON array (at.raw) into its elements with their
// offsets. at.raw must be valid JSON.
func elements(at rawAt) ([]rawAt, error) {
	dec := json.NewDecoder(bytes.NewReader(at.raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("expected a list")
	}
	var out []rawAt
	for dec.More() {
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		out = append(out, rawAt{raw: raw, off: at.off + skipSep(at.raw, start)})
	}
	return out, nil
}

// members splits a JSON object (at.raw) into its members with their
// offsets; nil when at.raw is not an object.
func members(at rawAt) map[string]rawAt {
	dec := json.NewDecoder(bytes.NewReader(at.raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	out := map[string]rawAt{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		key, _ := tok.(string)
		start := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return out
		}
		out[key] = rawAt{raw: raw, off: at.off + skipSep(at.raw, start)}
	}
	return out
}

// skipSep moves an offset past white space, commas and colons to the
// start of the next value.
func skipSep(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return off
}

// isResultsPage tells a page of Meshery's results list
// ({page, page_size, total_count, results: [...]}) by its fields.
func isResultsPage(top map[string]json.RawMessage) bool {
	r, ok := top["results"]
	if !ok {
		return false
	}
	_, page := top["page"]
	_, size := top["page_size"]
	_, total := top["total_count"]
	t := bytes.TrimSpace(r)
	return (page || size || total) && (len(t) == 0 || t[0] == '[' || bytes.Equal(t, []byte("null")))
}

// readMesheryResult converts one Meshery stored result (at.raw, at byte
// at.off of the file's data, at field path prefix) into an SMP result. Its
// runner_results is one Fortio-shaped result, or a list of them, merged
// into one (see mergeRunners). Notes say what the merge did.
func readMesheryResult(data []byte, at rawAt, file, prefix string) (*spec.PerformanceTestResult, []string, error) {
	fail := func(path string, off int64, msg string) error {
		return spec.Errors{{File: file, Line: lineAt(data, off), Path: path, Msg: msg}}
	}
	var mr mesheryResult
	if err := json.NewDecoder(bytes.NewReader(at.raw)).Decode(&mr); err != nil {
		return nil, nil, jsonError(data, at.off, file, prefix, err)
	}
	path := join(prefix, "runner_results")
	rr, ok := members(at)["runner_results"]
	t := bytes.TrimSpace(rr.raw)
	if !ok || len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil, fail(path, at.off, "empty; a Meshery result carries the load generator's result here")
	}
	var extras mesheryExtras
	var res *spec.PerformanceTestResult
	var notes []string
	if t[0] == '[' {
		els, err := elements(rr)
		if err != nil {
			return nil, nil, jsonError(data, rr.off, file, path, err)
		}
		if len(els) == 0 {
			return nil, nil, fail(path, rr.off, "an empty list; a Meshery result carries the load generator's results here")
		}
		var parts []*spec.PerformanceTestResult
		var errs spec.Errors
		for i, e := range els {
			r, err := readFortioAt(data, e, file, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				errs = append(errs, asErrors(err)...)
				continue
			}
			var ex mesheryExtras
			// Meshery's additions are optional and loosely typed; a value
			// of another shape is ignored rather than failing the import.
			_ = json.Unmarshal(e.raw, &ex)
			if ex.LoadGenerator != "" {
				r.Generator.Name = ex.LoadGenerator
			}
			if i == 0 {
				extras = ex
			}
			parts = append(parts, r)
		}
		if len(errs) > 0 {
			return nil, nil, errs
		}
		res, notes = mergeRunners(parts, path)
	} else {
		var err error
		if res, err = readFortioAt(data, rr, file, path); err != nil {
			return nil, nil, err
		}
		_ = json.Unmarshal(rr.raw, &extras)
	}
	applyMeshery(res, &mr, &extras)
	return res, notes, nil
}

func asErrors(err error) spec.Errors {
	if es, ok := err.(spec.Errors); ok {
		return es
	}
	return spec.Errors{{Msg: err.Error()}}
}

// mergeRunners makes one result of the results of a runner_results list,
// taken as parts of one test run side by side (Meshery's distributed
// load generators): request and status counts add, and so do the rates;
// the duration is the longest, the start the earliest. When every part has
// a histogram they merge, and the percentiles are the merged histogram's;
// otherwise p50, p90, p99 and percentiles_ms are count-weighted means of
// the parts' own figures, which is an approximation, said in the notes and
// in the label smp.approximate. Min, max and average are exact either way.
func mergeRunners(parts []*spec.PerformanceTestResult, path string) (*spec.PerformanceTestResult, []string) {
	if len(parts) == 1 {
		return parts[0], nil
	}
	out := proto.Clone(parts[0]).(*spec.PerformanceTestResult)
	out.Requests = &spec.PerformanceTestResult_Requests{}
	out.StatusCodes, out.Errors, out.Histogram, out.PercentilesMs = nil, nil, nil, nil
	out.ActualQps, out.RequestedQps, out.DurationS = 0, 0, 0
	lat := &spec.PerformanceTestResult_Latency{Min: math.Inf(1)}
	out.LatenciesMs = lat
	merged := hist.New()
	allHist := true
	var weight, sum float64
	wp := map[float64]float64{} // percentile → Σ count × value
	var connections int32
	for _, p := range parts {
		rq := p.GetRequests()
		out.Requests.Total += rq.GetTotal()
		out.Requests.Ok += rq.GetOk()
		out.Requests.Errors += rq.GetErrors()
		for c, n := range p.GetStatusCodes() {
			if out.StatusCodes == nil {
				out.StatusCodes = map[int32]int64{}
			}
			out.StatusCodes[c] += n
		}
		for k, n := range p.GetErrors() {
			addErr(out, k, n)
		}
		out.ActualQps += p.GetActualQps()
		out.RequestedQps += p.GetRequestedQps()
		out.DurationS = math.Max(out.DurationS, p.GetDurationS())
		if s := p.GetStartTime(); s != nil && (out.StartTime == nil || s.AsTime().Before(out.StartTime.AsTime())) {
			out.StartTime = s
		}
		if e := p.GetEndTime(); e != nil && (out.EndTime == nil || e.AsTime().After(out.EndTime.AsTime())) {
			out.EndTime = e
		}
		for _, c := range p.GetConfig().GetClients() {
			connections += c.GetConnections()
		}
		l := p.GetLatenciesMs()
		w := float64(rq.GetTotal())
		if w == 0 {
			continue
		}
		lat.Min = math.Min(lat.Min, l.GetMin())
		lat.Max = math.Max(lat.Max, l.GetMax())
		weight += w
		sum += w * l.GetAverage()
		own := map[float64]float64{50: l.GetP50(), 90: l.GetP90(), 99: l.GetP99()}
		for _, pc := range p.GetPercentilesMs() {
			own[pc.GetPercentile()] = pc.GetValue()
		}
		for pc, v := range own {
			wp[pc] += w * v
		}
		h, err := decodeHistogram(p)
		if err != nil || h == nil {
			allHist = false
			continue
		}
		if merged.Merge(h) != nil {
			allHist = false
		}
	}
	if math.IsInf(lat.Min, 1) {
		lat.Min = 0
	}
	if weight > 0 {
		lat.Average = sum / weight
	}
	if cs := out.GetConfig().GetClients(); len(cs) > 0 {
		cs[0].Connections = connections
		cs[0].Rps = int64(out.RequestedQps)
	}
	var points []float64
	for p := range wp {
		if p != 50 && p != 90 && p != 99 || hasPercentile(parts, p) {
			points = append(points, p)
		}
	}
	sort.Float64s(points)
	note := fmt.Sprintf("%s: %d load generator results merged into one, as parts of one run side by side: request and status counts add, and so do the rates; the duration is the longest", path, len(parts))
	if allHist && merged.Count() > 0 {
		enc, err := merged.Encode()
		if err == nil {
			out.Histogram = &spec.PerformanceTestResult_Histogram{Encoding: hist.Encoding, Unit: hist.Unit, Data: enc}
			ms := func(p float64) float64 { return float64(merged.Percentile(p)) / 1e6 }
			lat.P50, lat.P90, lat.P99 = ms(50), ms(90), ms(99)
			for _, p := range points {
				out.PercentilesMs = append(out.PercentilesMs, &spec.PerformanceTestResult_Percentile{Percentile: p, Value: ms(p)})
			}
			return out, []string{note + "; the histograms merge, and the percentiles are the merged histogram's"}
		}
	}
	mean := func(p float64) float64 {
		if weight == 0 {
			return 0
		}
		return wp[p] / weight
	}
	lat.P50, lat.P90, lat.P99 = mean(50), mean(90), mean(99)
	for _, p := range points {
		out.PercentilesMs = append(out.PercentilesMs, &spec.PerformanceTestResult_Percentile{Percentile: p, Value: mean(p)})
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	out.Labels["smp.approximate"] = "percentiles: count-weighted means of " + strconv.Itoa(len(parts)) + " load generator results, not all with a histogram"
	return out, []string{note + "; not every part has a histogram, so the percentiles are APPROXIMATE: count-weighted means of the parts' own (min, max and average are exact)"}
}

func hasPercentile(parts []*spec.PerformanceTestResult, p float64) bool {
	for _, r := range parts {
		for _, pc := range r.GetPercentilesMs() {
			if pc.GetPercentile() == p {
				return true
			}
		}
	}
	return false
}

func decodeHistogram(r *spec.PerformanceTestResult) (*hist.Histogram, error) {
	d := r.GetHistogram().GetData()
	if d == "" {
		return nil, nil
	}
	return hist.Decode(d)
}

// resultItem is one element of a list of Meshery results.
type resultItem struct {
	path   string
	result *spec.PerformanceTestResult
	notes  []string
	errs   spec.Errors
}

// readMesheryResults reads a list of Meshery results: the export array
// ([result, ...]) or a page of Meshery's results list ({page, page_size,
// total_count, results: [...]}). Each element converts on its own; a
// malformed one is named by its index and does not block the others
// (Document.Invalid holds its problems), unless it is the one chosen.
func readMesheryResults(data []byte, file string, o options) (*Document, error) {
	whole := rawAt{raw: data}
	list, prefix := whole, ""
	if m := members(whole); m != nil {
		list, prefix = m["results"], "results"
		t := bytes.TrimSpace(list.raw)
		if len(t) == 0 || bytes.Equal(t, []byte("null")) {
			return nil, spec.Errors{{File: file, Line: lineAt(data, list.off), Path: prefix, Msg: "no result in the page"}}
		}
	}
	els, err := elements(list)
	if err != nil {
		return nil, jsonError(data, list.off, file, prefix, err)
	}
	if len(els) == 0 {
		return nil, spec.Errors{{File: file, Line: lineAt(data, list.off), Path: prefix, Msg: "an empty list; expected Meshery results"}}
	}
	if o.index >= len(els) {
		return nil, spec.Errors{{File: file, Path: prefix, Msg: fmt.Sprintf("--index %d: the file holds %d results (0..%d)", o.index, len(els), len(els)-1)}}
	}
	items := make([]resultItem, len(els))
	for i, e := range els {
		it := &items[i]
		it.path = fmt.Sprintf("%s[%d]", prefix, i)
		if m := members(e); m == nil {
			it.errs = spec.Errors{{File: file, Line: lineAt(data, e.off), Path: it.path, Msg: "expected a Meshery result (an object with runner_results)"}}
			continue
		}
		it.result, it.notes, err = readMesheryResult(data, e, file, it.path)
		if err != nil {
			it.errs = asErrors(err)
		}
	}
	d := &Document{File: file, Format: "json", Kind: KindMesheryResults}
	chosen := o.index
	if chosen >= 0 && len(items[chosen].errs) > 0 {
		return nil, items[chosen].errs
	}
	generators := map[string]bool{}
	for i, it := range items {
		if len(it.errs) > 0 {
			d.Invalid = append(d.Invalid, it.errs...)
			d.Notes = append(d.Notes, fmt.Sprintf("%s: skipped, malformed: %s", it.path, strings.Join(errorTexts(it.errs), "; ")))
			continue
		}
		if chosen < 0 {
			chosen = i
		}
		d.Results = append(d.Results, it.result)
		for _, n := range it.notes {
			d.Notes = append(d.Notes, n)
		}
		generators[it.result.GetGenerator().GetName()] = true
	}
	if len(d.Results) == 0 {
		return nil, d.Invalid
	}
	d.Result = items[chosen].result
	d.Mesh = d.Result.GetMesh()
	if len(items) > 1 {
		how := "the first valid one; --index N chooses another"
		if o.index >= 0 {
			how = "chosen by --index"
		}
		d.Notes = append(d.Notes, fmt.Sprintf("the file holds %d results (%d valid): a command that takes one result uses %s %q (%s), commands that take several take every valid one",
			len(items), len(d.Results), items[chosen].path, d.Result.GetName(), how))
	}
	names := make([]string, 0, len(generators))
	for g := range generators {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		note, uncorrected := latencyNote(g)
		d.Notes = append(d.Notes, note)
		d.Uncorrected = d.Uncorrected || uncorrected
	}
	return d, nil
}

func errorTexts(es spec.Errors) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}
