package target

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/smp-project/smp/internal/race"
)

// TestAccuracyDelayPrecision checks that a response delay is what it says
// to well under a millisecond: a comparison of 1.0 ms with 1.2 ms must read
// +0.2 ms, not the +1 ms that millisecond timer wake-ups would make of it.
// It times sequential requests of one keep-alive HTTP/1.1 connection,
// interleaving the delays so that drift on a shared machine hits all alike,
// and compares medians, each net of the no-delay median.
func TestAccuracyDelayPrecision(t *testing.T) {
	if race.Enabled {
		t.Skip("timing-sensitive: runs without the race detector (./dev.sh test)")
	}
	s := startTarget(t, Config{HTTP: anyPort})
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	base := "http://" + s.Addrs().HTTP
	urls := []string{base + "/", base + "/?delay=1ms", base + "/?delay=1200us"}
	const n = 300
	lat := make([][]time.Duration, len(urls))
	fetch := func(url string) time.Duration {
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		el := time.Since(start)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d, %v", url, resp.StatusCode, err)
		}
		return el
	}
	for _, u := range urls { // connect and warm up
		fetch(u)
	}
	for range n {
		for i, u := range urls {
			lat[i] = append(lat[i], fetch(u))
		}
	}
	med := make([]time.Duration, len(urls))
	for i := range lat {
		slices.Sort(lat[i])
		med[i] = lat[i][n/2]
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	t.Logf("median no delay %.3f ms, 1.0 ms %.3f ms, 1.2 ms %.3f ms; difference %.3f ms",
		ms(med[0]), ms(med[1]), ms(med[2]), ms(med[2]-med[1]))
	const tol = 150 * time.Microsecond
	for i, d := range []time.Duration{0, time.Millisecond, 1200 * time.Microsecond} {
		if i == 0 {
			continue
		}
		if got, want := med[i], med[0]+d; got < want-tol || got > want+tol {
			t.Errorf("delay %v: median %.3f ms, want %.3f ± %.2f ms (the delay plus the no-delay median)",
				d, ms(got), ms(want), ms(tol))
		}
	}
	if diff := med[2] - med[1]; diff < 120*time.Microsecond || diff > 280*time.Microsecond {
		t.Errorf("1.2 ms - 1.0 ms medians: %.3f ms, want 0.2 ± 0.08 ms", ms(diff))
	}
}
