package envinfo

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/smp-project/smp/spec"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// signature is how a mesh shows in a cluster, as its own manifests install
// it: control-plane workloads (deployment or daemonset names), API groups
// of its CRDs, namespace labels or annotations that turn injection on, and
// the name of its sidecar container (with an image hint where the name is
// shared: OSM's and App Mesh's are both "envoy").
type signature struct {
	name          string
	typ           spec.ServiceMesh_Type
	controlPlane  []string // the first is the one whose image gives the version
	groups        []string
	injection     []string // label or annotation keys, "key=value" to need a value
	sidecar       string
	sidecarImage  string
	alwaysOnMTLS  bool
	mtlsReadFrom  string // "istio" or "kuma": where the mode is read
	proxyImageKey string // container of the control plane whose image is the version
}

var signatures = []signature{
	{name: "istio", typ: spec.ServiceMesh_ISTIO, controlPlane: []string{"istiod"}, groups: []string{"networking.istio.io", "security.istio.io"},
		injection: []string{"istio-injection=enabled", "istio.io/rev"}, sidecar: "istio-proxy", mtlsReadFrom: "istio"},
	{name: "linkerd", typ: spec.ServiceMesh_LINKERD, controlPlane: []string{"linkerd-destination", "linkerd-identity", "linkerd-proxy-injector"},
		groups: []string{"policy.linkerd.io", "linkerd.io"}, injection: []string{"linkerd.io/inject=enabled"}, sidecar: "linkerd-proxy", alwaysOnMTLS: true,
		proxyImageKey: "destination"},
	{name: "consul", typ: spec.ServiceMesh_CONSUL, controlPlane: []string{"consul-connect-injector", "consul-server"}, groups: []string{"consul.hashicorp.com"},
		injection: []string{"consul.hashicorp.com/connect-inject=true"}, sidecar: "consul-dataplane"},
	{name: "kuma", typ: spec.ServiceMesh_KUMA, controlPlane: []string{"kuma-control-plane"}, groups: []string{"kuma.io"},
		injection: []string{"kuma.io/sidecar-injection=enabled"}, sidecar: "kuma-sidecar", mtlsReadFrom: "kuma"},
	{name: "cilium", typ: spec.ServiceMesh_CILIUM_SERVICE_MESH, controlPlane: []string{"cilium", "cilium-operator"}, groups: []string{"cilium.io"}},
	{name: "osm", typ: spec.ServiceMesh_OPEN_SERVICE_MESH, controlPlane: []string{"osm-controller", "osm-injector"},
		groups: []string{"config.openservicemesh.io", "policy.openservicemesh.io"}, injection: []string{"openservicemesh.io/monitored-by"},
		sidecar: "envoy", sidecarImage: "envoyproxy/envoy", alwaysOnMTLS: true},
	{name: "nginx-service-mesh", typ: spec.ServiceMesh_NGINX_SERVICE_MESH, controlPlane: []string{"nginx-mesh-controller", "nginx-mesh-api"},
		groups: []string{"specs.smi.nginx.com"}, injection: []string{"injector.nsm.nginx.com/auto-inject=enabled"}, sidecar: "nginx-mesh-sidecar"},
	{name: "traefik-mesh", typ: spec.ServiceMesh_TRAEFIK_MESH, controlPlane: []string{"traefik-mesh-controller", "traefik-mesh-proxy"}},
	{name: "app-mesh", typ: spec.ServiceMesh_APP_MESH, controlPlane: []string{"appmesh-controller"}, groups: []string{"appmesh.k8s.aws"},
		injection: []string{"appmesh.k8s.aws/sidecarInjectorWebhook=enabled"}, sidecar: "envoy", sidecarImage: "aws-appmesh-envoy"},
}

// Detection is what mesh detection found.
type Detection struct {
	// Name is the mesh found ("istio"...) or "none".
	Name     string
	Type     spec.ServiceMesh_Type
	Version  string
	MTLSMode string
	MTLS     bool
	// ControlPlane counts the control plane's replicas, Sidecars the pods
	// that carry the mesh's sidecar.
	ControlPlane, Sidecars int
	Evidence               []string
	// Others are further meshes with evidence (a cluster mid-migration).
	Others []string
	// Limits say what the credentials could not read.
	Limits []string
}

// Mesh is the detection as SMP's ServiceMesh; nil for "none".
func (d *Detection) Mesh() *spec.ServiceMesh {
	if d.Name == "none" {
		return nil
	}
	return &spec.ServiceMesh{Type: d.Type, Version: d.Version}
}

