package lab

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/internal/race"
)

// TestAccuracyShippedStudy runs the shipped filter study end to end on
// 127.0.0.1 — the app, smp proxy without a filter, with the native and the
// WebAssembly rate limiters (the module built from lab/wasm/ratelimit),
// and nginx with limit_req — shortened (2 runs of 1 s, two levels, one
// confirmation), and checks what the study is about: beyond capacity the
// limiters terminate requests with a local 429 while the control's excess
// is the app's 503, and each path's capacity is the app's 100/s.
func TestAccuracyShippedStudy(t *testing.T) {
	if race.Enabled {
		t.Skip("the study's rates are measured without the race detector (dev.sh runs it in the accuracy pass)")
	}
	if _, err := exec.LookPath("nginx"); err != nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("Debian's nginx is required with CI=true (apt-get install nginx)")
			}
			t.Skip("no nginx (apt-get install nginx)")
		}
	}
	e, err := LoadFile("studies/filter-study.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e.Runs, e.Duration, e.Warmup, e.Pause = 2, Duration(time.Second), 0, 0
	e.Levels.Rates = []float64{50, 150}
	e.Levels.Capacity.Confirm, e.Levels.Capacity.Duration = 1, Duration(time.Second)
	res, err := Run(context.Background(), e, Options{Dir: "studies", SMP: smpBin, ReadyTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.Partial || len(res.Levels) != 2 || len(res.Capacities) != 4 {
		t.Fatalf("partial %v (%s), %d levels, %d capacities", res.Partial, res.PartialReason, len(res.Levels), len(res.Capacities))
	}
	beyond := res.Levels[1]
	for i := range beyond.Variants {
		v := &beyond.Variants[i]
		r, err := v.SMP()
		if err != nil {
			t.Fatal(err)
		}
		codes := r.GetStatusCodes()
		limited, app := codes[429], codes[503]
		switch v.Name {
		case "passthrough":
			if app == 0 || limited != 0 {
				t.Errorf("%s at 150/s: %d × 429, %d × 503; want the app's 503s only", v.Name, limited, app)
			}
		default:
			if limited == 0 {
				t.Errorf("%s at 150/s: %d × 429, %d × 503; want local 429s", v.Name, limited, app)
			}
		}
		// A third of 150/s is beyond the 100/s capacity (less the bursts).
		if e := float64(r.GetRequests().GetErrors()) / float64(r.GetRequests().GetTotal()); e < 0.2 || e > 0.4 {
			t.Errorf("%s at 150/s: %.0f%% errors, want about a third", v.Name, 100*e)
		}
	}
	for _, c := range res.Capacities {
		if c.Capacity < 90 || c.Capacity > 125 {
			t.Errorf("%s: capacity %v, want about the app's 100/s", c.Variant, c.Capacity)
		}
	}
	var page bytes.Buffer
	if err := res.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"filter-study", `id="failed"`, "<h2>At 150/s</h2>", "nginx", "wasm"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if dir := os.Getenv("SMP_STUDY_REPORT"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "filter-study.html"), page.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
