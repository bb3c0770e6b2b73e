package resources

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It is
// 100 on every Linux architecture Go supports (the kernel fixes the value it
// exports to user space, whatever CONFIG_HZ is).
const clockTicks = 100

// procRoot and cgroupRoot are where the kernel's files are; fields of the
// sampler so that a test can point them elsewhere.
const (
	defaultProcRoot   = "/proc"
	defaultCgroupRoot = "/sys/fs/cgroup"
)

// procStat is what one /proc/PID/stat line holds that the sampler needs.
type procStat struct {
	pid, ppid int
	comm      string
	cpuTicks  uint64 // utime + stime
	rssPages  uint64
}

// readStat parses /proc/PID/stat. The command name is in parentheses and may
// itself hold spaces and parentheses, so fields are counted from the last ')'.
func readStat(procRoot string, pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(pid, b)
}

func parseStat(pid int, b []byte) (procStat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	s := procStat{pid: pid, comm: string(b[open+1 : end])}
	// After ")": state(3) ppid(4) ... utime(14) stime(15) ... rss(24).
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields after the name, want at least 22", pid, len(f))
	}
	var err error
	num := func(i int) uint64 {
		v, e := strconv.ParseUint(f[i], 10, 64)
		if e != nil && err == nil {
			err = fmt.Errorf("/proc/%d/stat: field %d %q: %w", pid, i+3, f[i], e)
		}
		return v
	}
	s.ppid = int(num(1))
	s.cpuTicks = num(11) + num(12)
	s.rssPages = num(21)
	return s, err
}

// allStats reads the stat of every process. A process that exits while the
// folder is read is skipped.
func allStats(procRoot string) ([]procStat, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, err
	}
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		s, err := readStat(procRoot, pid)
		if err != nil {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// withDescendants keeps the processes of roots and every descendant: a
// server such as nginx does its work in children of the PID one knows.
func withDescendants(all []procStat, roots map[int]bool) []procStat {
	children := map[int][]int{}
	byPID := map[int]procStat{}
	for _, s := range all {
		children[s.ppid] = append(children[s.ppid], s.pid)
		byPID[s.pid] = s
	}
	var out []procStat
	seen := map[int]bool{}
	stack := make([]int, 0, len(roots))
	for pid := range roots {
		stack = append(stack, pid)
	}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		if s, ok := byPID[pid]; ok {
			out = append(out, s)
		}
		stack = append(stack, children[pid]...)
	}
	return out
}

// cgroupOf reads the cgroup v2 path of a process (the "0::" line of
// /proc/PID/cgroup), relative to the cgroup root.
func cgroupOf(procRoot string, pid int) (string, error) {
	f, err := os.Open(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return p, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("/proc/%d/cgroup: no cgroup v2 entry (a v1-only host)", pid)
}

// cgroupCPUUsec reads usage_usec from a cgroup's cpu.stat.
func cgroupCPUUsec(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s/cpu.stat: no usage_usec", dir)
}

// readUint reads a file holding one number.
func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// CgroupLimits are a cgroup's CPU and memory limits, walking up the tree
// (the tightest ancestor wins); 0 means unlimited.
type CgroupLimits struct {
	CPUCores float64
	MemBytes uint64
}

// Limits reads cpu.max and memory.max of dir and of its ancestors up to
// root. Files that are absent (the root cgroup has none; a controller may
// not be enabled) count as unlimited.
func Limits(root, dir string) CgroupLimits {
	var l CgroupLimits
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "cpu.max")); err == nil {
			if f := strings.Fields(string(b)); len(f) == 2 && f[0] != "max" {
				quota, e1 := strconv.ParseFloat(f[0], 64)
				period, e2 := strconv.ParseFloat(f[1], 64)
				if e1 == nil && e2 == nil && period > 0 {
					if c := quota / period; l.CPUCores == 0 || c < l.CPUCores {
						l.CPUCores = c
					}
				}
			}
		}
		if b, err := os.ReadFile(filepath.Join(d, "memory.max")); err == nil {
			if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
				if l.MemBytes == 0 || v < l.MemBytes {
					l.MemBytes = v
				}
			}
		}
		if d == filepath.Clean(root) || !strings.HasPrefix(d, filepath.Clean(root)) || d == "/" {
			return l
		}
	}
}

// machine is the capacity a figure is measured against when no cgroup
// limits it: the online CPUs and MemTotal.
type machine struct {
	cores    int
	memBytes uint64
}

func readMachine(procRoot string) (machine, error) {
	m := machine{}
	b, err := os.ReadFile(filepath.Join(procRoot, "meminfo"))
	if err != nil {
		return m, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return m, fmt.Errorf("meminfo MemTotal %q: %w", v, err)
			}
			m.memBytes = kb * 1024
		}
	}
	st, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return m, err
	}
	for line := range strings.SplitSeq(string(st), "\n") {
		if strings.HasPrefix(line, "cpu") && len(line) > 3 && line[3] >= '0' && line[3] <= '9' {
			m.cores++
		}
	}
	if m.cores == 0 || m.memBytes == 0 {
		return m, errors.New("no CPUs or no MemTotal in " + procRoot)
	}
	return m, nil
}
