package smprun

import (
	"fmt"

	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
)

// SLOCheck is one objective checked on one variant's result.
type SLOCheck struct {
	Variant string
	SLO     stats.SLO
	// Pass is the verdict; Measured the value checked, in the metric's
	// unit; Err says why there was none (the check then fails).
	Pass     bool
	Measured float64
	Err      error
}

// Message says what was measured: "p99 = 1.234 ms".
func (c SLOCheck) Message() string {
	if c.Err != nil {
		return c.Err.Error()
	}
	return fmt.Sprintf("%s = %s %s", c.SLO.Metric, stats.FormatValue(c.Measured), c.SLO.Metric.Unit())
}

// String is the line printed for the check: "SLO p99<25ms  ok  p99 = 1.234 ms".
func (c SLOCheck) String() string {
	verdict := "ok"
	if !c.Pass {
		verdict = "FAILED"
	}
	prefix := ""
	if c.Variant != "" {
		prefix = c.Variant + ": "
	}
	return fmt.Sprintf("%sSLO %s %s: %s", prefix, c.SLO.Text, verdict, c.Message())
}

// CheckSLOs checks every objective on every variant's result. With several
// runs the result's own figures are those of all runs merged (see
// VariantResult.Result): p99<25ms holds the p99 of every request to 25 ms.
func CheckSLOs(vrs []*VariantResult, slos []stats.SLO) []SLOCheck {
	var out []SLOCheck
	for _, vr := range vrs {
		for _, s := range slos {
			ok, v, err := s.Check(vr.Result)
			out = append(out, SLOCheck{Variant: vr.Name, SLO: s, Pass: ok && err == nil, Measured: v, Err: err})
		}
	}
	return out
}

// Proto is the check as stored in a result (slo_checks).
func (c SLOCheck) Proto() *spec.SLOCheck {
	pc := &spec.SLOCheck{Objective: c.SLO.Text, Metric: string(c.SLO.Metric), Op: c.SLO.Op,
		Threshold: c.SLO.Value, Measured: c.Measured, Unit: c.SLO.Metric.Unit(), Pass: c.Pass}
	if c.Err != nil {
		pc.Error, pc.Measured = c.Err.Error(), 0
	}
	return pc
}

// StoreChecks puts each variant's checks into its result (slo_checks), in
// the order checked, replacing what it held.
func StoreChecks(vrs []*VariantResult, checks []SLOCheck) {
	for _, vr := range vrs {
		vr.Result.SloChecks = nil
		for _, c := range checks {
			if c.Variant == vr.Name {
				vr.Result.SloChecks = append(vr.Result.SloChecks, c.Proto())
			}
		}
	}
}
