package agent

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smp-project/smp/internal/race"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/target"
)

// targetProcess serves the built-in target when the test binary runs with
// SMP_TEST_TARGET=ADDR, prints "ready", and on SIGTERM prints the number of
// requests it saw ("seen N") and exits.
func targetProcess(addr string) int {
	srv, err := target.Start(context.Background(), target.Config{HTTP: addr})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signalNotify(sig)
	<-sig
	fmt.Printf("seen %d\n", srv.Stats().RequestsTotal)
	srv.Close()
	return 0
}

// netns runs ip with the arguments, failing the test on error.
func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestAccuracyAgentsInNamespaces: two agents in their own network namespaces, the
// target in a third, the coordinator here; every address is one the test
// made. Agents reach the target by veth pairs between their namespaces
// and its, the coordinator reaches the agents by veth pairs from here:
// nothing is forwarded and nothing leaves the machine.
func TestAccuracyAgentsInNamespaces(t *testing.T) {
	if race.Enabled {
		t.Skip("rate accuracy is measured without the race detector (dev.sh runs it in the accuracy pass)")
	}
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (iproute2)")
	}
	id := strconv.Itoa(os.Getpid() % 100000)
	nsA, nsB, nsT := "smp-a1-"+id, "smp-a2-"+id, "smp-t-"+id
	if out, err := exec.Command("ip", "netns", "add", nsA).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace here: %v %s", err, out)
	}
	t.Cleanup(func() {
		for _, ns := range []string{nsA, nsB, nsT} {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	ip(t, "netns", "add", nsB)
	ip(t, "netns", "add", nsT)
	// veth names are at most 15 bytes.
	link := func(a, aNS, aAddr, b, bNS, bAddr string) {
		ip(t, "link", "add", a, "type", "veth", "peer", "name", b)
		for _, side := range [][3]string{{a, aNS, aAddr}, {b, bNS, bAddr}} {
			pre := []string{}
			if side[1] != "" {
				ip(t, "link", "set", side[0], "netns", side[1])
				pre = []string{"-n", side[1]}
			}
			ip(t, append(pre, "addr", "add", side[2], "dev", side[0])...)
			ip(t, append(pre, "link", "set", side[0], "up")...)
		}
	}
	link("smpc1"+id, "", "10.201.1.1/24", "smpa1"+id, nsA, "10.201.1.2/24")
	link("smpc2"+id, "", "10.201.2.1/24", "smpa2"+id, nsB, "10.201.2.2/24")
	link("smpx1"+id, nsA, "10.201.3.1/24", "smpt1"+id, nsT, "10.201.3.2/24")
	link("smpx2"+id, nsB, "10.201.4.1/24", "smpt2"+id, nsT, "10.201.4.2/24")
	for _, ns := range []string{nsA, nsB, nsT} {
		ip(t, "-n", ns, "link", "set", "lo", "up")
	}
	// The target's one address, reached from each agent's namespace over
	// its own veth.
	ip(t, "-n", nsT, "addr", "add", "10.201.9.1/32", "dev", "lo")
	ip(t, "-n", nsA, "route", "add", "10.201.9.1/32", "via", "10.201.3.2")
	ip(t, "-n", nsB, "route", "add", "10.201.9.1/32", "via", "10.201.4.2")

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tcmd := exec.Command("ip", "netns", "exec", nsT, self, "-test.run=^$")
	tcmd.Env = append(os.Environ(), "SMP_TEST_TARGET=10.201.9.1:18555")
	tcmd.Stderr = os.Stderr
	tout, err := tcmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tcmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer tcmd.Process.Kill()
	lines := make(chan string, 4)
	go func() {
		sc := bufio.NewScanner(tout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if l != "ready" {
			t.Fatalf("target: %q", l)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the target did not start")
	}

	allow := []string{"SMP_TEST_AGENT_ALLOW=10.201.9.1/32"}
	agents := []*agentProc{
		startAgent(t, "ns", append(allow, "SMP_TEST_AGENT_LISTEN=10.201.1.2:19901"), "ip", "netns", "exec", nsA),
		startAgent(t, "ns", append(allow, "SMP_TEST_AGENT_LISTEN=10.201.2.2:19901"), "ip", "netns", "exec", nsB),
	}
	co := &Coordinator{Agents: addrs(agents), Token: "ns", CAFile: caFile(t, agents)}
	res, err := co.Run(context.Background(), testConfig("http://10.201.9.1:18555/", 4000, 4, 3*time.Second), smprun.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Partial {
		t.Errorf("partial: %s", res.PartialReason)
	}
	tcmd.Process.Signal(syscall.SIGTERM)
	var seen int64 = -1
	for l := range lines {
		if n, ok := strings.CutPrefix(l, "seen "); ok {
			seen, _ = strconv.ParseInt(n, 10, 64)
		}
	}
	tcmd.Wait()
	checkDistributed(t, res, nil, 2, 4000)
	if want := res.Total.Requests + 2; seen != want {
		t.Errorf("the target saw %d requests, the agents sent %d (+2 probes)", seen, res.Total.Requests)
	}
}
