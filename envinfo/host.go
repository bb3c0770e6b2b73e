package envinfo

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/smp-project/smp/resources"
	"github.com/smp-project/smp/spec"
	"golang.org/x/sys/unix"
)

// HostOptions say where the host's files are; the zero value reads the
// running machine.
type HostOptions struct {
	ProcRoot, SysRoot, EtcRoot string
}

func (o HostOptions) withDefaults() HostOptions {
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.SysRoot == "" {
		o.SysRoot = "/sys"
	}
	if o.EtcRoot == "" {
		o.EtcRoot = "/etc"
	}
	return o
}

// Host describes the machine the generator runs on. Fields it cannot read
// stay empty; the second value lists what was missing, for a capture note.
func Host(o HostOptions) (*spec.EnvironmentConfig_Host, []string) {
	o = o.withDefaults()
	h := &spec.EnvironmentConfig_Host{Os: runtime.GOOS, Arch: runtime.GOARCH, GoVersion: runtime.Version()}
	var missing []string
	if name, err := os.Hostname(); err == nil {
		h.Name = name
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		h.Kernel = unix.ByteSliceToString(uts.Release[:])
	} else {
		missing = append(missing, "kernel: "+err.Error())
	}
	h.OsRelease = osRelease(filepath.Join(o.EtcRoot, "os-release"))
	model, cores := cpuInfo(filepath.Join(o.ProcRoot, "cpuinfo"))
	h.CpuModel, h.Cores = model, int32(cores)
	if cores == 0 {
		h.Cores = int32(runtime.NumCPU())
	}
	if model == "" {
		missing = append(missing, "cpu model: not in /proc/cpuinfo")
	}
	if g, err := os.ReadFile(filepath.Join(o.SysRoot, "devices/system/cpu/cpu0/cpufreq/scaling_governor")); err == nil {
		h.Governor = strings.TrimSpace(string(g))
	}
	if kb := memTotalKB(filepath.Join(o.ProcRoot, "meminfo")); kb > 0 {
		h.MemMb = kb / 1024
	} else {
		missing = append(missing, "memory: no MemTotal in /proc/meminfo")
	}
	if cg, err := selfCgroup(o.ProcRoot); err == nil {
		h.Cgroup = cg
		root := filepath.Join(o.SysRoot, "fs/cgroup")
		l := resources.Limits(root, filepath.Join(root, cg))
		h.CgroupCpuCores = l.CPUCores
		h.CgroupMemMb = int64(l.MemBytes / (1 << 20))
	}
	return h, missing
}

func osRelease(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}

// cpuInfo returns the first "model name" and the number of processors.
func cpuInfo(path string) (string, int) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0
	}
	defer f.Close()
	model, n := "", 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			n++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		}
	}
	return model, n
}

func memTotalKB(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

func selfCgroup(procRoot string) (string, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, "self/cgroup"))
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}