// Config is the detection as SMP's ServiceMeshConfig.
func (d *Detection) Config() *spec.ServiceMeshConfig {
	c := &spec.ServiceMeshConfig{Detected: d.Name, MtlsMode: d.MTLSMode, MtlsEnabled: d.MTLS, Evidence: d.Evidence, MeshBuild: d.Version}
	if d.Name != "none" {
		c.MeshType = d.Mesh()
		c.Sidecar = &spec.ServiceMeshConfig_Sidecar{Count: int32(d.Sidecars)}
		c.MeshControlPlane = &spec.ServiceMeshConfig_MeshControlPlane{Count: int32(d.ControlPlane), Sidecars: int32(d.Sidecars)}
	}
	return c
}

func (d *Detection) capture() *spec.Capture {
	c := &spec.Capture{Name: "mesh", Status: "ok"}
	if len(d.Limits) > 0 {
		c.Status = "partial"
		c.Reason = "detected " + d.Name + " from what these credentials may read; " + strings.Join(d.Limits, "; ")
	}
	return c
}

// workloadInfo is a deployment or daemonset reduced to what detection uses.
type workloadInfo struct {
	kind, namespace, name string
	replicas              int
	images                map[string]string // container name -> image
}

// detect looks for every mesh's signature through the API. Each list that
// the credentials may not make is noted in Limits, and detection goes on
// with the rest.
func (c *client) detect(ctx context.Context) *Detection {
	d := &Detection{Name: "none"}
	var works []workloadInfo
	if list, err := c.kube.AppsV1().Deployments("").List(ctx, metav1.ListOptions{}); err != nil {
		d.Limits = append(d.Limits, denied("list deployments", err))
	} else {
		for _, x := range list.Items {
			r := 1
			if x.Spec.Replicas != nil {
				r = int(*x.Spec.Replicas)
			}
			works = append(works, workloadInfo{"deployment", x.Namespace, x.Name, r, images(x.Spec.Template.Spec.Containers)})
		}
	}
	if list, err := c.kube.AppsV1().DaemonSets("").List(ctx, metav1.ListOptions{}); err != nil {
		d.Limits = append(d.Limits, denied("list daemonsets", err))
	} else {
		for _, x := range list.Items {
			works = append(works, workloadInfo{"daemonset", x.Namespace, x.Name, int(x.Status.DesiredNumberScheduled), images(x.Spec.Template.Spec.Containers)})
		}
	}
	groups := map[string]bool{}
	if gl, err := c.kube.Discovery().ServerGroups(); err != nil {
		d.Limits = append(d.Limits, denied("discover API groups", err))
	} else {
		for _, g := range gl.Groups {
			groups[g.Name] = true
		}
	}
	var namespaces []corev1.Namespace
	if list, err := c.kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		d.Limits = append(d.Limits, denied("list namespaces", err))
	} else {
		namespaces = list.Items
	}
	var pods []corev1.Pod
	if list, err := c.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
		d.Limits = append(d.Limits, denied("list pods (sidecars are not counted)", err))
	} else {
		pods = list.Items
	}

	type found struct {
		sig      signature
		evidence []string
		cp       []workloadInfo
		sidecars int
	}
	var hits []found
	for _, s := range signatures {
		f := found{sig: s}
		for _, w := range works {
			if slices.Contains(s.controlPlane, w.name) {
				f.cp = append(f.cp, w)
				f.evidence = append(f.evidence, fmt.Sprintf("%s %s/%s", w.kind, w.namespace, w.name))
			}
		}
		for _, g := range s.groups {
			if groups[g] {
				f.evidence = append(f.evidence, "API group "+g)
			}
		}
		for _, ns := range namespaces {
			for _, key := range s.injection {
				if hasMark(ns.Labels, key) || hasMark(ns.Annotations, key) {
					f.evidence = append(f.evidence, fmt.Sprintf("namespace %s: %s", ns.Name, key))
				}
			}
		}
		for _, p := range pods {
			if s.sidecar != "" && hasSidecar(p, s.sidecar, s.sidecarImage) {
				f.sidecars++
			}
		}
		if f.sidecars > 0 {
			f.evidence = append(f.evidence, fmt.Sprintf("%d pods with a %s sidecar", f.sidecars, s.sidecar))
		}
		if len(f.evidence) > 0 {
			hits = append(hits, f)
		}
	}
	if len(hits) == 0 {
		return d
	}
	// The mesh with the most evidence; a control plane outweighs the rest.
	weight := func(f found) int { return 10*len(f.cp) + len(f.evidence) }
	slices.SortStableFunc(hits, func(a, b found) int { return weight(b) - weight(a) })
	best := hits[0]
	for _, h := range hits[1:] {
		d.Others = append(d.Others, h.sig.name)
	}
	d.Name, d.Type, d.Evidence, d.Sidecars = best.sig.name, best.sig.typ, best.evidence, best.sidecars
	for _, h := range hits[1:] {
		d.Evidence = append(d.Evidence, "also "+h.sig.name+": "+strings.Join(h.evidence, ", "))
	}
	for _, w := range best.cp {
		d.ControlPlane += w.replicas
	}
	d.Version = versionOf(best.sig, best.cp)
	switch {
	case best.sig.alwaysOnMTLS:
		d.MTLSMode, d.MTLS = "always on", true
	case best.sig.mtlsReadFrom == "istio":
		d.MTLSMode, d.MTLS = c.istioMTLS(ctx, d)
	case best.sig.mtlsReadFrom == "kuma":
		d.MTLSMode, d.MTLS = c.kumaMTLS(ctx, d)
	}
	return d
}

