package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/smp-project/smp/envinfo"
	"github.com/smp-project/smp/resources"
	"github.com/smp-project/smp/smprun"
	"github.com/spf13/cobra"
)

// captureFlags say what smp run captures beside the load.
type captureFlags struct {
	watchPIDs, watchCmds, watchCgroups []string
	prometheus, promSet                string
	promQueries, promVars              []string
	kubeconfig, targetNamespace        string
	noCluster                          bool
}

const captureHelp = `Resources: the generator's own CPU and memory are always sampled (each second) and
a generator that used 90% of its cores or more is called out. --watch-pid, --watch-cmd
and --watch-cgroup add local sources ([COMPONENT=]VALUE; a process counts with its
descendants); --prometheus URL adds the queries of --prometheus-set (istio, linkerd,
cadvisor, process; templates see {{.range}}, {{.namespace}}, {{.job}} and every
--prometheus-var), each overridable with --prometheus-query COMPONENT.CLASS=PROMQL, run
over each run's window. Every figure (a per-second series, its mean as used, and max)
is in the result's resources and in the summary; what could not be captured is in
captures, with why.
smp meshmark scores a result that has them.

Environment: the generator's host is described in environment.host. With a kubeconfig
(--kubeconfig, $KUBECONFIG or ~/.kube/config) the cluster's version, nodes and the
workloads behind the target's host, and the service mesh found, go to environment,
mesh and mesh_config; --no-cluster skips the cluster.`

func (c *captureFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&c.watchPIDs, "watch-pid", nil, "sample a process and its descendants: [COMPONENT=]PID (repeatable)")
	f.StringArrayVar(&c.watchCmds, "watch-cmd", nil, "sample every process of a command name: [COMPONENT=]NAME (repeatable)")
	f.StringArrayVar(&c.watchCgroups, "watch-cgroup", nil, "sample a cgroup v2: [COMPONENT=]PATH (repeatable)")
	f.StringVar(&c.prometheus, "prometheus", "", "query resource figures from the Prometheus server at `URL` over each run")
	f.StringVar(&c.promSet, "prometheus-set", "", "default queries: "+strings.Join(resources.QuerySets(), ", ")+" (default: the mesh found, else process)")
	f.StringArrayVar(&c.promQueries, "prometheus-query", nil, "add or replace a query: COMPONENT.CLASS=PROMQL (repeatable)")
	f.StringArrayVar(&c.promVars, "prometheus-var", nil, "a template variable NAME=VALUE for the queries (repeatable)")
	f.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig `FILE` for the cluster description and --kube-agents (default $KUBECONFIG, ~/.kube/config)")
	f.StringVar(&c.targetNamespace, "target-namespace", "", "namespace of the target's service, when its host name does not say")
	f.BoolVar(&c.noCluster, "no-cluster", false, "do not describe a cluster or detect a mesh")
}

// options turns the flags into capture options; mesh is the mesh found
// (lower case, "" or "none"), which picks the default query set.
func (c *captureFlags) options(mesh string) (smprun.CaptureOptions, error) {
	var o smprun.CaptureOptions
	for _, k := range []struct {
		kind, flag string
		vals       []string
	}{{"pid", "--watch-pid", c.watchPIDs}, {"cmd", "--watch-cmd", c.watchCmds}, {"cgroup", "--watch-cgroup", c.watchCgroups}} {
		for _, v := range k.vals {
			w, err := resources.ParseWatch(k.kind, v)
			if err != nil {
				return o, badInput(fmt.Errorf("%s: %w", k.flag, err))
			}
			o.Watches = append(o.Watches, w)
		}
	}
	if c.prometheus == "" {
		if c.promSet != "" || len(c.promQueries) > 0 || len(c.promVars) > 0 {
			return o, badInput(fmt.Errorf("--prometheus-set, --prometheus-query and --prometheus-var need --prometheus URL"))
		}
		return o, nil
	}
	set := c.promSet
	if set == "" {
		set = "process"
		if mesh == "istio" || mesh == "linkerd" {
			set = mesh
		}
	}
	qs, err := resources.QuerySet(set)
	if err != nil {
		return o, badInput(fmt.Errorf("--prometheus-set: %w", err))
	}
	var over []resources.Query
	for _, s := range c.promQueries {
		q, err := resources.ParseQuery(s)
		if err != nil {
			return o, badInput(fmt.Errorf("--prometheus-query: %w", err))
		}
		over = append(over, q)
	}
	vars := map[string]string{}
	for _, s := range c.promVars {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return o, badInput(fmt.Errorf("--prometheus-var %q: want NAME=VALUE", s))
		}
		vars[k] = v
	}
	o.Prometheus = &resources.Prometheus{URL: c.prometheus, Queries: resources.Override(qs, over), Vars: vars}
	if err := o.Prometheus.Check(); err != nil {
		return o, badInput(fmt.Errorf("--prometheus: %w", err))
	}
	return o, nil
}

// describe returns the series' environment step: the host, and the
// cluster and mesh when a kubeconfig is found.
func (c *captureFlags) describe(targets []string) func(context.Context) smprun.Environment {
	return func(ctx context.Context) smprun.Environment {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		d := envinfo.Describe(ctx, envinfo.Options{
			Kubeconfig: c.kubeconfig, NoCluster: c.noCluster,
			TargetURLs: targets, TargetNamespace: c.targetNamespace,
		})
		return smprun.Environment{Env: d.Env, Mesh: d.Mesh, MeshConfig: d.MeshConfig, Captures: d.Captures}
	}
}
