package kube

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smp-project/smp/agent"
	"github.com/smp-project/smp/internal/kubetest"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/target"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The test binary doubles as the agent a Pod runs: with SMP_TEST_AGENT
// set it parses the Pod's container arguments (in SMP_TEST_AGENT_ARGS, one
// a line) as smp agent does, serves, prints "ready ADDR" and serves until
// killed.
func TestMain(m *testing.M) {
	if os.Getenv("SMP_TEST_AGENT") != "" {
		os.Exit(agentProcess(strings.Split(os.Getenv("SMP_TEST_AGENT_ARGS"), "\n")))
	}
	os.Exit(m.Run())
}

type prefixes []netip.Prefix

func (p *prefixes) String() string { return fmt.Sprint(*p) }
func (p *prefixes) Set(s string) error {
	v, err := netip.ParsePrefix(s)
	*p = append(*p, v)
	return err
}

// agentProcess serves an agent from smp agent's arguments; an argument
// it does not know fails it, so that the launcher cannot pass what the
// real command would refuse without this test noticing.
func agentProcess(args []string) int {
	if len(args) == 0 || args[0] != "agent" {
		fmt.Fprintf(os.Stderr, "not an agent command: %q\n", args)
		return 2
	}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	listen := fs.String("listen", "", "")
	var cfg agent.Config
	fs.StringVar(&cfg.CertFile, "cert", "", "")
	fs.StringVar(&cfg.KeyFile, "key", "", "")
	fs.StringVar(&cfg.ClientCAFile, "client-ca", "", "")
	fs.DurationVar(&cfg.MaxDuration, "max-duration", time.Hour, "")
	var allow prefixes
	fs.Var(&allow, "allow", "")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg.Allow = allow
	srv, err := agent.NewServer(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Printf("ready %s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// agentCommand runs the test binary as the agent a Pod runs.
func agentCommand(args []string) *exec.Cmd {
	self, _ := os.Executable()
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), "SMP_TEST_AGENT=1", "SMP_TEST_AGENT_ARGS="+strings.Join(args, "\n"))
	return cmd
}

// cluster is an API server with the Job and garbage collector controllers.
type cluster struct {
	env    *envtest.Environment
	client kubernetes.Interface
	opts   Options // Rest set
}

func startCluster(t *testing.T) *cluster {
	env, cfg := kubetest.StartWithControllers(t, "job-controller", "garbage-collector-controller")
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{env: env, client: client, opts: Options{Rest: cfg}}
}

func (c *cluster) namespace(t *testing.T, name string) {
	t.Helper()
	_, err := c.client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// freePort is a port free on loopback now, for the agents to share on
// their distinct addresses.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// gone checks that nothing of the launch is left: no Job, Service or
// Secret at once, and no Pod (the garbage collector's work) within 30 s.
func (c *cluster) gone(t *testing.T, l *Launcher) {
	t.Helper()
	ctx := context.Background()
	ns, name := l.Namespace(), l.Name()
	if _, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("job %s: want not found, got %v", name, err)
	}
	if _, err := c.client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("service %s: want not found, got %v", name, err)
	}
	if _, err := c.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("secret %s: want not found, got %v", name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelInstance + "=" + name})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d pods of %s left 30 s after the cleanup", len(pods.Items), name)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func startTarget(t *testing.T) (*target.Server, string) {
	t.Helper()
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, "http://" + srv.Addrs().HTTP + "/"
}

func testConfig(url string, rps int64, d time.Duration) *spec.PerformanceTestConfig {
	return &spec.PerformanceTestConfig{Duration: d.String(), Clients: []*spec.PerformanceTestConfig_Client{
		{Connections: 2, Rps: rps, EndpointUrls: []string{url}}}}
}

