package resources

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/smp-project/smp/spec"
)

// Units of the figures.
const (
	UnitCPU    = "mcores"
	UnitMemory = "MiB"
)

// Watch is one local source: a process (with its descendants), every process
// of a command name (with theirs), or a cgroup. Exactly one of PID, Cmd and
// Cgroup is set.
type Watch struct {
	// Component names the figure in the result (and in MeshMark): "sidecar",
	// "gateway"...; default: the source.
	Component string
	PID       int
	Cmd       string
	// Cgroup is a cgroup v2 folder, absolute or under /sys/fs/cgroup.
	Cgroup string
}

// Source names where a Watch reads: "pid:1234", "cmd:nginx", "cgroup:/x".
func (w Watch) Source() string {
	switch {
	case w.PID > 0:
		return "pid:" + strconv.Itoa(w.PID)
	case w.Cmd != "":
		return "cmd:" + w.Cmd
	default:
		return "cgroup:" + w.Cgroup
	}
}

func (w Watch) component() string {
	if w.Component != "" {
		return w.Component
	}
	return w.Source()
}

// ParseWatch reads a flag value "[COMPONENT=]VALUE" of kind "pid", "cmd" or
// "cgroup".
func ParseWatch(kind, s string) (Watch, error) {
	var w Watch
	comp, val, ok := strings.Cut(s, "=")
	if !ok {
		comp, val = "", s
	}
	if ok && strings.TrimSpace(comp) == "" {
		return w, fmt.Errorf("%q: empty component before '='", s)
	}
	w.Component = comp
	if val == "" {
		return w, fmt.Errorf("%q: no %s", s, kind)
	}
	switch kind {
	case "pid":
		pid, err := strconv.Atoi(val)
		if err != nil || pid <= 0 {
			return w, fmt.Errorf("%q: want a process id > 0", val)
		}
		w.PID = pid
	case "cmd":
		// The kernel keeps 15 bytes of a command name (TASK_COMM_LEN - 1).
		if len(val) > 15 || strings.ContainsRune(val, '/') {
			return w, fmt.Errorf("%q: want a command name as in /proc/PID/comm (at most 15 bytes, no '/')", val)
		}
		w.Cmd = val
	case "cgroup":
		w.Cgroup = val
	default:
		return w, fmt.Errorf("unknown watch kind %q", kind)
	}
	return w, nil
}

// LocalOptions say what a Local sampler reads.
type LocalOptions struct {
	Watches []Watch
	// Self adds the generator's own process as component "generator".
	Self bool
	// Step between samples; 0 means 1 s.
	Step time.Duration
	// ProcRoot and CgroupRoot default to /proc and /sys/fs/cgroup.
	ProcRoot, CgroupRoot string
}

