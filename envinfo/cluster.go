package envinfo

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/smp-project/smp/spec"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

type client struct {
	kube kubernetes.Interface
	dyn  dynamic.Interface
}

func newClient(cfg *rest.Config) (*client, error) {
	cfg.Timeout = requestTimeout
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &client{kube: k, dyn: d}, nil
}

// denied phrases an API error for a capture note: RBAC refusals say what
// the credentials may not do.
func denied(what string, err error) string {
	if apierrors.IsForbidden(err) {
		return "may not " + what + " (forbidden for these credentials)"
	}
	return what + ": " + err.Error()
}

// cluster fills env with the version, nodes and target workloads.
func (c *client) cluster(ctx context.Context, env *spec.EnvironmentConfig, o Options) *spec.Capture {
	cp := &spec.Capture{Name: "cluster", Status: "ok"}
	v, err := c.kube.Discovery().ServerVersion()
	if err != nil {
		cp.Status, cp.Reason = "failed", "cluster unreachable: "+err.Error()
		return cp
	}
	env.KubernetesVersion = v.GitVersion
	var notes []string
	if nodes, err := c.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		notes = append(notes, denied("list nodes", err))
	} else {
		for _, n := range nodes.Items {
			env.Nodes = append(env.Nodes, nodeOf(n))
		}
	}
	for _, u := range o.TargetURLs {
		w, note := c.workload(ctx, u, o.TargetNamespace)
		if note != "" {
			notes = append(notes, note)
		}
		if w != nil {
			env.IndividualWorkloads = append(env.IndividualWorkloads, w)
		}
	}
	if len(notes) > 0 {
		cp.Status, cp.Reason = "partial", strings.Join(notes, "; ")
	}
	return cp
}

func nodeOf(n corev1.Node) *spec.EnvironmentConfig_Node {
	typ := n.Labels["node.kubernetes.io/instance-type"]
	if typ == "" {
		typ = n.Labels["beta.kubernetes.io/instance-type"]
	}
	if typ == "" {
		typ = n.Status.NodeInfo.OSImage
	}
	out := &spec.EnvironmentConfig_Node{Type: typ}
	if q, ok := n.Status.Capacity[corev1.ResourceCPU]; ok {
		out.Cores = int32(q.Value())
	}
	if q, ok := n.Status.Capacity[corev1.ResourceMemory]; ok {
		out.MemMb = q.Value() >> 20
	}
	return out
}

// workload finds the service a target URL's host names (name,
// name.namespace, name.namespace.svc[.cluster.local], or a cluster IP) and
// the pods behind it, with their summed requests.
func (c *client) workload(ctx context.Context, rawURL, defaultNS string) (*spec.EnvironmentConfig_IndividualWorkload, string) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return nil, ""
	}
	host := u.Hostname()
	if defaultNS == "" {
		defaultNS = "default"
	}
	var svc *corev1.Service
	if ip := net.ParseIP(host); ip != nil {
		list, err := c.kube.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, denied("list services to find "+host, err)
		}
		for i := range list.Items {
			if list.Items[i].Spec.ClusterIP == host {
				svc = &list.Items[i]
			}
		}
		if svc == nil {
			return nil, "target " + host + " is not a service's cluster IP"
		}
	} else {
		parts := strings.Split(strings.TrimSuffix(host, "."), ".")
		name, ns := parts[0], defaultNS
		if len(parts) > 1 && parts[1] != "svc" {
			ns = parts[1]
		}
		svc, err = c.kube.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil, "target " + host + ": no service " + ns + "/" + name
			}
			return nil, denied("get service "+ns+"/"+name, err)
		}
	}
	w := &spec.EnvironmentConfig_IndividualWorkload{Name: svc.Namespace + "/" + svc.Name}
	if len(svc.Spec.Selector) == 0 {
		return w, ""
	}
	pods, err := c.kube.CoreV1().Pods(svc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return w, denied("list pods of "+w.Name, err)
	}
	w.Count = int32(len(pods.Items))
	for _, p := range pods.Items {
		for _, ct := range p.Spec.Containers {
			w.CpuMcores += int32(ct.Resources.Requests.Cpu().MilliValue())
			w.MemMb += int32(ct.Resources.Requests.Memory().Value() >> 20)
		}
	}
	return w, ""
}
