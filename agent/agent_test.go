package agent

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/smp-project/smp/internal/race"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/target"
)

// The test binary doubles as an agent process: with SMP_TEST_AGENT set it
// serves an agent on 127.0.0.1 (or the address in SMP_TEST_AGENT_LISTEN),
// writes its certificate to SMP_TEST_AGENT_CERT, prints "ready ADDR" and
// serves until killed.
func TestMain(m *testing.M) {
	if os.Getenv("SMP_TEST_AGENT") != "" {
		os.Exit(agentProcess())
	}
	if addr := os.Getenv("SMP_TEST_TARGET"); addr != "" {
		os.Exit(targetProcess(addr))
	}
	os.Exit(m.Run())
}

func agentProcess() int {
	listen := os.Getenv("SMP_TEST_AGENT_LISTEN")
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	cfg := Config{Token: os.Getenv("SMP_AGENT_TOKEN"), Host: strings.Split(listen, ":")[0]}
	for _, p := range strings.Fields(os.Getenv("SMP_TEST_AGENT_ALLOW")) {
		cfg.Allow = append(cfg.Allow, netip.MustParsePrefix(p))
	}
	srv, err := NewServer(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := os.WriteFile(os.Getenv("SMP_TEST_AGENT_CERT"), srv.CertPEM(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ln, err := net.Listen("tcp", listen)
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

// agentProc is an agent process started by a test.
type agentProc struct {
	addr, cert string
	cmd        *exec.Cmd
}

// startAgent starts an agent process with the token; wrap, if set,
// prefixes the command (e.g. "ip netns exec NS").
func startAgent(t *testing.T, tok string, env []string, wrap ...string) *agentProc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cert := filepath.Join(t.TempDir(), "agent.pem")
	argv := append(append([]string{}, wrap...), self, "-test.run=^$")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), append([]string{"SMP_TEST_AGENT=1", "SMP_AGENT_TOKEN=" + tok, "SMP_TEST_AGENT_CERT=" + cert}, env...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- a
			}
		}
	}()
	select {
	case a := <-ready:
		return &agentProc{addr: a, cert: cert, cmd: cmd}
	case <-time.After(20 * time.Second):
		t.Fatal("the agent process did not start in 20 s")
	}
	return nil
}

