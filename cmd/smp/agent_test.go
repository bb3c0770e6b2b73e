package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smp-project/smp/agent"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/target"
)

// startAgents serves n agents in this process, with the token, and writes
// their certificates into one CA file.
func startAgents(t *testing.T, n int, token string) ([]string, string) {
	t.Helper()
	var addrs []string
	var pems []byte
	for range n {
		srv, err := agent.NewServer(agent.Config{Token: token})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(srv.Stop)
		addrs = append(addrs, ln.Addr().String())
		pems = append(pems, srv.CertPEM()...)
	}
	ca := filepath.Join(t.TempDir(), "agents.pem")
	if err := os.WriteFile(ca, pems, 0o644); err != nil {
		t.Fatal(err)
	}
	return addrs, ca
}

func TestRunOnAgents(t *testing.T) {
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := "http://" + srv.Addrs().HTTP + "/"
	t.Setenv("SMP_AGENT_TOKEN", "tok")
	addrs, ca := startAgents(t, 2, "tok")
	out := filepath.Join(t.TempDir(), "r.yaml")
	code, stdout, stderr := smp(t, "run", url, "-q", "--qps", "400", "-d", "1s", "-c", "2",
		"--agents", strings.Join(addrs, ","), "--agent-ca", ca, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "first send ms") || !strings.Contains(stdout, addrs[1]) {
		t.Errorf("the summary does not list the agents:\n%s", stdout)
	}
	doc, err := spec.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r := doc.Result
	if len(r.GetAgents()) != 2 || r.GetRequests().GetTotal() != 400 || r.GetAgents()[0].GetRequests()+r.GetAgents()[1].GetRequests() != 400 ||
		r.GetAgents()[1].GetShareIndex() != 1 || r.GetAgents()[1].GetShareCount() != 2 {
		t.Errorf("requests %v agents %v", r.GetRequests(), r.GetAgents())
	}
	if seen := srv.Stats().RequestsTotal; seen != 402 {
		t.Errorf("the target saw %d requests, want 400 + 2 probes", seen)
	}
}

func TestRunOnAgentsRefused(t *testing.T) {
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := "http://" + srv.Addrs().HTTP + "/"
	addrs, ca := startAgents(t, 1, "right")
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for _, tc := range []struct {
		name  string
		token string
		args  []string
		code  int
		want  string
	}{
		{"no trust given", "right", []string{"--agents", addrs[0]}, exitBadInput, "give --agent-ca FILE"},
		{"wrong token", "wrong", []string{"--agents", addrs[0], "--agent-ca", ca}, exitCannotRun, "refused the credentials"},
		{"agent never answers", "right", []string{"--agents", silent.Addr().String(), "--agent-insecure"}, exitCannotRun, "is the agent running"},
		{"target outside the agent's networks", "right", []string{"--agents", addrs[0], "--agent-ca", ca, "http://192.0.2.1/"}, exitBadInput, "outside the networks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SMP_AGENT_TOKEN", tc.token)
			args := append([]string{"run", "-q", "--qps", "100", "-d", "500ms"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "http://") {
				args = append(args, url)
			}
			code, stdout, stderr := smp(t, args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q\n%s%s", code, tc.code, tc.want, stdout, stderr)
			}
		})
	}
	if n := srv.Stats().RequestsTotal; n != 0 {
		t.Errorf("the target saw %d requests", n)
	}
}

func TestAgentCommandBadInput(t *testing.T) {
	t.Setenv("SMP_AGENT_TOKEN", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"agent", "--listen", "127.0.0.1:0"}, "needs a token"},
		{[]string{"agent", "--listen", "nowhere"}, "--listen"},
		{[]string{"agent", "--allow", "10.0.0.0/99"}, "--allow"},
		{[]string{"agent", "--cert", "x.pem"}, "--cert and --key go together"},
	} {
		if tc.args[1] != "--listen" || tc.args[2] != "127.0.0.1:0" {
			t.Setenv("SMP_AGENT_TOKEN", "tok")
		}
		code, stdout, stderr := smp(t, tc.args...)
		if code != exitBadInput || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", tc.args, code, exitBadInput, tc.want, stdout, stderr)
		}
		t.Setenv("SMP_AGENT_TOKEN", "")
	}
}
