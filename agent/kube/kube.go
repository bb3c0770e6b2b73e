// Package kube launches smp agents in a Kubernetes cluster for one
// distributed run (smp run --kube-agents N) and removes them afterwards.
//
// A launch creates, in one namespace and under one generated name:
//   - a Job in Indexed completion mode with completions = parallelism = N,
//     each Pod running `smp agent` (the image the repository's Dockerfile
//     builds) with mutual TLS only, and the networks its targets may be in;
//   - a Secret of type kubernetes.io/tls holding the agents' certificate and
//     key and the run's CA (ca.crt), mounted into the Pods as files;
//   - a headless Service selecting the agents, so that agent k also has
//     the DNS name NAME-k.NAME.NAMESPACE.svc.
//
// The certificates are made for the run: a CA whose key stays in the
// coordinator's memory signs the agents' server certificate and the
// coordinator's client certificate. The agents accept only that client
// certificate's CA; the coordinator trusts only that CA, and checks the
// server name in the certificate, not the address it dials.
//
// The launcher waits until every index has a Pod that is Running and
// Ready with a Pod IP, and whose agent port answers from here, then the
// coordinator reaches the agents by their Pod IPs (no cluster DNS needed,
// but the coordinator must be able to route to Pod IPs: run it in the
// cluster, or on a machine routed to the Pod network).
//
// Clients: every agent takes a share of every client of the SMP config
// (agent k of n sends slots k, k+n, ... of each client's schedule), as
// the coordinator does with any agents; the config's clients do not map
// to separate groups of agents. A config with two clients and four agents
// runs both clients on all four, each agent a quarter of each.
//
// Cleanup: Close deletes the Job (its Pods go with it, by the garbage
// collector), the Service and the Secret. The Service and Secret are also
// owned by the Job, and the Job has a deadline (Options.Lifetime) and a
// time to live once finished, so that a coordinator killed without
// cleaning up leaves agents that stop and objects that go by themselves.
package kube

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smp-project/smp/agent"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Defaults of Options.
const (
	DefaultImage        = "smp:latest"
	DefaultPort         = 9901
	DefaultLifetime     = 6 * time.Hour
	DefaultReadyTimeout = 5 * time.Minute
	// MaxAgents bounds --kube-agents: beyond it a typing slip would ask a
	// cluster for an absurd number of Pods.
	MaxAgents = 1000
)

// Labels and paths the objects carry.
const (
	LabelName     = "app.kubernetes.io/name"
	LabelInstance = "app.kubernetes.io/instance"
	LabelManaged  = "app.kubernetes.io/managed-by"
	// IndexLabel is the label the Job controller puts on each Pod of an
	// Indexed Job: its completion index.
	IndexLabel = "batch.kubernetes.io/job-completion-index"
	// CertDir is where the Secret is mounted in the agents.
	CertDir = "/etc/smp-agent"
	// ServerName is the name in the agents' certificate, which the
	// coordinator checks whatever Pod IP it dials.
	ServerName = "smp-agent"
	// nonRoot is the user and group the agents run as: distroless's
	// "nonroot", which the Dockerfile's image uses.
	nonRoot = 65532
)

// Options configure a launch.
type Options struct {
	// Rest reaches the cluster; Namespace is where the objects go.
	Rest      *rest.Config
	Namespace string
	// Agents is how many agent Pods to run.
	Agents int
	// Image runs `smp agent` (its entrypoint is smp); "" for DefaultImage.
	Image string
	// NodeSelector and Resources (each both the request and the limit, so
	// that an agent's CPU budget is fixed) go into every agent Pod.
	NodeSelector map[string]string
	Resources    corev1.ResourceList
	// Allow are the networks the agents may send to (smp agent --allow).
	Allow []netip.Prefix
	// Port is the agents' port; 0 for DefaultPort.
	Port int
	// Lifetime bounds the agents' Job (its active deadline) and the
	// certificates; 0 for DefaultLifetime.
	Lifetime time.Duration
	// ReadyTimeout bounds the wait for the agents; 0 for
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// Log, if set, is told what the launcher does.
	Log func(string)
}

// Launcher runs one launch: Launch (or the Runner) creates the agents
// once, Close removes them.
type Launcher struct {
	o      Options
	client kubernetes.Interface
	name   string
	certs  *runCerts

	mu       sync.Mutex
	launched bool
	addrs    []string
	err      error
	// created: the launch began creating objects, which Close then
	// deletes by name (their name is the launch's own, so a create whose
	// answer was lost to Ctrl-C is deleted too).
	created bool
}

