//go:build linux

// Command smpbench measures smp's load generator against wrk, h2load and Fortio:
// closed-loop efficiency (requests per client CPU-second), open-loop rate
// accuracy and scheduler lateness, and peak memory over run length. It runs real processes pinned to CPUs with taskset, reads
// their CPU time and peak RSS from the kernel's rusage, and prints its
// figures; the bench/*.sh scripts call it. It is Linux-only, as taskset
// and the CPU list in /sys are.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smp-project/smp/spec"
)

type bench struct {
	smp, wrk, fortio     string
	h2load               string
	streams              int
	connList             []int
	maxRates             []float64
	serverCPU, clientCPU string
	url                  string
	duration             time.Duration
	connections          int
	rates                []float64
	rssRate              float64
	rssShort, rssLong    time.Duration
	server               *exec.Cmd
	token                string        // the target's control token, chosen here
	rounds               int           // closed and h2: rounds of both clients
	warmup               time.Duration // closed and h2: the peer's unmeasured run first
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "smpbench:", err)
		os.Exit(1)
	}
}

func run() error {
	var b bench
	var rates string
	flag.StringVar(&b.smp, "smp", "smp", "path of the smp binary")
	flag.StringVar(&b.wrk, "wrk", "/usr/bin/wrk", "path of wrk")
	flag.StringVar(&b.fortio, "fortio", "fortio", "path of fortio (the fortio benchmark)")
	flag.StringVar(&b.h2load, "h2load", "/usr/bin/h2load", "path of h2load (the h2 benchmark)")
	flag.IntVar(&b.streams, "streams", 16, "concurrent streams per connection (the h2 benchmark)")
	var external string
	flag.StringVar(&external, "url", "", "h2c server to load instead of starting smp target, e.g. nginx pinned to the server CPU (the h2 benchmark only)")
	var connList, maxRates string
	flag.StringVar(&connList, "conns", "16,64", "connection counts of the fortio benchmark")
	flag.StringVar(&maxRates, "max-rates", "10000,20000,30000,40000,50000,75000,100000", "rates the maxrate benchmark tries, in order")
	flag.StringVar(&b.serverCPU, "server-cpu", "0", "CPU list for the target (taskset -c)")
	flag.StringVar(&b.clientCPU, "client-cpu", "1", "CPU list for the load generator (taskset -c)")
	flag.DurationVar(&b.duration, "d", 10*time.Second, "duration of each closed- and open-loop run")
	flag.IntVar(&b.rounds, "rounds", 1, "rounds of both clients, alternating which runs first (closed, h2)")
	flag.DurationVar(&b.warmup, "warmup", 2*time.Second, "unmeasured run of the peer before the rounds (closed, h2)")
	flag.IntVar(&b.connections, "c", 8, "connections")
	flag.StringVar(&rates, "rates", "20000,50000", "open-loop rates")
	flag.Float64Var(&b.rssRate, "rss-rate", 5000, "rate of the peak-RSS runs")
	flag.DurationVar(&b.rssShort, "rss-short", 10*time.Second, "short peak-RSS run")
	flag.DurationVar(&b.rssLong, "rss-long", 60*time.Second, "long peak-RSS run")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: smpbench [flags] closed|h2|open|rss|fortio|maxrate...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	for _, r := range strings.Split(rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("-rates: %q is not a rate", r)
		}
		b.rates = append(b.rates, v)
	}
	for _, c := range strings.Split(connList, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || v <= 0 {
			return fmt.Errorf("-conns: %q is not a connection count", c)
		}
		b.connList = append(b.connList, v)
	}
	for _, r := range strings.Split(maxRates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("-max-rates: %q is not a rate", r)
		}
		b.maxRates = append(b.maxRates, v)
	}
	if b.rounds < 1 {
		return fmt.Errorf("-rounds %d: at least 1", b.rounds)
	}
	if flag.NArg() == 0 {
		flag.Usage()
		return errors.New("name at least one benchmark")
	}
	if external != "" {
		// Only the h2 benchmark reads nothing of the target's own
		// (no control API), so only it may run against another server.
		for _, name := range flag.Args() {
			if name != "h2" {
				return fmt.Errorf("-url: only the h2 benchmark runs against another server, not %q", name)
			}
		}
		b.url = external
	} else {
		if err := b.startServer(); err != nil {
			return err
		}
		defer b.stopServer()
	}
	server := "smp target"
	if external != "" {
		server = external
	}
	fmt.Printf("machine: %d CPUs online; target (%s) on CPU %s, client on CPU %s; load average %s\n", numCPU(), server, b.serverCPU, b.clientCPU, loadAvg())
	for _, name := range flag.Args() {
		var err error
		switch name {
		case "closed":
			err = b.closed()
		case "h2":
			err = b.h2()
		case "open":
			err = b.open()
		case "rss":
			err = b.rss()
		case "fortio":
			err = b.vsFortio()
		case "maxrate":
			err = b.maxRate()
		default:
			err = fmt.Errorf("unknown benchmark %q (closed, h2, open, rss, fortio, maxrate)", name)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// startServer runs `smp target` pinned to the server CPU on a free
// loopback port and waits until it accepts connections.
func (b *bench) startServer() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return err
	}
	b.token = hex.EncodeToString(tok[:])
	b.server = exec.Command("taskset", "-c", b.serverCPU, b.smp, "target", "--http", addr, "--control")
	// By the environment, not a flag: a flag shows in ps.
	b.server.Env = append(os.Environ(), "SMP_TARGET_CONTROL_TOKEN="+b.token)
	b.server.Stderr = os.Stderr
	if err := b.server.Start(); err != nil {
		return fmt.Errorf("start the target: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.stopServer()
			return fmt.Errorf("the target did not listen on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.url = "http://" + addr + "/"
	return nil
}

func (b *bench) stopServer() {
	if b.server != nil && b.server.Process != nil {
		_ = b.server.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = b.server.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = b.server.Process.Kill()
		}
	}
}

// usage is what the kernel accounted to a finished child.
type usage struct {
	cpu       time.Duration // user + system
	user, sys time.Duration
	maxRSS    int64 // KiB
	wall      time.Duration
}

// client runs a command pinned to the client CPU with GOMAXPROCS set to the
// CPUs it may use, returns its stdout and its rusage.
func (b *bench) client(timeout time.Duration, name string, args ...string) ([]byte, usage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "taskset", append([]string{"-c", b.clientCPU, name}, args...)...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(cpuCount(b.clientCPU)))
	cmd.Stderr = os.Stderr
	if name == b.fortio {
		cmd.Stderr = nil // Fortio logs every connection there, -quiet or not
	}
	start := time.Now()
	out, err := cmd.Output()
	u := usage{wall: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			u.user, u.sys = time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
			u.cpu = u.user + u.sys
			u.maxRSS = ru.Maxrss
		}
	}
	if err != nil {
		return out, u, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out, u, nil
}

// smpRun runs `smp run` with a JSON result on stdout.
func (b *bench) smpRun(qps float64, conns int, d time.Duration) (*spec.PerformanceTestResult, usage, error) {
	args := []string{"run", b.url, "--qps", strconv.FormatFloat(qps, 'f', 0, 64), "-c", strconv.Itoa(conns),
		"-d", d.String(), "--format", "json", "-q"}
	out, u, err := b.client(d+time.Minute, b.smp, args...)
	if err != nil {
		return nil, u, err
	}
	doc, err := spec.Load(out, "smp run output")
	if err != nil {
		return nil, u, err
	}
	return doc.Result, u, nil
}

var wrkRequests = regexp.MustCompile(`(\d+) requests in`)

// sample is one client run: its request count and what the kernel
// accounted to it.
type sample struct {
	reqs float64
	u    usage
	note string // printed after the figures
}

func (s sample) perCPU() float64 { return s.reqs / s.u.cpu.Seconds() }

// pair compares smp with a peer on a closed loop. The target is warmed by
// the peer first (unmeasured): a fresh Go target speeds up over its first
// seconds, which favoured whichever client ran second. Then each of
// b.rounds rounds runs both, smp first in odd rounds and the peer first
// in even ones, so that a drift of this shared VM's speed weighs on both
// alike. The ratio is of the pooled rounds: all requests over all CPU
// time of each client.
func (b *bench) pair(peer string, runSMP, runPeer func(d time.Duration) (sample, error)) error {
	if b.warmup > 0 {
		if _, err := runPeer(b.warmup); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	var tot [2]sample
	var ratios []float64
	for r := 1; r <= b.rounds; r++ {
		var got [2]sample
		for k := range 2 {
			i := (k + r + 1) % 2 // round 1: smp (0) first
			run := runSMP
			if i == 1 {
				run = runPeer
			}
			sm, err := run(b.duration)
			if err != nil {
				return err
			}
			got[i] = sm
			tot[i].reqs += sm.reqs
			tot[i].u.cpu += sm.u.cpu
			tot[i].u.user += sm.u.user
		}
		for i, name := range []string{"smp", peer} {
			sm := got[i]
			fmt.Printf("  round %d %-7s %9.0f requests  %6.2f s CPU (%.2f user)  %9.0f requests/CPU-s  (%.0f/s%s)\n",
				r, name, sm.reqs, sm.u.cpu.Seconds(), sm.u.user.Seconds(), sm.perCPU(), sm.reqs/b.duration.Seconds(), sm.note)
		}
		ratios = append(ratios, got[0].perCPU()/got[1].perCPU())
	}
	slices.Sort(ratios)
	fmt.Printf("  smp %9.0f requests/CPU-s, %s %9.0f requests/CPU-s over %d rounds\n", tot[0].perCPU(), peer, tot[1].perCPU(), b.rounds)
	fmt.Printf("  ratio smp/%s (requests per client CPU-second): %.3f  (rounds: %.3f–%.3f)\n",
		peer, tot[0].perCPU()/tot[1].perCPU(), ratios[0], ratios[len(ratios)-1])
	return nil
}

func (b *bench) closed() error {
	fmt.Printf("\nclosed loop, HTTP/1.1 keep-alive, %d connections, %v a run, %d rounds, client pinned to CPU %s with GOMAXPROCS=%d\n",
		b.connections, b.duration, b.rounds, b.clientCPU, cpuCount(b.clientCPU))
	return b.pair("wrk", func(d time.Duration) (sample, error) {
		res, u, err := b.smpRun(0, b.connections, d)
		if err != nil {
			return sample{}, err
		}
		return sample{reqs: float64(res.GetRequests().GetTotal()), u: u,
			note: fmt.Sprintf(", p99 %.3f ms, %d errors", res.GetLatenciesMs().GetP99(), res.GetRequests().GetErrors())}, nil
	}, func(d time.Duration) (sample, error) {
		out, u, err := b.client(d+time.Minute, b.wrk, "-t1", "-c"+strconv.Itoa(b.connections), "-d"+strconv.Itoa(int(d.Seconds()))+"s", b.url)
		if err != nil {
			return sample{}, err
		}
		m := wrkRequests.FindSubmatch(out)
		if m == nil {
			return sample{}, fmt.Errorf("cannot read wrk's request count from:\n%s", out)
		}
		n, _ := strconv.ParseFloat(string(m[1]), 64)
		return sample{reqs: n, u: u}, nil
	})
}

var h2loadRequests = regexp.MustCompile(`requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed`)

// h2 is the closed loop over HTTP/2 with prior knowledge (h2c): smp's
// http2 driver against h2load (nghttp2), the same connections and
// concurrent streams on each, one client thread.
func (b *bench) h2() error {
	fmt.Printf("\nclosed loop, HTTP/2 (h2c), %d connections x %d streams, %v a run, %d rounds, client pinned to CPU %s with GOMAXPROCS=%d\n",
		b.connections, b.streams, b.duration, b.rounds, b.clientCPU, cpuCount(b.clientCPU))
	return b.pair("h2load", func(d time.Duration) (sample, error) {
		args := []string{"run", b.url, "--protocol", "http2", "--qps", "0", "-c", strconv.Itoa(b.connections),
			"--streams", strconv.Itoa(b.streams), "-d", d.String(), "--format", "json", "-q"}
		out, u, err := b.client(d+time.Minute, b.smp, args...)
		if err != nil {
			return sample{}, err
		}
		doc, err := spec.Load(out, "smp run output")
		if err != nil {
			return sample{}, err
		}
		res := doc.Result
		return sample{reqs: float64(res.GetRequests().GetTotal()), u: u,
			note: fmt.Sprintf(", p99 %.3f ms, %d errors", res.GetLatenciesMs().GetP99(), res.GetRequests().GetErrors())}, nil
	}, func(d time.Duration) (sample, error) {
		out, u, err := b.client(d+time.Minute, b.h2load, "-t1", "-c"+strconv.Itoa(b.connections),
			"-m"+strconv.Itoa(b.streams), "-D"+strconv.Itoa(max(1, int(d.Seconds()))), b.url)
		if err != nil {
			return sample{}, err
		}
		m := h2loadRequests.FindSubmatch(out)
		if m == nil {
			return sample{}, fmt.Errorf("cannot read h2load's request count from:\n%s", out)
		}
		n, _ := strconv.ParseFloat(string(m[1]), 64)
		if failed, _ := strconv.Atoi(string(m[2])); failed > b.connections*b.streams {
			return sample{}, fmt.Errorf("h2load: %d requests failed:\n%s", failed, out)
		}
		return sample{reqs: n, u: u}, nil
	})
}

func (b *bench) open() error {
	for _, rate := range b.rates {
		fmt.Printf("\nopen loop %.0f requests/s, %d connections, %v, client pinned to CPU %s with GOMAXPROCS=%d\n",
			rate, b.connections, b.duration, b.clientCPU, cpuCount(b.clientCPU))
		res, u, err := b.smpRun(rate, b.connections, b.duration)
		if err != nil {
			return err
		}
		dev := 100 * (res.GetActualQps() - rate) / rate
		fmt.Printf("  actual %.1f/s (%+.3f%% of requested), %d requests, %d errors\n",
			res.GetActualQps(), dev, res.GetRequests().GetTotal(), res.GetRequests().GetErrors())
		fmt.Printf("  generator lateness p99 %.3f ms, %d sends over 1 ms late, %d slots waited for a connection; client CPU %.2f s (%.0f%% of one core)\n",
			res.GetGenerator().GetLatenessP99Ms(), res.GetGenerator().GetLateSends(), res.GetGenerator().GetSaturatedSlots(), u.cpu.Seconds(), 100*u.cpu.Seconds()/u.wall.Seconds())
		fmt.Printf("  latency p50 %.3f ms, p99 %.3f ms corrected; p99 %.3f ms uncorrected\n",
			res.GetLatenciesMs().GetP50(), res.GetLatenciesMs().GetP99(), res.GetUncorrectedLatenciesMs().GetP99())
	}
	return nil
}

func (b *bench) rss() error {
	fmt.Printf("\npeak RSS at %.0f requests/s, %d connections: %v run vs %v run\n", b.rssRate, b.connections, b.rssShort, b.rssLong)
	var peaks [2]int64
	for i, d := range []time.Duration{b.rssShort, b.rssLong} {
		res, u, err := b.smpRun(b.rssRate, b.connections, d)
		if err != nil {
			return err
		}
		peaks[i] = u.maxRSS
		fmt.Printf("  %-6v peak RSS %7.1f MiB, %d requests, %d intervals\n", d, float64(u.maxRSS)/1024, res.GetRequests().GetTotal(), len(res.GetIntervals()))
	}
	fmt.Printf("  ratio long/short: %.3f\n", float64(peaks[1])/float64(peaks[0]))
	return nil
}

// cpuCount counts the CPUs in a taskset list such as "1" or "0-3,6".
func cpuCount(list string) int {
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		if !isRange {
			if err1 == nil {
				n++
			}
			continue
		}
		z, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil && z >= a {
			n += z - a + 1
		}
	}
	return max(n, 1)
}

// loadAvg is the 1, 5 and 15-minute load averages, for the record: the
// figures of a shared machine depend on them.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func numCPU() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 0
	}
	return cpuCount(strings.TrimSpace(string(b)))
}