// Local samples processes and cgroups from /proc and cgroup v2 files.
type Local struct {
	o       LocalOptions
	machine machine
	page    uint64
	watches []*watchState
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// watchState is what a Watch has measured so far. Only the sampling
// goroutine writes it until Stop has waited for that goroutine.
type watchState struct {
	w        Watch
	source   string
	cgroup   string // resolved folder of a cgroup watch
	prevCPU  map[int]uint64
	prevUsec uint64
	prevAt   time.Time
	started  bool
	cpu, mem []float64
	missed   int   // samples with nothing to read
	err      error // why the source could not be read at all
	limits   CgroupLimits
}

// StartLocal takes a first sample of every watch now (a PID that does not
// exist is reported in its figure, not here) and samples each step until
// Stop. It fails only when the machine's own capacity cannot be read.
func StartLocal(o LocalOptions) (*Local, error) {
	if o.Step <= 0 {
		o.Step = time.Second
	}
	if o.ProcRoot == "" {
		o.ProcRoot = defaultProcRoot
	}
	if o.CgroupRoot == "" {
		o.CgroupRoot = defaultCgroupRoot
	}
	m, err := readMachine(o.ProcRoot)
	if err != nil {
		return nil, fmt.Errorf("resources: machine capacity: %w", err)
	}
	l := &Local{o: o, machine: m, page: uint64(os.Getpagesize()), stop: make(chan struct{}), done: make(chan struct{})}
	ws := o.Watches
	if o.Self {
		ws = append([]Watch{{Component: "generator", PID: os.Getpid()}}, ws...)
	}
	for i, w := range ws {
		st := &watchState{w: w, source: w.Source(), prevCPU: map[int]uint64{}}
		if o.Self && i == 0 {
			st.source = "self"
		}
		l.resolve(st)
		l.watches = append(l.watches, st)
	}
	l.sample(time.Now())
	go l.loop()
	return l, nil
}

// resolve finds a watch's cgroup and its limits, the figure's assignment.
func (l *Local) resolve(st *watchState) {
	var rel string
	switch {
	case st.w.Cgroup != "":
		dir := st.w.Cgroup
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(l.o.CgroupRoot, dir)
		}
		if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
			st.err = fmt.Errorf("cgroup %s: not a cgroup v2 folder: %w", dir, err)
			return
		}
		st.cgroup = dir
		st.limits = Limits(l.o.CgroupRoot, dir)
		return
	case st.w.PID > 0:
		if _, err := readStat(l.o.ProcRoot, st.w.PID); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				st.err = fmt.Errorf("pid %d: no such process", st.w.PID)
			} else {
				st.err = fmt.Errorf("pid %d: %w", st.w.PID, err)
			}
			return
		}
		var err error
		if rel, err = cgroupOf(l.o.ProcRoot, st.w.PID); err != nil {
			return // no limits known: measured against the machine
		}
		st.limits = Limits(l.o.CgroupRoot, filepath.Join(l.o.CgroupRoot, rel))
	}
}

func (l *Local) loop() {
	defer close(l.done)
	t := time.NewTicker(l.o.Step)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			l.sample(now)
		}
	}
}

// sample reads every watch once.
func (l *Local) sample(now time.Time) {
	var all []procStat
	needProcs := false
	for _, st := range l.watches {
		needProcs = needProcs || (st.err == nil && st.cgroup == "")
	}
	if needProcs {
		all, _ = allStats(l.o.ProcRoot)
	}
	for _, st := range l.watches {
		if st.err != nil {
			continue
		}
		if st.cgroup != "" {
			l.sampleCgroup(st, now)
		} else {
			l.sampleProcs(st, all, now)
		}
	}
}

func (l *Local) sampleProcs(st *watchState, all []procStat, now time.Time) {
	roots := map[int]bool{}
	if st.w.PID > 0 {
		roots[st.w.PID] = true
	} else {
		for _, s := range all {
			if s.comm == st.w.Cmd {
				roots[s.pid] = true
			}
		}
	}
	procs := withDescendants(all, roots)
	if len(procs) == 0 {
		if st.started {
			st.missed++
		}
		return
	}
	var cpuTicks uint64 // ticks spent since the last sample
	var rss uint64
	cur := make(map[int]uint64, len(procs))
	for _, p := range procs {
		cur[p.pid] = p.cpuTicks
		rss += p.rssPages * l.page
		if prev, ok := st.prevCPU[p.pid]; ok && p.cpuTicks >= prev {
			cpuTicks += p.cpuTicks - prev
		} else if st.started {
			// Born since the last sample (an nginx worker replaced):
			// all of its time falls in this step, or nearly.
			cpuTicks += p.cpuTicks
		}
	}
	st.prevCPU = cur
	l.record(st, now, float64(cpuTicks)/clockTicks, float64(rss))
}

func (l *Local) sampleCgroup(st *watchState, now time.Time) {
	usec, err := cgroupCPUUsec(st.cgroup)
	if err != nil {
		st.missed++
		return
	}
	mem, err := readUint(filepath.Join(st.cgroup, "memory.current"))
	if err != nil {
		st.missed++
		return
	}
	var delta float64
	if st.started && usec >= st.prevUsec {
		delta = float64(usec-st.prevUsec) / 1e6
	}
	st.prevUsec = usec
	l.record(st, now, delta, float64(mem))
}