// New checks o and prepares a launch (nothing is created yet).
func New(o Options) (*Launcher, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", load.ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case o.Rest == nil:
		return nil, bad("no cluster to launch agents in")
	case o.Agents < 1 || o.Agents > MaxAgents:
		return nil, bad("%d agents: want 1 to %d", o.Agents, MaxAgents)
	case o.Namespace == "":
		return nil, bad("no namespace")
	case len(o.Allow) == 0:
		return nil, bad("no networks the agents may send to")
	case o.Port < 0 || o.Port > 65535:
		return nil, bad("port %d", o.Port)
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.Lifetime <= 0 {
		o.Lifetime = DefaultLifetime
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	client, err := kubernetes.NewForConfig(o.Rest)
	if err != nil {
		return nil, bad("cluster client: %v", err)
	}
	name, err := runName()
	if err != nil {
		return nil, err
	}
	certs, err := newRunCerts(ServerName, o.Lifetime)
	if err != nil {
		return nil, err
	}
	return &Launcher{o: o, client: client, name: name, certs: certs}, nil
}

// runName is a fresh name for a launch's objects: "smp-agents-" and five
// random characters, a valid DNS label as Services need.
func runName() (string, error) {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789" // no vowels: no words by chance
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "smp-agents-" + string(b), nil
}

// Name is the name of the launch's Job, Service and Secret.
func (l *Launcher) Name() string { return l.name }

// Namespace is where they are.
func (l *Launcher) Namespace() string { return l.o.Namespace }

// TLS is the coordinator's TLS configuration for this launch's agents.
func (l *Launcher) TLS() *tls.Config { return l.certs.clientTLS(ServerName) }

func (l *Launcher) logf(format string, a ...any) {
	if l.o.Log != nil {
		l.o.Log(fmt.Sprintf(format, a...))
	}
}

// Runner returns a smprun.Runner that launches the agents at its first
// call (so that Ctrl-C during the wait stops it like a run) and runs each
// test on them with co's settings; the caller must Close the launcher.
func (l *Launcher) Runner(co agent.Coordinator) smprun.Runner {
	return func(ctx context.Context, cfg *spec.PerformanceTestConfig, po smprun.PlanOptions) (*load.Result, error) {
		addrs, err := l.Launch(ctx)
		if err != nil {
			return nil, err
		}
		c := co
		c.Agents, c.TLS = addrs, l.TLS()
		c.Token, c.CAFile, c.Insecure, c.CertFile, c.KeyFile = "", "", false, "", ""
		return c.Run(ctx, cfg, po)
	}
}

// Launch creates the agents and waits until they answer, once: later calls
// return the first call's addresses (agent k's at k) or error.
func (l *Launcher) Launch(ctx context.Context) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.launched {
		l.launched = true
		l.addrs, l.err = l.launch(ctx)
	}
	return l.addrs, l.err
}

func (l *Launcher) launch(ctx context.Context) ([]string, error) {
	ns := l.o.Namespace
	l.created = true
	// The Job is created suspended, so that no Pod starts before the
	// Secret it mounts exists; the Secret and the Service are owned by
	// the Job, so that the garbage collector removes them with it.
	job, err := l.client.BatchV1().Jobs(ns).Create(ctx, l.jobObject(), metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create the agents' Job in namespace %s: %w", ns, err)
	}
	l.logf("created job %s/%s (%d indexed agents, image %s)", ns, l.name, l.o.Agents, l.o.Image)
	owner := []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: job.Name, UID: job.UID}}
	sec := l.secretObject()
	sec.OwnerReferences = owner
	if _, err := l.client.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create the agents' Secret: %w", err)
	}
	svc := l.serviceObject()
	svc.OwnerReferences = owner
	if _, err := l.client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create the agents' Service: %w", err)
	}
	resume := []byte(`{"spec":{"suspend":false}}`)
	if _, err := l.client.BatchV1().Jobs(ns).Patch(ctx, l.name, types.StrategicMergePatchType, resume, metav1.PatchOptions{}); err != nil {
		return nil, fmt.Errorf("start the agents' Job: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, l.o.ReadyTimeout)
	defer cancel()
	start := time.Now()
	addrs, err := l.wait(wctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("waiting for the agents: %w", context.Cause(ctx))
		}
		return nil, err
	}
	l.logf("%d agents ready in %v: %s", len(addrs), time.Since(start).Round(100*time.Millisecond), strings.Join(addrs, ", "))
	return addrs, nil
}

func (l *Launcher) labels() map[string]string {
	return map[string]string{LabelName: "smp-agent", LabelInstance: l.name, LabelManaged: "smp"}
}

func (l *Launcher) meta() metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: l.name, Namespace: l.o.Namespace, Labels: l.labels()}
}

func (l *Launcher) secretObject() *corev1.Secret {
	return &corev1.Secret{ObjectMeta: l.meta(), Type: corev1.SecretTypeTLS, Data: map[string][]byte{
		corev1.TLSCertKey:       l.certs.serverPEM,
		corev1.TLSPrivateKeyKey: l.certs.serverKey,
		"ca.crt":                l.certs.caPEM,
	}}
}

