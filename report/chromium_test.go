package report

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/smp-project/smp/spec"
)

// chromium finds Debian's chromium. In CI (CI=true) a missing browser is
// installed with apt-get, and a failure to install fails the test; locally
// the test is skipped with a message.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "true" {
		t.Skip("chromium is not installed: apt-get install -y chromium (CI installs it and runs this test)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "chromium"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, tail(out, 2000))
		}
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium installed but not found: %v", err)
	}
	return p
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// chartInfo is what the page reports about one chart.
type chartInfo struct {
	ID     string  `json:"id"`
	Kind   string  `json:"kind"`
	Paths  int     `json:"paths"`  // paths with a drawn outline
	Rects  int     `json:"rects"`  // rectangles (frame, error marks)
	Width  float64 `json:"width"`  // rendered size
	Height float64 `json:"height"` //
	Drawn  float64 `json:"drawn"`  // widest bounding box of a series path
}

type pageInfo struct {
	Charts []chartInfo `json:"charts"`
	Title  string      `json:"title"`
	// Tip is the hover read-out after a synthetic mouse move over the
	// spectrum.
	Tip        string `json:"tip"`
	TipVisible bool   `json:"tipVisible"`
}

const inspectJS = `(() => {
  const charts = Array.from(document.querySelectorAll("svg.chart")).map(s => {
    const r = s.getBoundingClientRect();
    let drawn = 0;
    for (const p of s.querySelectorAll("path.series")) {
      const b = p.getBBox();
      drawn = Math.max(drawn, b.width);
    }
    return {
      id: s.id, kind: s.dataset.chart,
      paths: Array.from(s.querySelectorAll("path")).filter(p => (p.getAttribute("d") || "").length > 10).length,
      rects: s.querySelectorAll("rect").length,
      width: r.width, height: r.height, drawn: drawn,
    };
  });
  const spec = document.getElementById("chart-spectrum");
  let tip = "", tipVisible = false;
  if (spec) {
    const r = spec.getBoundingClientRect();
    spec.dispatchEvent(new MouseEvent("mousemove", {clientX: r.left + r.width * 0.6, clientY: r.top + r.height / 2, bubbles: true}));
    const el = document.getElementById("tip");
    tip = el.textContent;
    tipVisible = getComputedStyle(el).display !== "none";
  }
  return {charts: charts, title: document.title, tip: tip, tipVisible: tipVisible};
})()`