func TestKubeAgents(t *testing.T) {
	c := startCluster(t)
	srv, url := startTarget(t)
	allow, err := TargetPrefixes(context.Background(), []string{url})
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}; !slices.Equal(allow, want) {
		t.Fatalf("target prefixes %v, want %v", allow, want)
	}

	t.Run("run", func(t *testing.T) {
		c.namespace(t, "run")
		nd := kubetest.StartNode(t, c.client, "run", false, agentCommand)
		o := c.opts
		o.Namespace, o.Agents, o.Image, o.Allow, o.Port = "run", 3, "smp:test", allow, freePort(t)
		o.NodeSelector = map[string]string{"pool": "load"}
		o.Resources = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")}
		o.ReadyTimeout = time.Minute
		o.Log = func(s string) { t.Log(s) }
		l, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close(context.Background())
		ctx := context.Background()
		addrs, err := l.Launch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		launched := time.Now()
		pods, running, _, readyAt := nd.Stats()
		if pods != 3 || running != 3 {
			t.Errorf("the node saw %d pods and runs %d agents, want 3 and 3", pods, running)
		}
		if launched.Before(readyAt) {
			t.Errorf("Launch returned %v before the last agent listened", readyAt.Sub(launched))
		}
		for k, a := range addrs {
			if want := net.JoinHostPort(fmt.Sprintf("127.0.0.%d", 2+k), strconv.Itoa(o.Port)); a != want {
				t.Errorf("agent %d at %s, want %s (its pod IP, in index order)", k, a, want)
			}
		}
		checkObjects(t, c.client, l, o)

		// Without the run's client certificate the agents refuse.
		co := agent.Coordinator{Agents: addrs, Insecure: true}
		if _, err := co.Run(ctx, testConfig(url, 100, time.Second), smprun.PlanOptions{}); err == nil {
			t.Error("an agent accepted a coordinator without the run's client certificate")
		}
		if n := srv.Stats().RequestsTotal; n != 0 {
			t.Fatalf("the target saw %d requests from a refused coordinator", n)
		}

		run := l.Runner(agent.Coordinator{})
		res, err := run(ctx, testConfig(url, 600, 2*time.Second), smprun.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, g := range res.Generators {
			if g.Result == nil {
				t.Fatalf("agent %s has no result: %s", g.Address, g.Note)
			}
			sum += g.Result.Total.Requests
		}
		if len(res.Generators) != 3 || res.Total.Requests != sum || sum != 1200 || res.Total.Errors != 0 {
			t.Errorf("%d agents, merged %d requests (%d errors), the agents' sum %d; want 3 agents and 1200 requests", len(res.Generators), res.Total.Requests, res.Total.Errors, sum)
		}
		if seen := int64(srv.Stats().RequestsTotal); seen != sum+3 {
			t.Errorf("the target saw %d requests, the agents sent %d (+3 probes)", seen, sum)
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		c.gone(t, l)
		nd.WaitKilled(t, 3)
		if _, err := l.Launch(ctx); err != nil {
			t.Errorf("Launch after a successful launch and Close: %v (want the first answer again)", err)
		}
	})

	t.Run("least privilege", func(t *testing.T) {
		// The launcher as the service account of deploy/kube-agents-rbac.yaml.
		const ns = "rbac"
		c.namespace(t, ns)
		applyRBAC(t, c.client, ns)
		user, err := c.env.AddUser(envtest.User{Name: "system:serviceaccount:" + ns + ":smp",
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		kubetest.StartNode(t, c.client, ns, false, agentCommand)
		o := c.opts
		o.Rest, o.Namespace, o.Agents, o.Allow, o.Port = user.Config(), ns, 2, allow, freePort(t)
		l, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close(context.Background())
		res, err := l.Runner(agent.Coordinator{})(context.Background(), testConfig(url, 200, time.Second), smprun.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total.Requests != 200 {
			t.Errorf("%d requests, want 200", res.Total.Requests)
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		c.gone(t, l)
		// and nothing beyond: the account cannot read Secrets.
		other, err := kubernetes.NewForConfig(user.Config())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.CoreV1().Secrets(ns).List(context.Background(), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("listing Secrets as smp: %v, want forbidden", err)
		}
	})

	t.Run("run fails", func(t *testing.T) {
		c.namespace(t, "fails")
		kubetest.StartNode(t, c.client, "fails", false, agentCommand)
		o := c.opts
		// The agents may send only to 192.0.2.0/24: the run on 127.0.0.1
		// is refused once they are ready.
		o.Namespace, o.Agents, o.Allow, o.Port = "fails", 2, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, freePort(t)
		l, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		before := srv.Stats().RequestsTotal
		_, err = l.Runner(agent.Coordinator{})(context.Background(), testConfig(url, 100, time.Second), smprun.PlanOptions{})
		if !errors.Is(err, load.ErrInvalid) || !strings.Contains(err.Error(), "outside the networks") {
			t.Errorf("run: %v, want the agents' refusal", err)
		}
		if n := srv.Stats().RequestsTotal - before; n != 0 {
			t.Errorf("the target saw %d requests", n)
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		c.gone(t, l)
	})

	t.Run("pod fails", func(t *testing.T) {
		c.namespace(t, "podfails")
		kubetest.StartNode(t, c.client, "podfails", true, agentCommand)
		o := c.opts
		o.Namespace, o.Agents, o.Allow = "podfails", 2, allow
		l, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = l.Launch(context.Background())
		if err == nil || !strings.Contains(err.Error(), "the test's node failed it") {
			t.Errorf("launch: %v, want the failed pod's message", err)
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("a failed pod was noticed after %v", d)
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		c.gone(t, l)
	})

	t.Run("cancel while waiting", func(t *testing.T) {
		c.namespace(t, "stuck") // no node: the Pods stay Pending
		o := c.opts
		o.Namespace, o.Agents, o.Allow = "stuck", 2, allow
		l, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		go func() {
			// Cancel once the Job controller has made the Pods.
			for range 300 {
				pods, err := c.client.CoreV1().Pods("stuck").List(ctx, metav1.ListOptions{LabelSelector: LabelInstance + "=" + l.Name()})
				if err == nil && len(pods.Items) == 2 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			cancel(errors.New("interrupted (Ctrl-C)"))
		}()
		_, err = l.Launch(ctx)
		if err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("launch: %v, want interrupted", err)
		}
		if err := l.Close(ctx); err != nil { // a cancelled context: Close must still work
			t.Fatal(err)
		}
		c.gone(t, l)
	})

	t.Run("not ready in time", func(t *testing.T) {
		c.namespace(t, "pending") // no node: the Pods stay Pending
		o := c.opts
		o.Namespace, o.Agents, o.Allow, o.ReadyTimeout = "pending", 2, allow, 2*time.Second
		l, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Launch(context.Background())
		for _, want := range []string{"not ready within 2s", l.Name() + "-0", ": Pending", "describe job " + l.Name()} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("launch: %v, want %q in it", err, want)
			}
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		c.gone(t, l)
	})

	t.Run("cancel while running", func(t *testing.T) {
		c.namespace(t, "cancel")
		nd := kubetest.StartNode(t, c.client, "cancel", false, agentCommand)
		o := c.opts
		o.Namespace, o.Agents, o.Allow, o.Port = "cancel", 2, allow, freePort(t)
		l, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancelCause(context.Background())
		run := l.Runner(agent.Coordinator{})
		var progressed sync.Once
		started := make(chan struct{})
		go func() {
			select {
			case <-started:
			case <-time.After(15 * time.Second): // the checks below then fail
			}
			time.Sleep(time.Second)
			cancel(errors.New("interrupted (Ctrl-C)"))
		}()
		res, err := run(ctx, testConfig(url, 200, time.Minute), smprun.PlanOptions{Progress: func(p load.Progress) {
			if p.Requests > 0 {
				progressed.Do(func() { close(started) })
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Partial || res.Total.Requests == 0 || res.Total.Requests > 200*10 {
			t.Errorf("partial %v (%s), %d requests: want a partial result of a second or so", res.Partial, res.PartialReason, res.Total.Requests)
		}
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		c.gone(t, l)
		nd.WaitKilled(t, 2)
	})
}

// applyRBAC creates the objects of deploy/kube-agents-rbac.yaml in ns.
func applyRBAC(t *testing.T, client kubernetes.Interface, ns string) {
	t.Helper()
	b, err := os.ReadFile("../../deploy/kube-agents-rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n := 0
	for _, doc := range strings.Split(string(b), "\n---\n") {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			_, err = client.CoreV1().ServiceAccounts(ns).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			_, err = client.RbacV1().Roles(ns).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			// The subject's namespace is left out: a RoleBinding's
			// service account is then of the binding's namespace.
			_, err = client.RbacV1().RoleBindings(ns).Create(ctx, o, metav1.CreateOptions{})
		default:
			t.Fatalf("unexpected %T in the RBAC file", obj)
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d objects in the RBAC file, want 3", n)
	}
}

// checkObjects checks the Job, Service and Secret of a launch.
func checkObjects(t *testing.T, client kubernetes.Interface, l *Launcher, o Options) {
	t.Helper()
	ctx := context.Background()
	ns, name := l.Namespace(), l.Name()
	job, err := client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != int32(o.Agents) ||
		*s.Parallelism != int32(o.Agents) || *s.Suspend || *s.BackoffLimit != 0 || s.ActiveDeadlineSeconds == nil {
		t.Errorf("job spec: mode %v completions %d parallelism %d suspend %v backoff %d deadline %v",
			s.CompletionMode, *s.Completions, *s.Parallelism, *s.Suspend, *s.BackoffLimit, s.ActiveDeadlineSeconds)
	}
	pod := s.Template.Spec
	if pod.Subdomain != name || pod.NodeSelector["pool"] != "load" || pod.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("pod template: subdomain %q, node selector %v, restart %s", pod.Subdomain, pod.NodeSelector, pod.RestartPolicy)
	}
	ctr := pod.Containers[0]
	if ctr.Image != o.Image || !ctr.Resources.Limits.Cpu().Equal(resource.MustParse("500m")) ||
		!ctr.Resources.Requests.Memory().Equal(resource.MustParse("128Mi")) {
		t.Errorf("container: image %s, resources %v", ctr.Image, ctr.Resources)
	}
	for _, want := range []string{"agent", "--client-ca=" + CertDir + "/ca.crt", "--allow=127.0.0.1/32", "--listen=:" + strconv.Itoa(o.Port)} {
		if !slices.Contains(ctr.Args, want) {
			t.Errorf("container args %q lack %q", ctr.Args, want)
		}
	}
	if v := pod.Volumes[0].Secret; v == nil || v.SecretName != name {
		t.Errorf("volumes %v: want the Secret %s", pod.Volumes, name)
	}

	svc, err := client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || svc.Spec.Selector[LabelInstance] != name || len(svc.Spec.Ports) != 1 ||
		svc.Spec.Ports[0].Port != int32(o.Port) {
		t.Errorf("service: cluster IP %q, selector %v, ports %v", svc.Spec.ClusterIP, svc.Spec.Selector, svc.Spec.Ports)
	}

	sec, err := client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []metav1.Object{svc, sec} {
		if refs := obj.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != job.UID {
			t.Errorf("%s: owners %v, want the Job", obj.GetName(), refs)
		}
	}
	if sec.Type != corev1.SecretTypeTLS {
		t.Errorf("secret type %s", sec.Type)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(sec.Data["ca.crt"]) {
		t.Fatal("ca.crt holds no certificate")
	}
	blk, _ := pem.Decode(sec.Data[corev1.TLSCertKey])
	if blk == nil {
		t.Fatal("tls.crt holds no certificate")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: ServerName}); err != nil {
		t.Errorf("the agents' certificate does not verify against the run's CA for %s: %v", ServerName, err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: ServerName, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("the agents' certificate is good as a client certificate")
	}
	if _, ok := sec.Data["ca.key"]; ok || len(sec.Data) != 3 {
		t.Errorf("secret keys %v, want tls.crt, tls.key and ca.crt only", keys(sec.Data))
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
