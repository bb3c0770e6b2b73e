package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/smp-project/smp/agent"
	"github.com/smp-project/smp/agent/kube"
	"github.com/smp-project/smp/smprun"
	"github.com/spf13/cobra"
)

// kubeFlags are smp run's flags for agents launched in Kubernetes.
type kubeFlags struct {
	agents                 int
	namespace, image       string
	nodeSelector, resource []string
	allow                  []string
	port                   int
	readyTimeout           time.Duration
}

const kubeHelp = `Kubernetes: --kube-agents N launches N agents in the cluster of the kubeconfig for the
test and removes them after it (also after Ctrl-C or a failure): an Indexed Job running
smp agent (--image, built from the repository's Dockerfile), a headless Service and a
Secret with certificates made for the run (mutual TLS). The coordinator reaches the
agents by their Pod IPs, so it must run in the cluster or be routed to the Pod network.
Every agent takes a share of every client of the config. The agents may send only to
the targets' addresses as resolved here, unless --agent-allow gives networks.`

func (k *kubeFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&k.agents, "kube-agents", 0, "launch N agents in Kubernetes for the test (an Indexed Job), each a share of the schedule, and delete them after")
	f.StringVar(&k.namespace, "namespace", "", "namespace for --kube-agents (default: the kubeconfig context's, else default)")
	f.StringVar(&k.image, "image", kube.DefaultImage, "container image of the --kube-agents (smp, built from the repository's Dockerfile)")
	f.StringArrayVar(&k.nodeSelector, "node-selector", nil, "run the --kube-agents on nodes with these labels, k=v,... (repeatable)")
	f.StringArrayVar(&k.resource, "resources", nil, "each --kube-agents Pod's requests and limits, e.g. cpu=500m,memory=256Mi (repeatable)")
	f.StringArrayVar(&k.allow, "agent-allow", nil, "networks the --kube-agents may send to, e.g. 10.0.0.0/8 (repeatable; default: the targets' addresses)")
	f.IntVar(&k.port, "kube-agent-port", kube.DefaultPort, "port the --kube-agents listen on in their Pods")
	f.DurationVar(&k.readyTimeout, "kube-ready-timeout", kube.DefaultReadyTimeout, "how long to wait for the --kube-agents to be ready")
}

// launcher checks the flags and prepares the agents' launch (nothing is
// created until the first run); nil without --kube-agents.
func (k *kubeFlags) launcher(cmd *cobra.Command, kubeconfig string, targets []string, vs []smprun.Variant, so smprun.SeriesOptions) (*kube.Launcher, error) {
	set := cmd.Flags().Changed
	if !set("kube-agents") {
		for _, f := range []string{"namespace", "image", "node-selector", "resources", "agent-allow", "kube-agent-port", "kube-ready-timeout"} {
			if set(f) {
				return nil, badInput(fmt.Errorf("--%s goes with --kube-agents", f))
			}
		}
		return nil, nil
	}
	if k.agents < 1 || k.agents > kube.MaxAgents {
		return nil, badInput(fmt.Errorf("--kube-agents %d: want 1 to %d", k.agents, kube.MaxAgents))
	}
	for _, f := range []string{"agents", "agent-ca", "agent-insecure", "agent-cert", "agent-key"} {
		if set(f) {
			return nil, badInput(fmt.Errorf("--%s does not go with --kube-agents, which launches its own agents with certificates made for the run", f))
		}
	}
	if k.image == "" {
		return nil, badInput(errors.New("--image: empty"))
	}
	if k.port < 1 || k.port > 65535 {
		return nil, badInput(fmt.Errorf("--kube-agent-port %d: want 1 to 65535", k.port))
	}
	if k.readyTimeout <= 0 {
		return nil, badInput(fmt.Errorf("--kube-ready-timeout %v: must be positive", k.readyTimeout))
	}
	nodes, err := kube.ParseNodeSelector(k.nodeSelector)
	if err != nil {
		return nil, badInput(fmt.Errorf("--node-selector: %w", err))
	}
	res, err := kube.ParseResources(k.resource)
	if err != nil {
		return nil, badInput(fmt.Errorf("--resources: %w", err))
	}
	var allow []netip.Prefix
	for _, a := range k.allow {
		for _, part := range strings.Split(a, ",") {
			p, err := netip.ParsePrefix(strings.TrimSpace(part))
			if err != nil {
				return nil, badInput(fmt.Errorf("--agent-allow %q: want a network such as 10.0.0.0/8 or 10.1.2.3/32", part))
			}
			allow = append(allow, p.Masked())
		}
	}
	if len(allow) == 0 {
		if allow, err = kube.TargetPrefixes(cmd.Context(), targets); err != nil {
			return nil, badInput(fmt.Errorf("--agent-allow: the agents' allowed networks default to the targets' addresses, but %v: give --agent-allow CIDR", err))
		}
	}
	rest, ns, err := kube.LoadConfig(kubeconfig)
	if err != nil {
		return nil, badInput(fmt.Errorf("--kubeconfig: %w", err))
	}
	if k.namespace != "" {
		ns = k.namespace
	}
	if err := kube.CheckNamespace(ns); err != nil {
		return nil, badInput(fmt.Errorf("--namespace: %w", err))
	}
	stderr := cmd.ErrOrStderr()
	l, err := kube.New(kube.Options{Rest: rest, Namespace: ns, Agents: k.agents, Image: k.image,
		NodeSelector: nodes, Resources: res, Allow: allow, Port: k.port, ReadyTimeout: k.readyTimeout,
		Lifetime: lifetime(vs, so),
		Log:      func(msg string) { fmt.Fprintf(stderr, "smp: kube: %s\n", msg) }})
	if err != nil {
		return nil, badInput(fmt.Errorf("--kube-agents: %w", err))
	}
	return l, nil
}

// lifetime bounds the agents' Job: the series' expected length with room
// to spare, and at least kube.DefaultLifetime. It only matters when the
// coordinator dies without deleting the agents; too short would stop
// them mid-run, so it errs long.
func lifetime(vs []smprun.Variant, so smprun.SeriesOptions) time.Duration {
	total := time.Duration(0)
	for _, v := range vs {
		d, _ := time.ParseDuration(v.Config.GetDuration())
		w, _ := time.ParseDuration(v.Config.GetWarmup())
		total += time.Duration(max(so.Runs, 1)) * (d + w + so.Pause + time.Minute)
	}
	return max(kube.DefaultLifetime, total+time.Hour)
}

// kubeRunner runs each test on the launcher's agents, launched at the
// first run.
func kubeRunner(l *kube.Launcher, stderr io.Writer) smprun.Runner {
	return l.Runner(agent.Coordinator{Notify: func(msg string) { fmt.Fprintf(stderr, "smp: %s\n", msg) }})
}

// closeLauncher deletes the launched agents, saying how to do it by hand
// when that fails.
func closeLauncher(l *kube.Launcher, stderr io.Writer) {
	if err := l.Close(context.Background()); err != nil {
		fmt.Fprintf(stderr, "smp: warning: %v; delete them with: kubectl -n %s delete job,service,secret %s\n", err, l.Namespace(), l.Name())
	}
}