// record adds one sample: CPU seconds spent since the previous sample and
// the memory now. The first sample is only the baseline.
func (l *Local) record(st *watchState, now time.Time, cpuSeconds, memBytes float64) {
	if !st.started {
		st.started, st.prevAt = true, now
		return
	}
	dt := now.Sub(st.prevAt)
	st.prevAt = now
	if dt <= 0 {
		return
	}
	if dt < l.o.Step/2 {
		// The last sample, at Stop, may close a short step: a rate over a
		// few milliseconds (10 ms ticks) would be noise.
		return
	}
	st.cpu = append(st.cpu, 1000*cpuSeconds/dt.Seconds())
	st.mem = append(st.mem, memBytes/(1<<20))
}

// Stop takes a last sample, ends the sampling and returns a CPU and a memory
// figure per watch, and one capture entry per watch. It may be called once;
// later calls return nothing.
func (l *Local) Stop() (figs []*spec.ResourceUsage, caps []*spec.Capture) {
	first := false
	l.once.Do(func() {
		first = true
		close(l.stop)
		<-l.done
	})
	if !first {
		return nil, nil
	}
	l.sample(time.Now())
	for _, st := range l.watches {
		cpu := &spec.ResourceUsage{Component: st.w.component(), Class: "cpu", Unit: UnitCPU, Source: st.source, StepS: l.o.Step.Seconds()}
		mem := &spec.ResourceUsage{Component: st.w.component(), Class: "memory", Unit: UnitMemory, Source: st.source, StepS: l.o.Step.Seconds()}
		cpu.Assigned = 1000 * float64(l.machine.cores)
		if st.limits.CPUCores > 0 && st.limits.CPUCores < float64(l.machine.cores) {
			cpu.Assigned = 1000 * st.limits.CPUCores
		}
		mem.Assigned = float64(l.machine.memBytes) / (1 << 20)
		if st.limits.MemBytes > 0 && st.limits.MemBytes < l.machine.memBytes {
			mem.Assigned = float64(st.limits.MemBytes) / (1 << 20)
		}
		c := &spec.Capture{Name: st.source, Status: "ok"}
		switch {
		case st.err != nil:
			c.Status, c.Reason = "failed", st.err.Error()
		case len(st.cpu) == 0:
			c.Status, c.Reason = "empty", "no sample: "+noProcess(st.w)
		default:
			cpu.Series, mem.Series = st.cpu, st.mem
			// The mean of the samples, as the proto says and as Prometheus
			// figures are: a short last step (cut by Stop) is left out of
			// it as of the series, since on 10 ms clock ticks a step of a
			// few tens of milliseconds (the engine's drain and summing up)
			// read as hundreds of millicores and made a short run's mean
			// larger than its largest sample.
			cpu.Used, cpu.Max = mean(st.cpu), maxOf(st.cpu)
			mem.Used, mem.Max = mean(st.mem), maxOf(st.mem)
			if st.missed > 0 {
				c.Status = "partial"
				c.Reason = fmt.Sprintf("%d of %d samples missing: %s", st.missed, st.missed+len(st.cpu), noProcess(st.w))
			}
		}
		if c.Status == "failed" || c.Status == "empty" {
			cpu.Error, mem.Error = c.Reason, c.Reason
		}
		figs = append(figs, cpu, mem)
		caps = append(caps, c)
	}
	return figs, caps
}

func noProcess(w Watch) string {
	switch {
	case w.PID > 0:
		return fmt.Sprintf("process %d had exited", w.PID)
	case w.Cmd != "":
		return fmt.Sprintf("no process named %q", w.Cmd)
	default:
		return "cgroup files unreadable"
	}
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	if len(v) == 0 {
		return 0
	}
	return m
}
