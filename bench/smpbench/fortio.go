//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/smp-project/smp/target"
)

// fortioResult is the part of Fortio's JSON output read here.
type fortioResult struct {
	ActualQPS         float64
	DurationHistogram struct {
		Count int64
	}
	RetCodes map[string]int64
}

// fortioRun runs `fortio load` at qps over conns connections with its JSON
// result on stdout. Fortio's periodic runner gives each of its conns
// goroutines qps/conns of the rate and sleeps on Go timers; -uniform
// spreads the goroutines' start times over one period so that together
// they do not send in lockstep.
func (b *bench) fortioRun(qps float64, conns int, d time.Duration) (fortioResult, usage, error) {
	args := []string{"load", "-quiet", "-qps", strconv.FormatFloat(qps, 'f', 0, 64), "-c", strconv.Itoa(conns),
		"-t", d.String(), "-uniform", "-json", "-", b.url}
	out, u, err := b.client(d+time.Minute, b.fortio, args...)
	var fr fortioResult
	if err != nil {
		return fr, u, err
	}
	if err := json.Unmarshal(out, &fr); err != nil {
		return fr, u, fmt.Errorf("read fortio's JSON: %w", err)
	}
	return fr, u, nil
}

// vsFortio runs smp and Fortio at 20,000 requests/s (the first -rates
// value) with each connection count of -conns, one after the other against
// the same target, and prints what a request cost each of them in user and
// in total CPU, smp's lateness, and how evenly the target saw the requests
// arrive (its arrival-gap percentiles).
func (b *bench) vsFortio() error {
	rate := b.rates[0]
	for _, conns := range b.connList {
		fmt.Printf("\nopen loop vs fortio: %.0f requests/s, %d connections, %v, client pinned to CPU %s with GOMAXPROCS=%d\n",
			rate, conns, b.duration, b.clientCPU, cpuCount(b.clientCPU))
		if err := b.resetGaps(); err != nil {
			return err
		}
		res, su, err := b.smpRun(rate, conns, b.duration)
		if err != nil {
			return err
		}
		sg, err := b.gaps()
		if err != nil {
			return err
		}
		smpReqs := float64(res.GetRequests().GetTotal())
		if err := b.resetGaps(); err != nil {
			return err
		}
		fr, fu, err := b.fortioRun(rate, conns, b.duration)
		if err != nil {
			return err
		}
		fg, err := b.gaps()
		if err != nil {
			return err
		}
		fReqs := float64(fr.DurationHistogram.Count)
		line := func(name string, reqs, actual float64, u usage, g gapFigures) {
			fmt.Printf("  %-6s %8.0f requests %9.1f/s  user %5.2f s  sys %5.2f s  %8.0f req/user-CPU-s  %8.0f req/CPU-s  gaps p1 %4.0f µs p50 %4.0f µs p99 %5.0f µs\n",
				name, reqs, actual, u.user.Seconds(), u.sys.Seconds(), reqs/u.user.Seconds(), reqs/u.cpu.Seconds(), g.P1, g.P50, g.P99)
		}
		line("smp", smpReqs, res.GetActualQps(), su, sg)
		line("fortio", fReqs, fr.ActualQPS, fu, fg)
		fmt.Printf("  smp lateness p99 %.3f ms (%d sends over 1 ms late), saturation %d slots\n",
			res.GetGenerator().GetLatenessP99Ms(), res.GetGenerator().GetLateSends(), res.GetGenerator().GetSaturatedSlots())
		fmt.Printf("  ratio smp/fortio: requests per user CPU-second %.3f, per total CPU-second %.3f\n",
			(smpReqs/su.user.Seconds())/(fReqs/fu.user.Seconds()), (smpReqs/su.cpu.Seconds())/(fReqs/fu.cpu.Seconds()))
	}
	return nil
}

// maxRate tries the -max-rates in order, 5 s each, and reports the highest
// that one client core holds: within 1% of the requested rate, lateness
// p99 under 1 ms, and fewer than 1% of the slots waiting for a connection
// (with 64 connections and answers in tens of µs, waits for a connection
// mean the generator read its answers late: its CPU, not the target, was
// short). It stops at the first rate that fails.
func (b *bench) maxRate() error {
	const d = 5 * time.Second
	conns := b.connList[len(b.connList)-1]
	fmt.Printf("\nhighest open-loop rate on CPU %s (GOMAXPROCS=%d), %d connections, %v a rate: within 1%%, lateness p99 < 1 ms, < 1%% of slots waiting for a connection\n",
		b.clientCPU, cpuCount(b.clientCPU), conns, d)
	best := 0.0
	for _, rate := range b.maxRates {
		res, u, err := b.smpRun(rate, conns, d)
		if err != nil {
			return err
		}
		dev := 100 * (res.GetActualQps() - rate) / rate
		late := res.GetGenerator().GetLatenessP99Ms()
		sat := 100 * float64(res.GetGenerator().GetSaturatedSlots()) / float64(max(res.GetRequests().GetTotal(), 1))
		ok := dev > -1 && dev < 1 && late < 1 && sat < 1 && res.GetRequests().GetErrors() == 0
		fmt.Printf("  %7.0f/s: actual %9.1f/s (%+.3f%%), lateness p99 %.3f ms, %.2f%% of slots waited for a connection, client CPU %.0f%% of one core (user %.2f s, sys %.2f s): %s\n",
			rate, res.GetActualQps(), dev, late, sat, 100*u.cpu.Seconds()/u.wall.Seconds(), u.user.Seconds(), u.sys.Seconds(), map[bool]string{true: "holds", false: "does not hold"}[ok])
		if !ok {
			break
		}
		best = rate
	}
	fmt.Printf("  highest rate held: %.0f/s\n", best)
	return nil
}

// gapFigures are the target's arrival gaps on its HTTP listener, in µs.
type gapFigures = target.ArrivalGaps

// resetGaps empties the target's arrival-gap histograms so that the next
// fetch holds one run's gaps only.
func (b *bench) resetGaps() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := target.ResetRemoteArrivalGaps(ctx, nil, b.url, b.token)
	return err
}

// gaps returns the arrival gaps the target saw on its HTTP listener since
// the last reset.
func (b *bench) gaps() (gapFigures, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := target.FetchStats(ctx, nil, b.url)
	if err != nil {
		return gapFigures{}, err
	}
	return st.ArrivalGaps["http"], nil
}
