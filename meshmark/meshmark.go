// Package meshmark computes MeshMark, Service Mesh Performance's index of a
// mesh's efficiency: a score from 0 to 100 that weighs the resources the
// mesh's own components use against what they were assigned, together with
// the service level the workload achieved. Upstream SMP publishes only a
// definition on a slide; this package settles every open point, and the
// definition below is versioned by Method so that a stored score stays
// recomputable.
//
// # Definition (Method "smp-meshmark/v1")
//
// Inputs are resource figures, one per mesh component and resource class
// (spec.ResourceUsage: component, class, used, assigned, unit, weight), and
// optionally a latency objective.
//
//  1. MeshMark Utilization Efficiency of one figure:
//     MUE = 1 − used/assigned, clamped to [0, 1]: the share of the assigned
//     resource left over; 1 is best, 0 means the component used all of its
//     assignment or more. "assigned" is the component's request or limit, or
//     the node's capacity when nothing is assigned; used and assigned are in
//     the same unit. The slide's "MUE = 1 + MUE1 + … + MUEn" is read as a
//     typo: each MUE is in [0, 1] and a class averages them.
//  2. Classes: cpu, memory and network (resource classes), plus latency
//     (the service level, item 5). Class names are lower case; others are
//     rejected.
//  3. Weights: each figure has weight 1 + w with w in [−0.5, +0.5]
//     (ResourceUsage.weight, default 0, so weight 1). A w outside that range
//     is rejected, not clamped.
//  4. Class score = Σ (MUE × weight) / number of MUEs in the class, as
//     published: the sum is divided by the count, not by the sum of the
//     weights, so weights above 1 can lift a class score above 1.
//  5. Service level: "a mesh that is cheap but breaks the latency objective
//     is not efficient". Given an objective for the p99 latency (SLO) and
//     the achieved p99 (the result's corrected p99; the median across runs
//     when the result has several), the latency class has one figure with
//     MUE = min(1, SLO / achieved p99): 1 while the objective is met, and the
//     fraction of the objective achieved when it is missed (p99 twice the
//     SLO gives 0.5). Its weight is 1 + w like the others. In the stored
//     term, "used" is the achieved p99 and "assigned" the SLO, both in ms.
//     Without an SLO there is no latency class, and the score measures
//     resource efficiency alone; the command says so.
//  6. Score = 100 × the mean of the class scores over the classes that have
//     at least one figure, clamped to [0, 100]. A class with no figure is
//     left out rather than counted as 0: an unmeasured resource is unknown,
//     not wasted. At least one resource figure is required.
//  7. Everything needed to recompute the score is kept in the result:
//     PerformanceTestResult.resources holds the inputs and .meshmark holds
//     the method, the SLO and achieved p99, every class with its score and
//     every term with its used, assigned, MUE and weight. Recompute checks
//     a stored MeshMark against its terms.
//
// Measurements can come from the result document (resources) or from a
// small YAML file (see ParseMeasurements).
package meshmark

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
)

// Method names this definition of MeshMark; it is stored with every score.
const Method = "smp-meshmark/v1"

// The classes, in the order a MeshMark lists them.
const (
	ClassCPU     = "cpu"
	ClassMemory  = "memory"
	ClassNetwork = "network"
	ClassLatency = "latency"
)

// LatencyComponent is the component name of the latency class's single term.
const LatencyComponent = "p99"

// MaxWeightAdjustment bounds w in weight = 1 + w.
const MaxWeightAdjustment = 0.5

// ResourceClasses returns the resource classes a figure may belong to.
func ResourceClasses() []string { return []string{ClassCPU, ClassMemory, ClassNetwork} }

// Input is what a MeshMark is computed from.
type Input struct {
	// Resources are the figures of the mesh's components.
	Resources []*spec.ResourceUsage
	// ServiceLevel adds the latency class when its SLOP99Ms is above 0.
	ServiceLevel ServiceLevel
}

// ServiceLevel is the latency objective and what was achieved.
type ServiceLevel struct {
	// SLOP99Ms is the objective for the p99 latency in ms; 0 means none.
	SLOP99Ms float64
	// AchievedP99Ms is the p99 latency measured, in ms.
	AchievedP99Ms float64
	// Weight is the adjustment w of the latency term, in [−0.5, 0.5].
	Weight float64
}

// MUE is the MeshMark Utilization Efficiency of one figure:
// 1 − used/assigned clamped to [0, 1]. assigned must be above 0.
func MUE(used, assigned float64) float64 {
	return clamp(1-used/assigned, 0, 1)
}

// LatencyMUE is the service-level efficiency: min(1, SLO / achieved p99).
func LatencyMUE(sloP99, achievedP99 float64) float64 {
	return clamp(sloP99/achievedP99, 0, 1)
}

func clamp(v, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, v))
}

