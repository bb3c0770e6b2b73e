package envinfo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/internal/kubetest"
	"github.com/smp-project/smp/spec"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// install is what a mesh's manifests put in a cluster, reduced to what
// detection reads: control-plane workloads with their images, CRDs, an
// injection-enabled namespace and a pod carrying the sidecar.
type install struct {
	ns          string
	deployments map[string]map[string]string // name -> container -> image
	daemonsets  map[string]map[string]string
	crds        []crd
	nsLabels    map[string]string
	nsAnnots    map[string]string
	sidecar     *corev1.Container
	objects     []*unstructured.Unstructured // custom objects, after the CRDs
}

type crd struct {
	group, kind, plural string
	clusterScoped       bool
}

var meshInstalls = []struct {
	name    string
	in      install
	want    spec.ServiceMesh_Type
	version string
	mtls    string
}{
	{"istio", install{
		ns:          "istio-system",
		deployments: map[string]map[string]string{"istiod": {"discovery": "docker.io/istio/pilot:1.24.2"}},
		crds:        []crd{{"security.istio.io", "PeerAuthentication", "peerauthentications", false}, {"networking.istio.io", "VirtualService", "virtualservices", false}},
		nsLabels:    map[string]string{"istio-injection": "enabled"},
		sidecar:     &corev1.Container{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.24.2"},
		objects: []*unstructured.Unstructured{{Object: map[string]any{
			"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
			"metadata": map[string]any{"name": "default", "namespace": "istio-system"},
			"spec":     map[string]any{"mtls": map[string]any{"mode": "STRICT"}},
		}}},
	}, spec.ServiceMesh_ISTIO, "1.24.2", "STRICT"},
	{"linkerd", install{
		ns: "linkerd",
		deployments: map[string]map[string]string{"linkerd-destination": {
			"destination": "cr.l5d.io/linkerd/controller:stable-2.14.10", "linkerd-proxy": "cr.l5d.io/linkerd/proxy:stable-2.14.10"}},
		crds:     []crd{{"policy.linkerd.io", "Server", "servers", false}},
		nsAnnots: map[string]string{"linkerd.io/inject": "enabled"},
		sidecar:  &corev1.Container{Name: "linkerd-proxy", Image: "cr.l5d.io/linkerd/proxy:stable-2.14.10"},
	}, spec.ServiceMesh_LINKERD, "stable-2.14.10", "always on"},
	{"consul", install{
		ns:          "consul",
		deployments: map[string]map[string]string{"consul-connect-injector": {"sidecar-injector": "hashicorp/consul-k8s-control-plane:1.6.1"}},
		crds:        []crd{{"consul.hashicorp.com", "ServiceDefaults", "servicedefaults", false}},
		sidecar:     &corev1.Container{Name: "consul-dataplane", Image: "hashicorp/consul-dataplane:1.6.1"},
	}, spec.ServiceMesh_CONSUL, "1.6.1", ""},
	{"kuma", install{
		ns:          "kuma-system",
		deployments: map[string]map[string]string{"kuma-control-plane": {"control-plane": "docker.io/kumahq/kuma-cp:2.9.3"}},
		crds:        []crd{{"kuma.io", "Mesh", "meshes", true}},
		nsLabels:    map[string]string{"kuma.io/sidecar-injection": "enabled"},
		sidecar:     &corev1.Container{Name: "kuma-sidecar", Image: "docker.io/kumahq/kuma-dp:2.9.3"},
		objects: []*unstructured.Unstructured{{Object: map[string]any{
			"apiVersion": "kuma.io/v1alpha1", "kind": "Mesh", "metadata": map[string]any{"name": "default"},
			"spec": map[string]any{"mtls": map[string]any{"enabledBackend": "ca-1"}},
		}}},
	}, spec.ServiceMesh_KUMA, "2.9.3", "enabled (backend ca-1)"},
	{"cilium", install{
		ns:          "kube-system",
		daemonsets:  map[string]map[string]string{"cilium": {"cilium-agent": "quay.io/cilium/cilium:v1.16.5@sha256:758ca0793f5995bb938a2fa219dcce63dc0b3fa7fc4ce5cc851125281fb7361d"}},
		deployments: map[string]map[string]string{"cilium-operator": {"cilium-operator": "quay.io/cilium/operator-generic:v1.16.5"}},
		crds:        []crd{{"cilium.io", "CiliumNetworkPolicy", "ciliumnetworkpolicies", false}},
	}, spec.ServiceMesh_CILIUM_SERVICE_MESH, "v1.16.5", ""},
	{"osm", install{
		ns:          "osm-system",
		deployments: map[string]map[string]string{"osm-controller": {"osm-controller": "openservicemesh/osm-controller:v1.2.4"}},
		crds:        []crd{{"config.openservicemesh.io", "MeshConfig", "meshconfigs", false}},
		nsLabels:    map[string]string{"openservicemesh.io/monitored-by": "osm"},
		sidecar:     &corev1.Container{Name: "envoy", Image: "envoyproxy/envoy-distroless:v1.22.2"},
	}, spec.ServiceMesh_OPEN_SERVICE_MESH, "v1.2.4", "always on"},
	{"nginx-service-mesh", install{
		ns:          "nginx-mesh",
		deployments: map[string]map[string]string{"nginx-mesh-controller": {"nginx-mesh-controller": "docker-registry.nginx.com/nsm/nginx-mesh-controller:2.0.0"}},
		crds:        []crd{{"specs.smi.nginx.com", "RateLimit", "ratelimits", false}},
		sidecar:     &corev1.Container{Name: "nginx-mesh-sidecar", Image: "docker-registry.nginx.com/nsm/nginx-mesh-sidecar:2.0.0"},
	}, spec.ServiceMesh_NGINX_SERVICE_MESH, "2.0.0", ""},
	{"traefik-mesh", install{
		ns:          "traefik-mesh",
		deployments: map[string]map[string]string{"traefik-mesh-controller": {"traefik-mesh-controller": "traefik/mesh:v1.4.8"}},
		daemonsets:  map[string]map[string]string{"traefik-mesh-proxy": {"traefik-mesh-proxy": "traefik:v2.10"}},
	}, spec.ServiceMesh_TRAEFIK_MESH, "v1.4.8", ""},
	{"app-mesh", install{
		ns:          "appmesh-system",
		deployments: map[string]map[string]string{"appmesh-controller": {"controller": "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/appmesh-controller:v1.13.1"}},
		crds:        []crd{{"appmesh.k8s.aws", "Mesh", "meshes", true}},
		nsLabels:    map[string]string{"appmesh.k8s.aws/sidecarInjectorWebhook": "enabled"},
		sidecar:     &corev1.Container{Name: "envoy", Image: "840364872350.dkr.ecr.us-west-2.amazonaws.com/aws-appmesh-envoy:v1.27.2.0-prod"},
	}, spec.ServiceMesh_APP_MESH, "v1.13.1", ""},
}

func (in install) apply(t *testing.T, cfg *rest.Config) {
	t.Helper()
	ctx := context.Background()
	kc := kubernetes.NewForConfigOrDie(cfg)
	dc := dynamic.NewForConfigOrDie(cfg)
	mustNS := func(name string, labels, annots map[string]string) {
		_, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annots}}, metav1.CreateOptions{})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
	}
	mustNS(in.ns, nil, nil)
	containers := func(m map[string]string) []corev1.Container {
		var cs []corev1.Container
		for n, img := range m {
			cs = append(cs, corev1.Container{Name: n, Image: img})
		}
		return cs
	}
	sel := func(name string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	}
	tmpl := func(name string, m map[string]string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: corev1.PodSpec{Containers: containers(m)}}
	}
	for name, m := range in.deployments {
		two := int32(2)
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in.ns}, Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: sel(name), Template: tmpl(name, m)}}
		if _, err := kc.AppsV1().Deployments(in.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for name, m := range in.daemonsets {
		d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in.ns}, Spec: appsv1.DaemonSetSpec{Selector: sel(name), Template: tmpl(name, m)}}
		if _, err := kc.AppsV1().DaemonSets(in.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, c := range in.crds {
		scope := "Namespaced"
		if c.clusterScoped {
			scope = "Cluster"
		}
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": c.plural + "." + c.group},
			"spec": map[string]any{
				"group": c.group, "scope": scope,
				"names": map[string]any{"kind": c.kind, "plural": c.plural, "singular": strings.ToLower(c.kind), "listKind": c.kind + "List"},
				"versions": []any{
					versionOf1("v1", true), versionOf1("v1alpha1", false), versionOf1("v1beta1", false),
				},
			},
		}}
		if _, err := dc.Resource(crdGVR).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range in.objects {
		gv, _ := schema.ParseGroupVersion(o.GetAPIVersion())
		var plural string
		for _, c := range in.crds {
			if c.group == gv.Group && c.kind == o.GetKind() {
				plural = c.plural
			}
		}
		r := dc.Resource(gv.WithResource(plural))
		var ri dynamic.ResourceInterface = r
		if o.GetNamespace() != "" {
			ri = r.Namespace(o.GetNamespace())
		}
		// The CRD takes a moment to be served.
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, err := ri.Create(ctx, o, metav1.CreateOptions{})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("create %s: %v", o.GetKind(), err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if in.sidecar != nil || in.nsLabels != nil || in.nsAnnots != nil {
		mustNS("app", in.nsLabels, in.nsAnnots)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "app"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}}}
		if in.sidecar != nil {
			pod.Spec.Containers = append(pod.Spec.Containers, *in.sidecar)
		}
		if _, err := kc.CoreV1().Pods("app").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// versionOf1 is one served version of a CRD with an open schema.
