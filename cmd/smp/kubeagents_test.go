package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smp-project/smp/agent/kube"
	"github.com/smp-project/smp/internal/kubetest"
	"github.com/smp-project/smp/internal/testsvc"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/target"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

func TestRunKubeAgentsBadInput(t *testing.T) {
	kc := writeFile(t, "kubeconfig", `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kube-agents", "0"}, "--kube-agents 0: want 1 to"},
		{[]string{"--image", "smp:x"}, "--image goes with --kube-agents"},
		{[]string{"--agent-allow", "10.0.0.0/8"}, "--agent-allow goes with --kube-agents"},
		{[]string{"--kube-agents", "2", "--agents", "127.0.0.1:9901"}, "--agents does not go with --kube-agents"},
		{[]string{"--kube-agents", "2", "--agent-insecure"}, "--agent-insecure does not go with --kube-agents"},
		{[]string{"--kube-agents", "2", "--node-selector", "pool"}, `--node-selector: "pool" is not key=value`},
		{[]string{"--kube-agents", "2", "--node-selector", "pool=a b"}, "--node-selector: label value"},
		{[]string{"--kube-agents", "2", "--resources", "cpu=lots"}, "--resources: cpu=lots"},
		{[]string{"--kube-agents", "2", "--resources", "memory=-1Mi"}, "must be positive"},
		{[]string{"--kube-agents", "2", "--agent-allow", "10.0.0.0/99"}, "--agent-allow \"10.0.0.0/99\""},
		{[]string{"--kube-agents", "2", "--kube-agent-port", "70000"}, "--kube-agent-port 70000"},
		{[]string{"--kube-agents", "2", "--kubeconfig", filepath.Join(t.TempDir(), "none")}, "--kubeconfig"},
		{[]string{"--kube-agents", "2", "--kubeconfig", kc, "--namespace", "Not_A_Name"}, "--namespace: \"Not_A_Name\""},
	} {
		args := append([]string{"run", "-q", "--no-cluster", "-d", "1s"}, tc.args...)
		code, stdout, stderr := smp(t, append(args, "http://127.0.0.1:1/")...)
		if code != exitBadInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", tc.args, code, exitBadInput, tc.want, stdout, stderr)
		}
	}
}

// TestRunKubeAgents runs smp run --kube-agents against a real API server
// with the Job controller; the test plays the node, running the real smp
// agent (this binary as smp) for each Pod from its arguments.
func TestRunKubeAgents(t *testing.T) {
	env, cfg := kubetest.StartWithControllers(t, "job-controller", "garbage-collector-controller")
	user, err := env.AddUser(envtest.User{Name: "smp-user", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kc := writeFile(t, "kubeconfig", string(b))
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "load"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SMP_AGENT_TOKEN", "") // the agents take mutual TLS only
	node := kubetest.StartNode(t, client, "load", false, func(args []string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "SMP_TEST_MAIN=1")
		return cmd
	})
	srv, err := target.Start(ctx, target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := "http://" + srv.Addrs().HTTP + "/"
	args := func(more ...string) []string {
		_, port, _ := net.SplitHostPort(testsvc.FreePort(t))
		return append([]string{"run", "--kube-agents", "2", "--namespace", "load", "--kubeconfig", kc, "--image", "smp:test",
			"--kube-agent-port", port, "--kube-ready-timeout", "1m", "--no-cluster", "-q", "--qps", "400"}, more...)
	}
	// nothing checks that no Job, Service or Secret of smp is left.
	nothingLeft := func(t *testing.T) {
		t.Helper()
		sel := metav1.ListOptions{LabelSelector: kube.LabelManaged + "=smp"}
		jobs, err := client.BatchV1().Jobs("load").List(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		svcs, err := client.CoreV1().Services("load").List(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		secs, err := client.CoreV1().Secrets("load").List(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(jobs.Items) + len(svcs.Items) + len(secs.Items); n != 0 {
			t.Errorf("left: %d jobs, %d services, %d secrets", len(jobs.Items), len(svcs.Items), len(secs.Items))
		}
	}

	t.Run("run", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "result.json")
		code, stdout, stderr := smp(t, args("-d", "1s", "-o", out, url)...)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		for _, want := range []string{"smp: kube: created job load/smp-agents-", "smp: kube: 2 agents ready", "smp: kube: deleted job, service and secret load/smp-agents-"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		doc, err := spec.LoadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		r := doc.Result
		if ag := r.GetAgents(); len(ag) != 2 || r.GetRequests().GetTotal() != 400 || ag[0].GetRequests()+ag[1].GetRequests() != 400 {
			t.Errorf("requests %v, agents %v: want 400 from 2 agents", r.GetRequests(), ag)
		}
		if seen := srv.Stats().RequestsTotal; seen != 402 {
			t.Errorf("the target saw %d requests, want 400 + 2 probes", seen)
		}
		nothingLeft(t)
		node.WaitKilled(t, 2)
	})

	t.Run("run fails", func(t *testing.T) {
		before := srv.Stats().RequestsTotal
		code, stdout, stderr := smp(t, args("-d", "1s", "--agent-allow", "192.0.2.0/24", url)...)
		if code != exitBadInput || !strings.Contains(stderr, "outside the networks") {
			t.Errorf("exit %d, want %d with the agents' refusal\n%s%s", code, exitBadInput, stdout, stderr)
		}
		if !strings.Contains(stderr, "smp: kube: deleted job, service and secret") {
			t.Errorf("stderr lacks the cleanup:\n%s", stderr)
		}
		if n := srv.Stats().RequestsTotal - before; n != 0 {
			t.Errorf("the target saw %d requests", n)
		}
		nothingLeft(t)
		node.WaitKilled(t, 4)
	})

	t.Run("ctrl-c", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], args("-d", "60s", url)...)
		cmd.Env = append(os.Environ(), "SMP_TEST_MAIN=1")
		errPipe, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		lines := make(chan string, 100)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(errPipe)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		var log []string
		timeout := time.After(60 * time.Second)
	wait:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("smp run ended before its agents were ready:\n%s", strings.Join(log, "\n"))
				}
				log = append(log, l)
				if strings.Contains(l, "agents ready") {
					break wait
				}
			case <-timeout:
				t.Fatalf("no agents ready after 60 s:\n%s", strings.Join(log, "\n"))
			}
		}
		before := srv.Stats().RequestsTotal
		time.Sleep(4 * time.Second) // the lead (2 s), then load
		if srv.Stats().RequestsTotal == before {
			t.Error("no load reached the target before Ctrl-C")
		}
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		for l := range lines {
			log = append(log, l)
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitPartial {
			t.Errorf("smp run after Ctrl-C: %v, want exit %d (partial)", err, exitPartial)
		}
		if all := strings.Join(log, "\n"); !strings.Contains(all, "smp: kube: deleted job, service and secret") {
			t.Errorf("no cleanup after Ctrl-C:\n%s", all)
		}
		nothingLeft(t)
		node.WaitKilled(t, 6)
	})
}