// CheckUsage validates one resource figure. On failure it returns the name
// of the offending field (component, class, used, assigned, weight) and the
// error, so that a caller can prefix a path.
func CheckUsage(u *spec.ResourceUsage) (field string, err error) {
	if u == nil {
		return "", errors.New("missing resource figure")
	}
	if strings.TrimSpace(u.GetComponent()) == "" {
		return "component", errors.New("must name the mesh component (e.g. sidecar)")
	}
	if !isResourceClass(u.GetClass()) {
		return "class", fmt.Errorf("%q: want one of %s", u.GetClass(), strings.Join(ResourceClasses(), ", "))
	}
	if v := u.GetUsed(); math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return "used", fmt.Errorf("%v: must be a finite number ≥ 0", v)
	}
	if v := u.GetAssigned(); math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return "assigned", fmt.Errorf("%v: must be a finite number > 0", v)
	}
	if err := checkWeight(u.GetWeight()); err != nil {
		return "weight", err
	}
	return "", nil
}

func checkWeight(w float64) error {
	if math.IsNaN(w) || w < -MaxWeightAdjustment || w > MaxWeightAdjustment {
		return fmt.Errorf("%v: outside [-%g, +%g] (the weight is 1 + w)", w, MaxWeightAdjustment, MaxWeightAdjustment)
	}
	return nil
}

func isResourceClass(c string) bool {
	for _, rc := range ResourceClasses() {
		if c == rc {
			return true
		}
	}
	return false
}

// Compute computes a MeshMark by the definition in the package doc. It
// rejects a figure that fails CheckUsage (naming resources[i] and the field),
// a latency objective without an achieved p99, and an input with no resource
// figure.
func Compute(in Input) (*spec.MeshMark, error) {
	if len(in.Resources) == 0 {
		return nil, errors.New("meshmark: no resource figures (cpu, memory or network use of the mesh's components)")
	}
	byClass := map[string][]*spec.MeshMark_Term{}
	for i, u := range in.Resources {
		if field, err := CheckUsage(u); err != nil {
			path := fmt.Sprintf("resources[%d]", i)
			if field != "" {
				path += "." + field
			}
			return nil, fmt.Errorf("meshmark: %s: %w", path, err)
		}
		byClass[u.GetClass()] = append(byClass[u.GetClass()], &spec.MeshMark_Term{
			Component: u.GetComponent(),
			Mue:       MUE(u.GetUsed(), u.GetAssigned()),
			Weight:    1 + u.GetWeight(),
			Used:      u.GetUsed(),
			Assigned:  u.GetAssigned(),
		})
	}
	mm := &spec.MeshMark{Method: Method}
	if sl := in.ServiceLevel; sl.SLOP99Ms != 0 {
		if math.IsNaN(sl.SLOP99Ms) || math.IsInf(sl.SLOP99Ms, 0) || sl.SLOP99Ms < 0 {
			return nil, fmt.Errorf("meshmark: SLO p99 %v ms: must be a finite number > 0", sl.SLOP99Ms)
		}
		if math.IsNaN(sl.AchievedP99Ms) || math.IsInf(sl.AchievedP99Ms, 0) || sl.AchievedP99Ms <= 0 {
			return nil, fmt.Errorf("meshmark: an SLO p99 of %g ms needs the achieved p99 (got %v): a result with latencies, or achieved_p99_ms in the measurements", sl.SLOP99Ms, sl.AchievedP99Ms)
		}
		if err := checkWeight(sl.Weight); err != nil {
			return nil, fmt.Errorf("meshmark: service_level.weight: %w", err)
		}
		mm.SloP99Ms, mm.AchievedP99Ms = sl.SLOP99Ms, sl.AchievedP99Ms
		byClass[ClassLatency] = []*spec.MeshMark_Term{{
			Component: LatencyComponent,
			Mue:       LatencyMUE(sl.SLOP99Ms, sl.AchievedP99Ms),
			Weight:    1 + sl.Weight,
			Used:      sl.AchievedP99Ms,
			Assigned:  sl.SLOP99Ms,
		}}
	}
	for _, c := range append(ResourceClasses(), ClassLatency) {
		if terms := byClass[c]; len(terms) > 0 {
			mm.Classes = append(mm.Classes, &spec.MeshMark_ClassScore{Class: c, Terms: terms})
		}
	}
	mm.Score = score(mm.Classes)
	return mm, nil
}

// score fills each class's score and returns the clamped overall score.
func score(classes []*spec.MeshMark_ClassScore) float64 {
	sum := 0.0
	for _, c := range classes {
		cs := 0.0
		for _, t := range c.Terms {
			cs += t.GetMue() * t.GetWeight()
		}
		c.Score = cs / float64(len(c.Terms))
		sum += c.Score
	}
	return clamp(100*sum/float64(len(classes)), 0, 100)
}