func versionOf1(name string, storage bool) map[string]any {
	return map[string]any{"name": name, "served": true, "storage": storage, "schema": map[string]any{
		"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
}

func detectWith(t *testing.T, cfg *rest.Config) *Detection {
	t.Helper()
	c, err := newClient(rest.CopyConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return c.detect(context.Background())
}

// TestDetectMeshes installs each mesh's footprint on a fresh real API
// server and checks the mesh, its version, mTLS mode and counts; a clean
// cluster is "none".
func TestDetectMeshes(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts an API server per mesh")
	}
	t.Run("none", func(t *testing.T) {
		_, cfg := kubetest.Start(t)
		d := detectWith(t, cfg)
		if d.Name != "none" || d.Mesh() != nil || d.Config().GetDetected() != "none" || len(d.Limits) != 0 {
			t.Fatalf("clean cluster: %+v", d)
		}
	})
	for _, m := range meshInstalls {
		t.Run(m.name, func(t *testing.T) {
			_, cfg := kubetest.Start(t)
			m.in.apply(t, cfg)
			d := detectWith(t, cfg)
			if d.Name != m.name || d.Type != m.want || d.Version != m.version || d.MTLSMode != m.mtls {
				t.Fatalf("detected %q %v version %q mtls %q, want %q %v %q %q (evidence %v, limits %v)",
					d.Name, d.Type, d.Version, d.MTLSMode, m.name, m.want, m.version, m.mtls, d.Evidence, d.Limits)
			}
			if len(d.Limits) != 0 || len(d.Others) != 0 {
				t.Errorf("limits %v, others %v", d.Limits, d.Others)
			}
			if m.in.sidecar != nil && d.Sidecars != 1 {
				t.Errorf("sidecars %d, want 1 (evidence %v)", d.Sidecars, d.Evidence)
			}
			if d.ControlPlane < 2 {
				t.Errorf("control plane count %d, want at least the deployment's 2 replicas", d.ControlPlane)
			}
			c := d.Config()
			if c.GetMeshType().GetType() != m.want || c.GetMeshControlPlane().GetCount() != int32(d.ControlPlane) {
				t.Errorf("mesh config %v", c)
			}
		})
	}
}

// TestDetectWithLimitedCredentials: a user who may list deployments,
// daemonsets and namespaces, but not pods or Istio's policies, still finds
// Istio and its version, and the capture says what could not be read.
func TestDetectWithLimitedCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts an API server")
	}
	env, cfg := kubetest.Start(t)
	meshInstalls[0].in.apply(t, cfg)
	kc := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "smp-limited"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "daemonsets"}, Verbs: []string{"list"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list"}},
	}}
	if _, err := kc.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "smp-limited"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "smp-limited"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "limited", APIGroup: "rbac.authorization.k8s.io"}}}
	if _, err := kc.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	user, err := env.AddUser(envtest.User{Name: "limited"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := detectWith(t, user.Config())
	if d.Name != "istio" || d.Version != "1.24.2" {
		t.Fatalf("detected %q %q with limited credentials, want istio 1.24.2 (limits %v)", d.Name, d.Version, d.Limits)
	}
	joined := strings.Join(d.Limits, "; ")
	for _, want := range []string{"may not list pods", "may not list PeerAuthentications"} {
		if !strings.Contains(joined, want) {
			t.Errorf("limits %q lack %q", joined, want)
		}
	}
	if c := d.capture(); c.GetStatus() != "partial" || !strings.Contains(c.GetReason(), "forbidden") {
		t.Errorf("capture %v, want partial saying forbidden", c)
	}
	if d.Sidecars != 0 || d.MTLS {
		t.Errorf("sidecars %d, mtls %v: read what may not be read", d.Sidecars, d.MTLS)
	}
}

// TestDescribeCluster: the version, a node's type, cores and memory, and the
// workload behind a target URL (service shop/web, two pods), through the
// same Describe a run uses.
func TestDescribeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts an API server")
	}
	_, cfg := kubetest.Start(t)
	kc := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	node, err := kc.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1",
		Labels: map[string]string{"node.kubernetes.io/instance-type": "m5.xlarge"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi")}
	if _, err := kc.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 8080}}}}
	if _, err := kc.CoreV1().Services("shop").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web-1", "web-2", "other"} {
		app := "web"
		if name == "other" {
			app = "other"
		}
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}}
		if _, err := kc.CoreV1().Pods("shop").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	d := Describe(ctx, Options{Rest: cfg, TargetURLs: []string{"http://web.shop.svc.cluster.local:8080/", "http://missing:80/"}})
	env := d.Env
	if env.GetKubernetesVersion() != kubetest.KubeVersion {
		t.Errorf("version %q, want %s", env.GetKubernetesVersion(), kubetest.KubeVersion)
	}
	if len(env.GetNodes()) != 1 || env.GetNodes()[0].GetType() != "m5.xlarge" || env.GetNodes()[0].GetCores() != 4 || env.GetNodes()[0].GetMemMb() != 16384 {
		t.Errorf("nodes %v", env.GetNodes())
	}
	ws := env.GetIndividualWorkloads()
	if len(ws) != 1 || ws[0].GetName() != "shop/web" || ws[0].GetCount() != 2 || ws[0].GetCpuMcores() != 500 || ws[0].GetMemMb() != 128 {
		t.Errorf("workloads %v, want shop/web with 2 pods, 500 mcores, 128 MiB", ws)
	}
	var cluster, mesh *spec.Capture
	for _, c := range d.Captures {
		switch c.GetName() {
		case "cluster":
			cluster = c
		case "mesh":
			mesh = c
		}
	}
	if cluster.GetStatus() != "partial" || !strings.Contains(cluster.GetReason(), "no service default/missing") {
		t.Errorf("cluster capture %v, want partial naming the missing service", cluster)
	}
	if mesh.GetStatus() != "ok" || d.MeshConfig.GetDetected() != "none" {
		t.Errorf("mesh capture %v, detected %q", mesh, d.MeshConfig.GetDetected())
	}
}
