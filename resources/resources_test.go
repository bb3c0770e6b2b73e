package resources

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    procStat
		wantErr string
	}{
		{
			name: "plain",
			line: "42 (nginx) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 1000000 300 18446744073709551615",
			want: procStat{pid: 42, ppid: 1, comm: "nginx", cpuTicks: 300, rssPages: 300},
		},
		{
			name: "name with spaces and parentheses",
			line: "7 (a b) (c)) R 3 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 100 9 0",
			want: procStat{pid: 7, ppid: 3, comm: "a b) (c)", cpuTicks: 3, rssPages: 9},
		},
		{name: "truncated", line: "7 (x) R 3 7", wantErr: "fields after the name"},
		{name: "no name", line: "7 x R", wantErr: "no command name"},
		{name: "not a number", line: "7 (x) R 3 7 7 0 -1 0 0 0 0 0 u 2 0 0 20 0 1 0 5 100 9 0", wantErr: "field 14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat(tt.want.pid, []byte(tt.line))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseWatch(t *testing.T) {
	tests := []struct {
		kind, in string
		want     Watch
		wantErr  string
	}{
		{"pid", "123", Watch{PID: 123}, ""},
		{"pid", "sidecar=123", Watch{Component: "sidecar", PID: 123}, ""},
		{"pid", "0", Watch{}, "process id > 0"},
		{"pid", "abc", Watch{}, "process id > 0"},
		{"pid", "=12", Watch{}, "empty component"},
		{"cmd", "gateway=nginx", Watch{Component: "gateway", Cmd: "nginx"}, ""},
		{"cmd", "a-very-long-command-name", Watch{}, "at most 15 bytes"},
		{"cmd", "/usr/sbin/nginx", Watch{}, "no '/'"},
		{"cgroup", "mesh=/sys/fs/cgroup/x", Watch{Component: "mesh", Cgroup: "/sys/fs/cgroup/x"}, ""},
		{"cgroup", "", Watch{}, "no cgroup"},
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+tt.in, func(t *testing.T) {
			got, err := ParseWatch(tt.kind, tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestWithDescendants(t *testing.T) {
	all := []procStat{{pid: 1}, {pid: 10, ppid: 1}, {pid: 11, ppid: 10}, {pid: 12, ppid: 10}, {pid: 13, ppid: 12}, {pid: 20, ppid: 1}}
	got := withDescendants(all, map[int]bool{10: true})
	var pids []int
	for _, s := range got {
		pids = append(pids, s.pid)
	}
	if len(pids) != 4 {
		t.Fatalf("pids %v, want 10 and its three descendants", pids)
	}
	for _, p := range pids {
		if p == 1 || p == 20 {
			t.Fatalf("pids %v include a process outside the tree", pids)
		}
	}
}

func TestLimitsTightestAncestor(t *testing.T) {
	root := t.TempDir()
	leaf := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(leaf, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"a/cpu.max":      "50000 100000\n", // 0.5 core: the tightest
		"a/b/cpu.max":    "max 100000\n",
		"a/memory.max":   "max\n",
		"a/b/memory.max": "268435456\n",
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := Limits(root, leaf)
	if l.CPUCores != 0.5 || l.MemBytes != 256<<20 {
		t.Fatalf("limits %+v, want 0.5 cores and 256 MiB", l)
	}
	if l := Limits(root, root); l != (CgroupLimits{}) {
		t.Fatalf("root limits %+v, want none", l)
	}
}

// TestLocalSelfCPU spins a goroutine for a known share of the sampling and
// checks that the generator's figure sees it, and that a process that does
// not exist fails its figure instead of reading zero.
func TestLocalSelfCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	l, err := StartLocal(LocalOptions{Self: true, Step: 200 * time.Millisecond, Watches: []Watch{{PID: 1 << 30}, {Cmd: "no-such-cmd-x"}}})
	if err != nil {
		t.Fatal(err)
	}
	before, t0 := cpuTime(t), time.Now()
	stop := time.Now().Add(1200 * time.Millisecond)
	x := 0
	for time.Now().Before(stop) {
		x++
	}
	figs, caps := l.Stop()
	want := 1000 * (cpuTime(t) - before).Seconds() / time.Since(t0).Seconds()
	if len(figs) != 6 || len(caps) != 3 {
		t.Fatalf("%d figures, %d captures, want 6 and 3: %v %v", len(figs), len(caps), figs, caps)
	}
	cpu, mem := figs[0], figs[1]
	if cpu.GetSource() != "self" || cpu.GetComponent() != "generator" || cpu.GetClass() != "cpu" {
		t.Fatalf("first figure %v, want the generator's cpu", cpu)
	}
	// A goroutine busy the whole time: its process's CPU by getrusage over
	// the same window (what it gets of a shared machine), within 25%.
	if want < 20 || cpu.GetUsed() < 0.75*want || cpu.GetUsed() > 1.25*want || len(cpu.GetSeries()) < 5 || cpu.GetMax() < cpu.GetUsed() {
		t.Errorf("generator cpu used %.0f mcores, max %.0f, %d samples; getrusage says %.0f", cpu.GetUsed(), cpu.GetMax(), len(cpu.GetSeries()), want)
	}
	if mem.GetUsed() < 1 || mem.GetAssigned() < mem.GetUsed() {
		t.Errorf("generator memory %v", mem)
	}
	if !strings.Contains(figs[2].GetError(), "no such process") || caps[1].GetStatus() != "failed" {
		t.Errorf("missing pid: figure %v, capture %v", figs[2], caps[1])
	}
	if figs[2].GetUsed() != 0 || len(figs[2].GetSeries()) != 0 {
		t.Errorf("missing pid has values: %v", figs[2])
	}
	if !strings.Contains(caps[2].GetReason(), `no process named "no-such-cmd-x"`) || caps[2].GetStatus() != "empty" {
		t.Errorf("missing command: capture %v", caps[2])
	}
	_ = x
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