func (l *Launcher) serviceObject() *corev1.Service {
	return &corev1.Service{ObjectMeta: l.meta(), Spec: corev1.ServiceSpec{
		ClusterIP: corev1.ClusterIPNone,
		Selector:  map[string]string{LabelInstance: l.name},
		Ports: []corev1.ServicePort{{Name: "agent", Port: int32(l.o.Port),
			TargetPort: intstr.FromInt32(int32(l.o.Port)), Protocol: corev1.ProtocolTCP}},
	}}
}

// Args are the agent container's arguments (after the image's smp).
func (l *Launcher) Args() []string {
	args := []string{"agent", "--listen=:" + strconv.Itoa(l.o.Port),
		"--cert=" + CertDir + "/" + corev1.TLSCertKey, "--key=" + CertDir + "/" + corev1.TLSPrivateKeyKey,
		"--client-ca=" + CertDir + "/ca.crt",
		// The coordinator bounds the run; the Job's deadline bounds the agent.
		"--max-duration=0"}
	for _, p := range l.o.Allow {
		args = append(args, "--allow="+p.String())
	}
	return args
}

func (l *Launcher) jobObject() *batchv1.Job {
	n := int32(l.o.Agents)
	port := int32(l.o.Port)
	deadline := int64(l.o.Lifetime / time.Second)
	res := corev1.ResourceRequirements{Requests: l.o.Resources, Limits: l.o.Resources}
	pod := corev1.PodSpec{
		// An agent that fails is not restarted: its share is reported lost.
		RestartPolicy:                 corev1.RestartPolicyNever,
		Subdomain:                     l.name,
		NodeSelector:                  l.o.NodeSelector,
		AutomountServiceAccountToken:  new(false),
		EnableServiceLinks:            new(false),
		TerminationGracePeriodSeconds: new(int64(5)),
		SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: new(true), RunAsUser: new(int64(nonRoot)),
			RunAsGroup: new(int64(nonRoot)), FSGroup: new(int64(nonRoot)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		// Spread over nodes where the scheduler can: agents sharing a node
		// share its CPU and network.
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
			WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelInstance: l.name}}}},
		Containers: []corev1.Container{{
			Name: "agent", Image: l.o.Image, ImagePullPolicy: corev1.PullIfNotPresent,
			Args:      l.Args(),
			Ports:     []corev1.ContainerPort{{Name: "agent", ContainerPort: port, Protocol: corev1.ProtocolTCP}},
			Resources: res,
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(port)}},
				PeriodSeconds: 1},
			SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: new(false), ReadOnlyRootFilesystem: new(true),
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
			VolumeMounts: []corev1.VolumeMount{{Name: "certs", MountPath: CertDir, ReadOnly: true}},
		}},
		Volumes: []corev1.Volume{{Name: "certs", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: l.name, DefaultMode: new(int32(0o440))}}}},
	}
	return &batchv1.Job{ObjectMeta: l.meta(), Spec: batchv1.JobSpec{
		Completions: &n, Parallelism: &n, CompletionMode: new(batchv1.IndexedCompletion),
		BackoffLimit: new(int32(0)), Suspend: new(true),
		ActiveDeadlineSeconds: &deadline,
		// Once the deadline fails the Job (its coordinator gone without
		// cleaning up), the Job and what it owns are deleted a minute later.
		TTLSecondsAfterFinished: new(int32(60)),
		Template:                corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l.labels()}, Spec: pod},
	}}
}

// pollEvery is how often the wait looks at the agents' Pods.
const pollEvery = 500 * time.Millisecond

// wait returns the agents' addresses, agent k's at k, once every index
// has a Running, Ready Pod with an IP whose agent port answers; it fails
// at once on a Pod that cannot start (failed, image not pulled).
func (l *Launcher) wait(ctx context.Context) ([]string, error) {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	state := "no Pods yet"
	for {
		addrs, st, err := l.check(ctx)
		if err != nil {
			return nil, err
		}
		if addrs != nil {
			return addrs, nil
		}
		if st != "" {
			state = st
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("the agents were not ready within %v: %s (kubectl -n %s describe job %s tells more)",
				l.o.ReadyTimeout, state, l.o.Namespace, l.name)
		case <-tick.C:
		}
	}
}

