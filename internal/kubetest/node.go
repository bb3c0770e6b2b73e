package kubetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// IndexLabel is the completion index the Job controller gives each Pod of
// an Indexed Job.
const IndexLabel = "batch.kubernetes.io/job-completion-index"

// Node plays the kubelet for the Pods of Indexed Jobs in one namespace
// (there is no kubelet beside envtest, so Pods would stay Pending): for
// each new Pod it writes the Secret volumes' files to a folder, marks the
// Pod Running and Ready with the Pod IP 127.0.0.(2+index) (all of
// 127.0.0.0/8 is loopback on Linux), and then, a second later, runs the
// Pod's first container as a real process on that address, made by
// Command from the container's arguments (mount paths replaced by the
// folder, and --listen=:PORT by --listen=IP:PORT). A Pod is Ready before
// its process listens on purpose: code that waits for Pods must also wait
// for their port. The process is killed when its Pod is deleted.
type Node struct {
	t       testing.TB
	client  kubernetes.Interface
	ns      string
	command func(args []string) *exec.Cmd
	// Fail, if set before Pods appear, marks new Pods Failed instead.
	fail bool

	mu      sync.Mutex
	procs   map[string]*exec.Cmd // by Pod name
	seen    map[string]bool
	readyAt time.Time // when the last process began to listen
	killed  int
}

// StartNode starts a Node for namespace ns, stopped (its processes
// killed) when the test ends. With fail set it fails every Pod instead
// (phase Failed, message "the test's node failed it").
func StartNode(t testing.TB, client kubernetes.Interface, ns string, fail bool, command func(args []string) *exec.Cmd) *Node {
	n := &Node{t: t, client: client, ns: ns, fail: fail, command: command, procs: map[string]*exec.Cmd{}, seen: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			n.sync(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, c := range n.procs {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	})
	return n
}

func (n *Node) sync(ctx context.Context) {
	pods, err := n.client.CoreV1().Pods(n.ns).List(ctx, metav1.ListOptions{LabelSelector: IndexLabel})
	if err != nil {
		return // the test is ending, or the next tick will do
	}
	alive := map[string]bool{}
	for i := range pods.Items {
		p := &pods.Items[i]
		alive[p.Name] = true
		n.mu.Lock()
		seen := n.seen[p.Name]
		n.seen[p.Name] = true
		n.mu.Unlock()
		if !seen {
			if err := n.run(ctx, p); err != nil && ctx.Err() == nil {
				n.t.Errorf("node: pod %s: %v", p.Name, err)
			}
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for name, c := range n.procs {
		if !alive[name] {
			_ = c.Process.Kill()
			_ = c.Wait()
			delete(n.procs, name)
			n.killed++
		}
	}
}

func (n *Node) run(ctx context.Context, p *corev1.Pod) error {
	k, err := strconv.Atoi(p.Labels[IndexLabel])
	if err != nil {
		return fmt.Errorf("completion index %q: %v", p.Labels[IndexLabel], err)
	}
	pods := n.client.CoreV1().Pods(n.ns)
	if n.fail {
		p.Status.Phase = corev1.PodFailed
		p.Status.Message = "the test's node failed it"
		_, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		return err
	}
	ip := fmt.Sprintf("127.0.0.%d", 2+k)
	c := p.Spec.Containers[0]
	dir := n.t.TempDir()
	mounts := map[string]string{} // mount path → folder
	for _, v := range p.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		sec, err := n.client.CoreV1().Secrets(n.ns).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		vdir := filepath.Join(dir, v.Name)
		if err := os.Mkdir(vdir, 0o700); err != nil {
			return err
		}
		for name, b := range sec.Data {
			if err := os.WriteFile(filepath.Join(vdir, name), b, 0o600); err != nil {
				return err
			}
		}
		for _, m := range c.VolumeMounts {
			if m.Name == v.Name {
				mounts[m.MountPath] = vdir
			}
		}
	}
	port := ""
	var args []string
	for _, a := range c.Args {
		for path, vdir := range mounts {
			a = strings.ReplaceAll(a, path, vdir)
		}
		if pt, ok := strings.CutPrefix(a, "--listen=:"); ok {
			port = pt
			a = "--listen=" + net.JoinHostPort(ip, pt)
		}
		args = append(args, a)
	}
	if port == "" {
		return fmt.Errorf("no --listen=:PORT in %q", c.Args)
	}
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP = ip
	p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	p.Status.StartTime = &now
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	if _, err := pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update its status: %w", err)
	}
	time.Sleep(time.Second) // Ready, and nothing listens yet
	cmd := n.command(args)
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stderr
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	n.mu.Lock()
	n.procs[p.Name] = cmd
	n.mu.Unlock()
	addr := net.JoinHostPort(ip, port)
	for range 400 {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			n.mu.Lock()
			n.readyAt = time.Now()
			n.mu.Unlock()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%q does not listen on %s after 20 s", args, addr)
}

// Stats says how many Pods the node has seen, how many processes run and
// how many it killed, and when the last one began to listen.
func (n *Node) Stats() (pods, running, killed int, readyAt time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.seen), len(n.procs), n.killed, n.readyAt
}

// WaitKilled waits up to 30 s until the node has killed want processes
// (their Pods deleted) and runs none.
func (n *Node) WaitKilled(t testing.TB, want int) {
	t.Helper()
	for range 150 {
		if _, running, killed, _ := n.Stats(); killed == want && running == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, running, killed, _ := n.Stats()
	t.Errorf("%d processes killed and %d running after the cleanup, want %d and 0", killed, running, want)
}