// Recompute checks a stored MeshMark: it recomputes every MUE from used and
// assigned, every class score and the score, and returns the recomputed
// score with an error if the method is unknown, a weight is out of range or
// a stored number differs from its recomputation by more than 1e-9.
func Recompute(mm *spec.MeshMark) (float64, error) {
	if mm == nil {
		return 0, errors.New("meshmark: nothing to recompute")
	}
	if mm.GetMethod() != Method {
		return 0, fmt.Errorf("meshmark: method %q: this version computes %q", mm.GetMethod(), Method)
	}
	if len(mm.GetClasses()) == 0 {
		return 0, errors.New("meshmark: no classes")
	}
	const tol = 1e-9
	sum := 0.0
	for i, c := range mm.GetClasses() {
		if len(c.GetTerms()) == 0 {
			return 0, fmt.Errorf("meshmark: classes[%d] (%s): no terms", i, c.GetClass())
		}
		cs := 0.0
		for j, t := range c.GetTerms() {
			var mue float64
			if c.GetClass() == ClassLatency {
				mue = LatencyMUE(t.GetAssigned(), t.GetUsed())
			} else {
				if !isResourceClass(c.GetClass()) {
					return 0, fmt.Errorf("meshmark: classes[%d]: unknown class %q", i, c.GetClass())
				}
				mue = MUE(t.GetUsed(), t.GetAssigned())
			}
			if err := checkWeight(t.GetWeight() - 1); err != nil {
				return 0, fmt.Errorf("meshmark: classes[%d].terms[%d].weight: %w", i, j, err)
			}
			if math.Abs(mue-t.GetMue()) > tol {
				return 0, fmt.Errorf("meshmark: classes[%d].terms[%d].mue: stored %v, recomputed %v", i, j, t.GetMue(), mue)
			}
			cs += mue * t.GetWeight()
		}
		cs /= float64(len(c.GetTerms()))
		if math.Abs(cs-c.GetScore()) > tol {
			return 0, fmt.Errorf("meshmark: classes[%d].score: stored %v, recomputed %v", i, c.GetScore(), cs)
		}
		sum += cs
	}
	s := clamp(100*sum/float64(len(mm.GetClasses())), 0, 100)
	if math.Abs(s-mm.GetScore()) > tol {
		return s, fmt.Errorf("meshmark: score: stored %v, recomputed %v", mm.GetScore(), s)
	}
	return s, nil
}

// AchievedP99 is the result's corrected p99 latency in ms: the median of its
// runs' p99 when it has runs. ok is false when the result has no p99.
func AchievedP99(r *spec.PerformanceTestResult) (p99 float64, ok bool) {
	vs := stats.Values(stats.Runs(r), stats.P99)
	if len(vs) == 0 {
		return 0, false
	}
	return stats.Median(vs), true
}

// ScoreResult computes the MeshMark of a result and stores it with its
// inputs: the resource figures come from m when it has any, else from the
// result; the SLO is sloP99Ms when above 0, else m's; the achieved p99 is
// m's when set, else the result's (AchievedP99). On success r.Resources holds
// the figures used and r.Meshmark the score with its breakdown.
func ScoreResult(r *spec.PerformanceTestResult, m *Measurements, sloP99Ms float64) (*spec.MeshMark, error) {
	if r == nil {
		return nil, errors.New("meshmark: no result")
	}
	in := Input{Resources: Scorable(r.GetResources())}
	fromMeasurements := m != nil && len(m.Resources) > 0
	if m != nil {
		if fromMeasurements {
			in.Resources = m.Resources
		}
		in.ServiceLevel = m.ServiceLevel
	}
	if sloP99Ms > 0 {
		in.ServiceLevel.SLOP99Ms = sloP99Ms
	}
	if in.ServiceLevel.SLOP99Ms > 0 && in.ServiceLevel.AchievedP99Ms == 0 {
		if p99, ok := AchievedP99(r); ok {
			in.ServiceLevel.AchievedP99Ms = p99
		}
	}
	if len(in.Resources) == 0 {
		if len(r.GetResources()) > 0 {
			return nil, errors.New("meshmark: the result's resource figures are all the generator's own, failed captures or without an assignment; watch the mesh's processes (smp run --watch-pid, --watch-cmd, --prometheus) or give --measurements")
		}
		return nil, errors.New("meshmark: the result has no resource figures (resources) and no measurements were given")
	}
	mm, err := Compute(in)
	if err != nil {
		return nil, err
	}
	if fromMeasurements {
		r.Resources = in.Resources
	}
	r.Meshmark = mm
	return mm, nil
}

// Scorable keeps the figures that MeshMark weighs: captured ones that
// measured something (no error) against an assignment, and not the load
// generator's own (source "self"), which is the test's cost, not the
// mesh's. Hand-written figures (no source) are kept as they are.
func Scorable(figs []*spec.ResourceUsage) []*spec.ResourceUsage {
	var out []*spec.ResourceUsage
	for _, f := range figs {
		if f.GetSource() == "self" || f.GetError() != "" || (f.GetSource() != "" && f.GetAssigned() <= 0) {
			continue
		}
		out = append(out, f)
	}
	return out
}