// check looks at the agents once: their addresses when all are ready,
// else what they are waiting for.
func (l *Launcher) check(ctx context.Context) ([]string, string, error) {
	pods, err := l.client.CoreV1().Pods(l.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: LabelInstance + "=" + l.name})
	if err != nil {
		// client-go's rate limiter refuses a call that would end after the
		// deadline before the context itself expires: that is the timeout
		// too, which the caller reports with the last state seen.
		if ctx.Err() != nil || strings.Contains(err.Error(), "would exceed context deadline") {
			return nil, "", nil
		}
		return nil, "", fmt.Errorf("list the agents' Pods: %w", err)
	}
	byIndex := make([]*corev1.Pod, l.o.Agents)
	for i := range pods.Items {
		p := &pods.Items[i]
		k, err := strconv.Atoi(p.Labels[IndexLabel])
		if err != nil || k < 0 || k >= l.o.Agents || p.DeletionTimestamp != nil {
			continue
		}
		if why := cannotStart(p, l.o.Image); why != "" {
			return nil, "", fmt.Errorf("agent pod %s: %s", p.Name, why)
		}
		if q := byIndex[k]; q == nil || p.CreationTimestamp.After(q.CreationTimestamp.Time) {
			byIndex[k] = p
		}
	}
	addrs := make([]string, l.o.Agents)
	var waiting []string
	for k, p := range byIndex {
		if p == nil {
			waiting = append(waiting, fmt.Sprintf("agent %d: no Pod yet", k))
			continue
		}
		if why := notReady(p); why != "" {
			waiting = append(waiting, p.Name+": "+why)
			continue
		}
		addrs[k] = net.JoinHostPort(p.Status.PodIP, strconv.Itoa(l.o.Port))
		// The kubelet's probe says the port answers in the Pod network;
		// this says it answers from where the coordinator runs.
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(ctx, "tcp", addrs[k])
		if err != nil {
			waiting = append(waiting, fmt.Sprintf("%s: its agent at %s does not answer from here (%v): the coordinator must reach Pod IPs, so run it in the cluster or on a machine routed to the Pod network", p.Name, addrs[k], err))
			continue
		}
		c.Close()
	}
	if len(waiting) > 0 {
		sort.Strings(waiting)
		return nil, strings.Join(waiting, "; "), nil
	}
	return addrs, "", nil
}

// cannotStart says why a Pod will never run an agent, or "".
func cannotStart(p *corev1.Pod, image string) string {
	if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
		why := string(p.Status.Phase)
		if p.Status.Message != "" {
			why += ": " + p.Status.Message
		}
		for _, cs := range p.Status.ContainerStatuses {
			if t := cs.State.Terminated; t != nil {
				why += fmt.Sprintf(" (agent exited %d: %s %s)", t.ExitCode, t.Reason, strings.TrimSpace(t.Message))
			}
		}
		return why
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName":
				return fmt.Sprintf("the cluster cannot pull %s (%s: %s): build the image with the repository's Dockerfile, push it where the cluster pulls from, and give it as --image", image, w.Reason, w.Message)
			case "CreateContainerConfigError", "CreateContainerError", "CrashLoopBackOff":
				return w.Reason + ": " + w.Message
			}
		}
	}
	return ""
}

// notReady says what a Pod still waits for, or "".
func notReady(p *corev1.Pod) string {
	if p.Status.Phase != corev1.PodRunning {
		why := string(p.Status.Phase)
		if why == "" {
			why = "Pending"
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				why += fmt.Sprintf(" (not scheduled: %s %s)", c.Reason, c.Message)
			}
		}
		return why
	}
	if p.Status.PodIP == "" {
		return "Running without a Pod IP"
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			if c.Status == corev1.ConditionTrue {
				return ""
			}
			break
		}
	}
	return "Running, not Ready"
}

// cleanupTimeout bounds Close's deletions.
const cleanupTimeout = 30 * time.Second

// Close deletes what the launch created: the Job (its Pods deleted in the
// background by the garbage collector), the Service and the Secret. It
// ignores ctx's cancellation (Close runs after Ctrl-C too) but keeps its
// values, and gives up after 30 s. A launch after Close fails.
func (l *Launcher) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.launched {
		l.launched, l.err = true, errors.New("the launcher is closed")
	}
	if !l.created {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	ns := l.o.Namespace
	bg := metav1.DeletePropagationBackground
	var errs []error
	for _, d := range []struct {
		kind string
		del  func() error
	}{
		{"Job", func() error {
			return l.client.BatchV1().Jobs(ns).Delete(ctx, l.name, metav1.DeleteOptions{PropagationPolicy: &bg})
		}},
		{"Service", func() error { return l.client.CoreV1().Services(ns).Delete(ctx, l.name, metav1.DeleteOptions{}) }},
		{"Secret", func() error { return l.client.CoreV1().Secrets(ns).Delete(ctx, l.name, metav1.DeleteOptions{}) }},
	} {
		// Not found is gone already: the garbage collector may remove
		// the Service and Secret with the Job before they are asked.
		if err := d.del(); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete the agents' %s %s/%s: %w", d.kind, ns, l.name, err))
		}
	}
	if len(errs) == 0 {
		l.created = false
		l.logf("deleted job, service and secret %s/%s", ns, l.name)
	}
	return errors.Join(errs...)
}
