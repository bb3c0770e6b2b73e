package smprun

import (
	"context"
	"fmt"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/resources"
	"github.com/smp-project/smp/spec"
)

// CaptureOptions say which resources a series samples during each run,
// besides the generator's own CPU and memory, which are always sampled.
type CaptureOptions struct {
	// Watches are local processes and cgroups (resources.Watch).
	Watches []resources.Watch
	// Prometheus, if set, is queried over each run's window once it is over.
	Prometheus *resources.Prometheus
	// Step between samples; 0 means 1 s.
	Step time.Duration
}

// Check says what is wrong with the options before anything runs.
func (o CaptureOptions) Check() error {
	if o.Prometheus != nil {
		if err := o.Prometheus.Check(); err != nil {
			return invalid("%v", err)
		}
	}
	if o.Step < 0 {
		return invalid("capture step must not be negative, got %v", o.Step)
	}
	return nil
}

// captured is what a run measured besides the load.
type captured struct {
	figures  []*spec.ResourceUsage
	captures []*spec.Capture
}

// SaturatedShare is the share of its cores above which the generator is
// called out as saturated: past it, the generator's own CPU may have
// limited the rate or added latency.
const SaturatedShare = 0.9

// withCapture runs fn with the resources sampled around it: local sources
// each step while it runs, then Prometheus over the same window, so that the
// two kinds of figures are comparable.
func withCapture(ctx context.Context, o CaptureOptions, fn func() (*load.Result, error)) (*load.Result, *captured, error) {
	local, lerr := resources.StartLocal(resources.LocalOptions{Watches: o.Watches, Self: true, Step: o.Step})
	start := time.Now()
	res, err := fn()
	end := time.Now()
	c := &captured{}
	if lerr != nil {
		c.captures = append(c.captures, &spec.Capture{Name: "local", Status: "failed", Reason: lerr.Error()})
	} else {
		c.figures, c.captures = local.Stop()
	}
	if err != nil {
		return nil, nil, err
	}
	if o.Prometheus != nil {
		// The run's own context may be cancelled (an interrupted run keeps
		// what it measured): query on a context of its own.
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		figs, caps := o.Prometheus.Capture(qctx, start, end)
		cancel()
		c.figures = append(c.figures, figs...)
		c.captures = append(c.captures, caps...)
	}
	c.captures = append(c.captures, generatorHealth(c.figures)...)
	return res, c, nil
}

// generatorHealth calls out a generator that used nearly all of its cores.
func generatorHealth(figs []*spec.ResourceUsage) []*spec.Capture {
	for _, f := range figs {
		if f.GetSource() != "self" || f.GetClass() != "cpu" || f.GetError() != "" || f.GetAssigned() <= 0 {
			continue
		}
		if share := f.GetUsed() / f.GetAssigned(); share >= SaturatedShare {
			return []*spec.Capture{{Name: "generator", Status: "saturated", Reason: fmt.Sprintf(
				"the generator used %.0f of its %.0f mcores (%.0f%%): its own CPU may have limited the rate or added latency; run it on more or other cores",
				f.GetUsed(), f.GetAssigned(), 100*share)}}
		}
	}
	return nil
}

// mergeCaptured joins several runs' figures into one per component, class
// and source: the series one after the other, used the mean of every
// sample (CPU weighted by each run's length through its samples), max the
// largest. A figure that failed in some run keeps that run's error only if
// every run failed.
func mergeCaptured(runs []*captured) *captured {
	out := &captured{}
	type key struct{ comp, class, source, query string }
	index := map[key]*spec.ResourceUsage{}
	var order []key
	for i, r := range runs {
		for _, f := range r.figures {
			k := key{f.GetComponent(), f.GetClass(), f.GetSource(), f.GetQuery()}
			m, ok := index[k]
			if !ok {
				m = &spec.ResourceUsage{Component: f.Component, Class: f.Class, Unit: f.Unit, Source: f.Source, Query: f.Query, StepS: f.StepS, Error: f.Error}
				index[k] = m
				order = append(order, k)
			}
			m.Assigned = max(m.Assigned, f.Assigned)
			if f.GetError() != "" {
				continue
			}
			m.Error = ""
			m.Series = append(m.Series, f.Series...)
			m.Max = max(m.Max, f.Max)
		}
		for _, c := range r.captures {
			cc := &spec.Capture{Name: c.Name, Status: c.Status, Reason: c.Reason}
			if len(runs) > 1 {
				cc.Reason = fmt.Sprintf("run %d: %s", i+1, c.Reason)
			}
			if c.Status != "ok" {
				out.captures = append(out.captures, cc)
			}
		}
	}
	for _, k := range order {
		m := index[k]
		if m.Error == "" && len(m.Series) > 0 {
			s := 0.0
			for _, v := range m.Series {
				s += v
			}
			m.Used = s / float64(len(m.Series))
		}
		out.figures = append(out.figures, m)
	}
	if len(out.captures) == 0 && len(runs) > 0 {
		out.captures = append(out.captures, &spec.Capture{Name: "resources", Status: "ok"})
	}
	return out
}

// Environment is what a series records of where it ran: described once,
// before the first run, and put on every variant's result.
type Environment struct {
	Env *spec.EnvironmentConfig
	// Mesh is the mesh found; a result keeps its config's mesh when set.
	Mesh       *spec.ServiceMesh
	MeshConfig *spec.ServiceMeshConfig
	Captures   []*spec.Capture
}

func (e Environment) attach(r *spec.PerformanceTestResult) {
	if e.Env != nil {
		r.Environment = e.Env
	}
	if e.MeshConfig != nil {
		r.MeshConfig = e.MeshConfig
	}
	if r.Mesh == nil && e.Mesh != nil {
		r.Mesh = e.Mesh
	}
	r.Captures = append(append([]*spec.Capture(nil), e.Captures...), r.Captures...)
}
