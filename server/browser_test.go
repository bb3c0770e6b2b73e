package server_test

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/smp-project/smp/server"
)

// chromium finds Debian's chromium: locally a missing browser skips the
// test, in CI (CI=true, where .ci/run installs it) it fails it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is required in CI (CI=true): .ci/run installs Debian's chromium")
	}
	t.Skip("chromium is not installed: apt-get install -y chromium (CI installs it and runs this test)")
	return ""
}

// browser is a headless Chromium page that collects every console error,
// exception and request to another origin as a problem.
type browser struct {
	t        *testing.T
	ctx      context.Context
	base     string
	mu       sync.Mutex
	problems []string
	shots    string
}

func newBrowser(t *testing.T, base string) *browser {
	exe := chromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	// Screenshots for review go to $SMP_SCREENSHOTS, else a directory
	// in the temporary directory that outlives the test.
	dir := os.Getenv("SMP_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "smp-serve-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, ctx: bctx, base: base, shots: dir}
	if err := chromedp.Listen(bctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.problems = append(b.problems, fmt.Sprintf("console %s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.problems = append(b.problems, "exception: "+msg)
		case *log.EventEntryAdded:
			if ev.Entry != nil && ev.Entry.Level == log.EntryLevelError {
				b.problems = append(b.problems, fmt.Sprintf("log error: %s %s", ev.Entry.Text, ev.Entry.URL))
			}
		case *network.EventRequestWillBeSent:
			if u := ev.Request.URL; !strings.HasPrefix(u, base) && !strings.HasPrefix(u, "data:") && u != "about:blank" {
				b.problems = append(b.problems, "the page requested "+u)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// eval runs a JavaScript expression and decodes its value.
func (b *browser) eval(js string, v any) {
	b.t.Helper()
	raw, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		b.t.Fatalf("evaluate %s: %v (%s)", js, err, raw)
	}
}

// waitFor polls a JavaScript condition until it is true.
func (b *browser) waitFor(what, js string, limit time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var ok bool
		b.eval("!!("+js+")", &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.shot("timeout-" + strings.ReplaceAll(what, " ", "-"))
			b.t.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *browser) shot(name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // 100: PNG; less is JPEG
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil || img.Bounds().Dx() < 600 {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot for review: %s", p)
}

func (b *browser) check() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Error(p)
	}
}

// TestUIInChromium drives the UI as a person would: start a run from the
// form, watch its progress update, open the finished run's report,
// compare two runs, filter the list.
func TestUIInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser and runs load tests")
	}
	e := start(t, server.Config{})
	b := newBrowser(t, e.base)
	b.run(chromedp.Navigate(e.base+"/#/profiles"), chromedp.WaitVisible(chromedp.CSS("#new-test")))
	set := func(name, value string) chromedp.Action[chromedp.Void] {
		return chromedp.SetValue(chromedp.CSS(`#new-test [name="`+name+`"]`), value)
	}
	b.run(set("name", "baseline"), set("url", e.target), set("qps", "300"), set("duration", "5s"),
		set("connections", "2"), set("labels", "mesh=none,suite=ui"))
	b.shot("1-new-test")
	b.run(chromedp.Click(chromedp.CSS("#start")))
	b.waitFor("the run page", `location.hash.startsWith("#/run/") && document.querySelector("#fig-requests")`, 10*time.Second)

	// Live progress: the request count and the chart grow while it runs.
	b.waitFor("a first second", `Number(document.querySelector("#fig-requests").textContent) > 0`, 15*time.Second)
	var first, later int
	b.eval(`Number(document.querySelector("#fig-requests").textContent)`, &first)
	b.waitFor("a later second", fmt.Sprintf(`Number(document.querySelector("#fig-requests").textContent) > %d && document.querySelector("[data-state=running]")`, first), 5*time.Second)
	b.eval(`Number(document.querySelector("#fig-requests").textContent)`, &later)
	var points int
	b.eval(`Number(document.querySelector("#chart-qps").dataset.points)`, &points)
	if points < 1 || later <= first {
		t.Errorf("live progress: requests %d then %d, %d chart points", first, later, points)
	}
	b.shot("2-run-live")

	// Finished: the full report in the page, with its charts drawn.
	b.waitFor("the report", `document.querySelector("[data-state=done]") && document.querySelector("#report")`, 20*time.Second)
	b.waitFor("the report's charts", `(() => { const d = document.querySelector("#report").contentDocument; return d && d.querySelectorAll("svg.chart").length >= 2; })()`, 15*time.Second)
	var firstID string
	b.eval(`location.hash.slice("#/run/".length)`, &firstID)
	b.shot("3-run-done")

	// A second run through the API, then the comparison page.
	code, body := e.do(t, "POST", "/api/v1/runs", `{"config": `+e.config(300, "5s")+`, "name": "mesh", "labels": {"mesh": "istio", "suite": "ui"}}`)
	if code != 201 {
		t.Fatalf("second run: %d %s", code, body)
	}
	var second struct{ ID string }
	json.Unmarshal(body, &second)
	e.waitFinal(t, second.ID)
	b.run(chromedp.Navigate(e.base + "/#/compare"))
	b.waitFor("the run picker", `document.querySelectorAll("#pick tbody tr").length >= 2`, 10*time.Second)
	b.run(chromedp.Click(chromedp.CSS(`#pick input[name=base][value="`+firstID+`"]`)),
		chromedp.Click(chromedp.CSS(`#pick input[name=other][value="`+second.ID+`"]`)),
		chromedp.Click(chromedp.CSS("#compare")))
	b.waitFor("the comparison", `document.querySelectorAll("table.comparison tbody tr").length >= 5 && document.querySelector(".verdict")`, 20*time.Second)
	b.waitFor("the overlaid spectra", `(() => { const d = document.querySelector("#compare-report").contentDocument; return d && d.querySelector("#chart-spectrum path.series"); })()`, 15*time.Second)
	var metrics []string
	b.eval(`[...document.querySelectorAll("table.comparison tbody tr")].map(r => r.dataset.metric)`, &metrics)
	if !strings.Contains(strings.Join(metrics, " "), "p99") {
		t.Errorf("comparison metrics %v", metrics)
	}
	b.shot("4-compare")

	// The list, filtered by a label.
	b.run(chromedp.Navigate(e.base + "/#/runs?label=mesh=istio"))
	b.waitFor("the filtered list", `document.querySelectorAll("#runs tbody tr").length === 1`, 10*time.Second)
	var names []string
	b.eval(`[...document.querySelectorAll("#runs tbody tr td:nth-child(2)")].map(td => td.textContent)`, &names)
	if len(names) != 1 || names[0] != "mesh" {
		t.Errorf("filtered list: %v", names)
	}
	b.shot("5-runs")
	b.check()
}