// TestHTMLInChromium loads reports in headless Chromium and checks that the
// page has no console errors or exceptions, fetches nothing, and that every
// chart drew; it writes a screenshot for review.
func TestHTMLInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	browser := chromium(t)
	hour := synth{name: "baseline", seconds: 3600, rate: 1000, median: 900 * time.Microsecond, sigma: 0.35, seed: 1,
		errorsAt: map[int]int64{600: 15, 601: 40, 2400: 5}}.result(t)
	mesh := synth{name: "istio", seconds: 3600, rate: 1000, median: 1400 * time.Microsecond, sigma: 0.45, seed: 2,
		errorsAt: map[int]int64{1800: 120}}.result(t)
	// A result from another tool: no histogram, no intervals.
	legacy := &spec.PerformanceTestResult{Name: "legacy", ActualQps: 99.9,
		LatenciesMs: &spec.PerformanceTestResult_Latency{Min: 0.5, Average: 2, P50: 1.8, P90: 3, P99: 7.5, Max: 20}}

	tests := []struct {
		name       string
		results    []*spec.PerformanceTestResult
		wantCharts []string
		// hover: the spectrum has a read-out (it has none when only
		// stated percentiles are drawn).
		hover      bool
		screenshot bool
	}{
		{"two one-hour runs", []*spec.PerformanceTestResult{hour, mesh},
			[]string{"spectrum", "latency-0", "throughput-0", "latency-1", "throughput-1", "histogram"}, true, true},
		{"single run and a legacy result", []*spec.PerformanceTestResult{hour, legacy},
			[]string{"spectrum", "latency-0", "throughput-0", "histogram"}, true, false},
		{"legacy result only", []*spec.PerformanceTestResult{legacy}, []string{"spectrum"}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "report.html")
			var buf bytes.Buffer
			if err := WriteHTML(&buf, tc.results, Options{Title: "chromium check"}); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			info, problems, shot := loadInChromium(t, browser, file)
			for _, p := range problems {
				t.Errorf("browser: %s", p)
			}
			if info.Title != "chromium check" {
				t.Errorf("title %q", info.Title)
			}
			got := map[string]chartInfo{}
			for _, c := range info.Charts {
				got[strings.TrimPrefix(c.ID, "chart-")] = c
			}
			if len(info.Charts) != len(tc.wantCharts) {
				t.Errorf("%d charts, want %d: %+v", len(info.Charts), len(tc.wantCharts), info.Charts)
			}
			for _, id := range tc.wantCharts {
				c, ok := got[id]
				switch {
				case !ok:
					t.Errorf("chart %s missing", id)
				case c.Paths == 0 || c.Drawn < 10:
					t.Errorf("chart %s drew nothing: %+v", id, c)
				case c.Width < 300 || c.Height < 100:
					t.Errorf("chart %s rendered at %.0f×%.0f", id, c.Width, c.Height)
				}
			}
			if tc.hover && (!info.TipVisible || !strings.Contains(info.Tip, "%")) {
				t.Errorf("hover read-out did not appear: visible %v, text %q", info.TipVisible, info.Tip)
			}
			checkScreenshot(t, shot)
			if tc.screenshot {
				out := filepath.Join(os.TempDir(), "smp-report-chromium.png")
				if err := os.WriteFile(out, shot, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("screenshot for review: %s (report %d bytes)", out, buf.Len())
			}
		})
	}
}

// loadInChromium opens file in a fresh headless browser and returns what
// the page says about its charts, every console error, exception, log
// error and request for anything but the file itself, and a full-page PNG.
func loadInChromium(t *testing.T, browser, file string) (pageInfo, []string, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 900),
	)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	var mu sync.Mutex
	var problems []string
	url := "file://" + file
	if err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				problems = append(problems, fmt.Sprintf("console %s: %s", ev.Type, remoteArgs(ev.Args)))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+exceptionText(ev.ExceptionDetails))
		case *log.EventEntryAdded:
			if ev.Entry != nil && (ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning) {
				problems = append(problems, fmt.Sprintf("log %s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
			}
		case *network.EventRequestWillBeSent:
			if ev.Request != nil && ev.Request.URL != url && !strings.HasPrefix(ev.Request.URL, "data:") {
				problems = append(problems, "the page requested "+ev.Request.URL)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	info, err := chromedp.Run(bctx, chromedp.Evaluate[pageInfo](inspectJS))
	if err != nil {
		t.Fatalf("inspect page: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	return info, append([]string(nil), problems...), shot
}

func remoteArgs(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		if a == nil {
			continue
		}
		if len(a.Value) > 0 {
			parts = append(parts, string(a.Value))
		} else {
			parts = append(parts, a.Description)
		}
	}
	return strings.Join(parts, " ")
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	s := d.Text
	if d.Exception != nil {
		s += " " + d.Exception.Description
	}
	return fmt.Sprintf("%s at %d:%d", s, d.LineNumber, d.ColumnNumber)
}

// checkScreenshot decodes the PNG and checks that it shows more than a
// blank page.
func checkScreenshot(t *testing.T, shot []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() < 800 || b.Dy() < 600 {
		t.Errorf("screenshot is %v", b)
	}
	colours := map[[3]uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y && len(colours) < 64; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 12, g >> 12, bl >> 12}] = true
		}
	}
	if len(colours) < 8 {
		t.Errorf("screenshot has %d colours: a blank page?", len(colours))
	}
}
