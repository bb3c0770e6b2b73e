//go:build unix

package fdlimit

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGoRaisesTheLimit starts this test binary again under a shell that
// lowers the soft limit on open files to 256, and checks what the child
// finds when it starts: Go has raised the soft limit to (one below) the
// hard limit before any of our code ran, and Raise returns it.
func TestGoRaisesTheLimit(t *testing.T) {
	if os.Getenv("FDLIMIT_CHILD") == "1" {
		var lim unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("soft=%d hard=%d raise=%d\n", lim.Cur, lim.Max, Raise())
		return
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max == unix.RLIM_INFINITY || lim.Max <= 256 {
		t.Skipf("hard limit %d: nothing to raise from 256", lim.Max)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to lower the limit with")
	}
	cmd := exec.Command(sh, "-c", `ulimit -S -n 256 && echo "before=$(ulimit -S -n)" && exec "$0" -test.run='^TestGoRaisesTheLimit$' -test.count=1`, os.Args[0])
	cmd.Env = append(os.Environ(), "FDLIMIT_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	var before, soft, hard, raised uint64
	for _, f := range strings.Fields(string(out)) {
		k, v, ok := strings.Cut(f, "=")
		n, err := strconv.ParseUint(v, 10, 64)
		if !ok || err != nil {
			continue
		}
		switch k {
		case "before":
			before = n
		case "soft":
			soft = n
		case "hard":
			hard = n
		case "raise":
			raised = n
		}
	}
	if before != 256 {
		t.Fatalf("the shell did not lower the soft limit to 256 (%d)\n%s", before, out)
	}
	if hard != uint64(lim.Max) || soft < hard-1 {
		t.Errorf("child started with soft %d, hard %d: Go did not raise the soft limit to the hard limit %d", soft, hard, lim.Max)
	}
	if raised < soft || raised > hard {
		t.Errorf("Raise = %d, want between %d and %d", raised, soft, hard)
	}
}

func TestRaise(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	got := Raise()
	if lim.Cur == unix.RLIM_INFINITY {
		if got != 0 {
			t.Errorf("Raise = %d with no limit, want 0", got)
		}
		return
	}
	if got < uint64(lim.Cur) || got > uint64(lim.Max) {
		t.Errorf("Raise = %d, want between the soft limit %d and the hard limit %d", got, lim.Cur, lim.Max)
	}
}