// caFile writes the agents' certificates into one PEM file.
func caFile(t *testing.T, agents []*agentProc) string {
	t.Helper()
	var all []byte
	for _, a := range agents {
		b, err := os.ReadFile(a.cert)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	p := filepath.Join(t.TempDir(), "agents.pem")
	if err := os.WriteFile(p, all, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
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

func testConfig(url string, rps int64, conns int32, d time.Duration) *spec.PerformanceTestConfig {
	return &spec.PerformanceTestConfig{Duration: d.String(), Clients: []*spec.PerformanceTestConfig_Client{
		{Connections: conns, Rps: rps, EndpointUrls: []string{url}}}}
}

func addrs(agents []*agentProc) []string {
	var out []string
	for _, a := range agents {
		out = append(out, a.addr)
	}
	return out
}

// checkDistributed checks a merged result against its agents and the
// target: counts add up, the rate is held, the merged histogram is the
// one HdrHistogram itself makes of the agents' histograms, and the agents
// started together.
func checkDistributed(t *testing.T, res *load.Result, srv *target.Server, agents int, rate float64) {
	t.Helper()
	var sum int64
	lib := hdr.New(1, 3_600_000_000, 3) // hist's geometry: µs, 1 µs to 1 h, 3 digits
	for _, g := range res.Generators {
		if g.Result == nil {
			t.Fatalf("agent %s has no result: %s", g.Address, g.Note)
		}
		sum += g.Result.Total.Requests
		enc, err := g.Result.Total.Latency.Encode()
		if err != nil {
			t.Fatal(err)
		}
		h, err := hdr.Decode([]byte(enc))
		if err != nil {
			t.Fatal(err)
		}
		lib.Merge(h)
	}
	if res.Total.Requests != sum {
		t.Errorf("merged %d requests, the agents' sum is %d", res.Total.Requests, sum)
	}
	if srv != nil {
		if seen := int64(srv.Stats().RequestsTotal); seen != sum+int64(agents) {
			t.Errorf("the target saw %d requests, the agents sent %d (+%d probes)", seen, sum, agents)
		}
	}
	if got := res.Total.ActualQPS; math.Abs(got-rate) > rate*0.01 {
		t.Errorf("rate %.1f/s, want %.0f/s within 1%%", got, rate)
	}
	enc, err := res.Total.Latency.Encode()
	if err != nil {
		t.Fatal(err)
	}
	merged, err := hdr.Decode([]byte(enc))
	if err != nil {
		t.Fatal(err)
	}
	if !merged.Equals(lib) || merged.TotalCount() != lib.TotalCount() {
		t.Errorf("the merged histogram (%d values) differs from HdrHistogram's merge of the agents' (%d)", merged.TotalCount(), lib.TotalCount())
	}
	for _, q := range []float64{50, 90, 99, 99.9} {
		if a, b := merged.ValueAtQuantile(q), lib.ValueAtQuantile(q); a != b {
			t.Errorf("p%g: merged %d µs, HdrHistogram %d µs", q, a, b)
		}
	}
	var skew time.Duration
	for _, g := range res.Generators {
		skew = max(skew, g.StartOffset)
	}
	t.Logf("%d agents: %d requests at %.1f/s; start skew %v; clock offsets %v", agents, res.Total.Requests, res.Total.ActualQPS, skew, offsets(res))
	if skew > 5*time.Millisecond {
		t.Errorf("start skew %v, want under 5 ms", skew)
	}
}

func offsets(res *load.Result) []string {
	var out []string
	for _, g := range res.Generators {
		out = append(out, fmt.Sprintf("%v±%v", g.ClockOffset, g.ClockUncertainty))
	}
	return out
}

// TestAccuracyFourAgents: four agent processes share 8,000/s to one
// target. Timing-sensitive: it runs in the accuracy pass, not under the
// race detector (which slows every agent, built from this test binary).
func TestAccuracyFourAgents(t *testing.T) {
	if race.Enabled {
		t.Skip("rate accuracy is measured without the race detector (dev.sh runs it in the accuracy pass)")
	}
	srv, url := startTarget(t)
	var agents []*agentProc
	for range 4 {
		agents = append(agents, startAgent(t, "s3cret", nil))
	}
	co := &Coordinator{Agents: addrs(agents), Token: "s3cret", CAFile: caFile(t, agents)}
	res, err := co.Run(context.Background(), testConfig(url, 8000, 4, 3*time.Second), smprun.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Partial {
		t.Errorf("partial: %s", res.PartialReason)
	}
	checkDistributed(t, res, srv, 4, 8000)
	for i, g := range res.Generators {
		if g.Share != (load.Share{Index: i, Count: 4}) || g.Requests != 6000 {
			t.Errorf("agent %d: share %v, %d requests; want share %d of 4 and 6000", i, g.Share, g.Requests, i)
		}
	}
}

// TestAgentLost: one agent killed (kill -9) and one frozen (SIGSTOP: its
// connection stays open, only the heartbeat tells) during the run; the
// result is the others', partial, and says which was lost and when.
func TestAgentLost(t *testing.T) {
	for _, tc := range []struct {
		name    string
		signal  syscall.Signal
		within  time.Duration // detection delay allowed
		because string
	}{
		{"killed", syscall.SIGKILL, time.Second, "stream broken"},
		{"frozen", syscall.SIGSTOP, DefaultHeartbeat + time.Second, "silent for"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := startTarget(t)
			agents := []*agentProc{startAgent(t, "tok", nil), startAgent(t, "tok", nil)}
			co := &Coordinator{Agents: addrs(agents), Token: "tok", CAFile: caFile(t, agents), Lead: time.Second}
			hit := make(chan time.Time, 1)
			go func() {
				time.Sleep(co.Lead + 1500*time.Millisecond)
				agents[1].cmd.Process.Signal(tc.signal)
				hit <- time.Now()
				if tc.signal == syscall.SIGSTOP {
					time.Sleep(DefaultHeartbeat + 2*time.Second)
					agents[1].cmd.Process.Signal(syscall.SIGCONT)
				}
			}()
			res, err := co.Run(context.Background(), testConfig(url, 1000, 2, 6*time.Second), smprun.PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			<-hit
			lost := res.Generators[1]
			if !res.Partial || !strings.Contains(res.PartialReason, agents[1].addr) || !lost.Lost || !strings.Contains(lost.Note, tc.because) {
				t.Fatalf("partial %v (%s); agent 2 lost %v (%s)", res.Partial, res.PartialReason, lost.Lost, lost.Note)
			}
			if lost.LostAt < 1400*time.Millisecond || lost.LostAt > 1500*time.Millisecond+tc.within {
				t.Errorf("lost at %v, want between 1.4 s and %v", lost.LostAt, 1500*time.Millisecond+tc.within)
			}
			// Share 2 of 2 of 1000/s for 6 s is 3000 requests; what it did
			// not send by its last progress is counted.
			if lost.Unsent < 1500 || lost.Requests+lost.Unsent != 3000 {
				t.Errorf("lost agent: %d requests, %d unsent, want about 3000 in all with at least 1500 unsent", lost.Requests, lost.Unsent)
			}
			first := res.Generators[0]
			if first.Lost || first.Requests != 3000 || res.Total.Requests != 3000 {
				t.Errorf("the other agent: lost %v, %d requests; merged %d; want its 3000", first.Lost, first.Requests, res.Total.Requests)
			}
			_ = srv
		})
	}
}

// TestAgentRefusals: a wrong token, an untrusted certificate, an agent
// that never answers and a target outside the agent's networks stop the
// test before any request reaches the target.
func TestAgentRefusals(t *testing.T) {
	srv, url := startTarget(t)
	good := startAgent(t, "right", nil)
	other := startAgent(t, "right", nil) // its certificate is not good's
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never a byte
		}
	}()
	for _, tc := range []struct {
		name string
		co   *Coordinator
		cfg  *spec.PerformanceTestConfig
		want string
	}{
		{"wrong token", &Coordinator{Agents: []string{good.addr}, Token: "wrong", CAFile: good.cert}, nil, "refused the credentials"},
		{"no token", &Coordinator{Agents: []string{good.addr}, CAFile: good.cert}, nil, "refused the credentials"},
		{"untrusted certificate", &Coordinator{Agents: []string{good.addr}, Token: "right", CAFile: other.cert}, nil, "TLS failed"},
		{"never answers", &Coordinator{Agents: []string{silent.Addr().String()}, Token: "right", Insecure: true}, nil, "is the agent running"},
		{"target outside the allowed networks", &Coordinator{Agents: []string{good.addr}, Token: "right", CAFile: good.cert},
			testConfig("http://192.0.2.1:80/", 10, 1, time.Second), "outside the networks this agent may send to"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg == nil {
				cfg = testConfig(url, 100, 1, time.Second)
			}
			start := time.Now()
			_, err := tc.co.Run(context.Background(), cfg, smprun.PlanOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v to refuse", took)
			}
			if n := srv.Stats().RequestsTotal; n != 0 {
				t.Errorf("the target saw %d requests", n)
			}
		})
	}
}
