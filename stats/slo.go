package stats

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/smp-project/smp/spec"
)

// SLO is a service-level objective on one metric of a result: p99<25ms,
// errors<0.1%, qps>=990.
type SLO struct {
	Metric Metric
	// Op is one of <, <=, >, >=.
	Op string
	// Value is in the metric's unit: ms, percent or req/s.
	Value float64
	// Text is the objective as written.
	Text string
}

func (s SLO) String() string { return s.Text }

// ParseSLO parses "metric op value": the metric by name (see ParseMetric), op
// one of < <= > >=, and the value in the metric's unit. Latencies need a Go
// duration unit (25ms, 1.5s, 800us): a bare number is refused rather than
// guessed to be milliseconds; the error rate takes a percentage (0.1% or
// 0.1); qps a bare number.
func ParseSLO(text string) (SLO, error) {
	s := strings.ReplaceAll(text, " ", "")
	i := strings.IndexAny(s, "<>")
	if i <= 0 {
		return SLO{}, fmt.Errorf("SLO %q: want metric<value, e.g. p99<25ms, errors<0.1%%, qps>=990", text)
	}
	op := s[i : i+1]
	rest := s[i+1:]
	if strings.HasPrefix(rest, "=") {
		op += "="
		rest = rest[1:]
	}
	m, err := ParseMetric(s[:i])
	if err != nil {
		return SLO{}, fmt.Errorf("SLO %q: %w", text, err)
	}
	v, err := parseSLOValue(m, rest)
	if err != nil {
		return SLO{}, fmt.Errorf("SLO %q: %w", text, err)
	}
	return SLO{Metric: m, Op: op, Value: v, Text: text}, nil
}

func parseSLOValue(m Metric, s string) (float64, error) {
	var v float64
	var err error
	switch m.Unit() {
	case "ms":
		if _, perr := strconv.ParseFloat(s, 64); perr == nil {
			return 0, fmt.Errorf("%q has no unit: want a duration such as %sms, %sus or %ss", s, s, s, s)
		}
		d, derr := time.ParseDuration(s)
		if derr != nil {
			return 0, fmt.Errorf("%q: want a duration such as 25ms, 800us or 1.5s", s)
		}
		v = float64(d) / float64(time.Millisecond)
	case "%":
		v, err = strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil {
			return 0, fmt.Errorf("%q: want a percentage such as 0.1%%", s)
		}
	default:
		v, err = strconv.ParseFloat(strings.TrimSuffix(strings.TrimSuffix(s, "/s"), "rps"), 64)
		if err != nil {
			return 0, fmt.Errorf("%q: want a number of requests per second", s)
		}
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("%q: want a finite number ≥ 0", s)
	}
	return v, nil
}

// Check evaluates the objective on a result: the result's own figure, or the
// median across its runs when the result itself lacks it. It returns whether
// the objective holds and the measured value; an error when the result has
// no such figure.
func (s SLO) Check(r *spec.PerformanceTestResult) (ok bool, measured float64, err error) {
	v, has := Value(r, s.Metric)
	if !has {
		vs := Values(Runs(r), s.Metric)
		if len(vs) == 0 {
			if s.Metric.Latency() && NoSuccess(r) {
				// Missing, and so failed: never a pass on 0 ms.
				return false, 0, fmt.Errorf("SLO %s: no successful requests, so no %s", s.Text, s.Metric)
			}
			return false, 0, fmt.Errorf("SLO %s: the result has no %s", s.Text, s.Metric)
		}
		v = Median(vs)
	}
	switch s.Op {
	case "<":
		ok = v < s.Value
	case "<=":
		ok = v <= s.Value
	case ">":
		ok = v > s.Value
	case ">=":
		ok = v >= s.Value
	default:
		return false, v, fmt.Errorf("SLO %s: unknown operator %q", s.Text, s.Op)
	}
	return ok, v, nil
}