func images(cs []corev1.Container) map[string]string {
	m := make(map[string]string, len(cs))
	for _, c := range cs {
		m[c.Name] = c.Image
	}
	return m
}

// hasMark reports whether a label or annotation set has key, or key=value.
func hasMark(m map[string]string, mark string) bool {
	k, v, withValue := strings.Cut(mark, "=")
	got, ok := m[k]
	return ok && (!withValue || got == v)
}

func hasSidecar(p corev1.Pod, name, imageHint string) bool {
	for _, cs := range [][]corev1.Container{p.Spec.Containers, p.Spec.InitContainers} {
		for _, c := range cs {
			if c.Name == name && (imageHint == "" || strings.Contains(c.Image, imageHint)) {
				return true
			}
		}
	}
	return false
}

// versionOf reads the version from the tag of the first control-plane
// workload's image: its container named proxyImageKey, else its only or
// first container in name order.
func versionOf(s signature, cp []workloadInfo) string {
	for _, name := range s.controlPlane {
		for _, w := range cp {
			if w.name != name {
				continue
			}
			img, ok := w.images[s.proxyImageKey]
			if !ok {
				names := make([]string, 0, len(w.images))
				for n := range w.images {
					names = append(names, n)
				}
				slices.Sort(names)
				if len(names) > 0 {
					img = w.images[names[0]]
				}
			}
			if t := imageTag(img); t != "" {
				return t
			}
		}
	}
	return ""
}

// imageTag is the tag of an image reference (registry:port/name:tag@digest).
func imageTag(img string) string {
	img, _, _ = strings.Cut(img, "@")
	i := strings.LastIndexByte(img, ':')
	if i < 0 || strings.Contains(img[i:], "/") {
		return ""
	}
	return img[i+1:]
}

// istioMTLS reads the mesh-wide PeerAuthentication (no selector, in the
// root namespace istio-system); Istio's default without one is PERMISSIVE.
func (c *client) istioMTLS(ctx context.Context, d *Detection) (string, bool) {
	for _, v := range []string{"v1", "v1beta1"} {
		gvr := schema.GroupVersionResource{Group: "security.istio.io", Version: v, Resource: "peerauthentications"}
		list, err := c.dyn.Resource(gvr).Namespace("istio-system").List(ctx, metav1.ListOptions{})
		if err != nil {
			if v == "v1beta1" {
				d.Limits = append(d.Limits, denied("list PeerAuthentications (mTLS mode unknown)", err))
			}
			continue
		}
		for _, pa := range list.Items {
			if _, has := pa.Object["spec"].(map[string]any)["selector"]; has {
				continue
			}
			spec, _ := pa.Object["spec"].(map[string]any)
			mtls, _ := spec["mtls"].(map[string]any)
			if mode, _ := mtls["mode"].(string); mode != "" {
				return mode, mode == "STRICT"
			}
		}
		return "PERMISSIVE (default: no mesh-wide PeerAuthentication)", false
	}
	return "", false
}

// kumaMTLS reads the default Mesh's mtls.enabledBackend.
func (c *client) kumaMTLS(ctx context.Context, d *Detection) (string, bool) {
	gvr := schema.GroupVersionResource{Group: "kuma.io", Version: "v1alpha1", Resource: "meshes"}
	m, err := c.dyn.Resource(gvr).Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		d.Limits = append(d.Limits, denied("get the default Kuma Mesh (mTLS mode unknown)", err))
		return "", false
	}
	spec, _ := m.Object["spec"].(map[string]any)
	mtls, _ := spec["mtls"].(map[string]any)
	if b, _ := mtls["enabledBackend"].(string); b != "" {
		return "enabled (backend " + b + ")", true
	}
	return "disabled", false
}
