package envinfo

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestHostReadsTheMachine(t *testing.T) {
	h, missing := Host(HostOptions{})
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	if h.GetCores() < 1 || h.GetMemMb() < 64 || h.GetKernel() == "" || h.GetGoVersion() != runtime.Version() {
		t.Errorf("host %v, missing %v", h, missing)
	}
	if h.GetCgroup() == "" {
		t.Errorf("no cgroup of the test process: %v", h)
	}
}

func TestHostFromFiles(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("proc/cpuinfo", "processor\t: 0\nmodel name\t: Test CPU @ 3.0GHz\n\nprocessor\t: 1\nmodel name\t: Test CPU @ 3.0GHz\n")
	write("proc/meminfo", "MemTotal:        8192000 kB\nMemFree: 1 kB\n")
	write("proc/self/cgroup", "0::/system.slice/smp.service\n")
	write("sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", "performance\n")
	write("sys/fs/cgroup/system.slice/smp.service/cpu.max", "150000 100000\n")
	write("sys/fs/cgroup/system.slice/smp.service/memory.max", "max\n")
	write("sys/fs/cgroup/system.slice/memory.max", "1073741824\n")
	write("etc/os-release", "NAME=Test\nPRETTY_NAME=\"Test Linux 1\"\n")

	h, missing := Host(HostOptions{ProcRoot: root + "/proc", SysRoot: root + "/sys", EtcRoot: root + "/etc"})
	if len(missing) != 0 {
		t.Errorf("missing %v", missing)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"cpu model", h.GetCpuModel(), "Test CPU @ 3.0GHz"},
		{"cores", h.GetCores(), int32(2)},
		{"memory MiB", h.GetMemMb(), int64(8000)},
		{"governor", h.GetGovernor(), "performance"},
		{"os release", h.GetOsRelease(), "Test Linux 1"},
		{"cgroup", h.GetCgroup(), "/system.slice/smp.service"},
		{"cpu limit: the cgroup's own quota", h.GetCgroupCpuCores(), 1.5},
		{"memory limit: the parent's, the tightest", h.GetCgroupMemMb(), int64(1024)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}
