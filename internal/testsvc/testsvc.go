// Package testsvc starts the real outside servers that tests measure
// (Debian's prometheus and nginx) on 127.0.0.1, each with a temporary config,
// stopped when the test ends. A test that needs one and finds no binary is
// skipped locally and fails in CI (CI=true), where .ci/run installs them.
package testsvc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Need returns the path of a binary, skipping the test without it (failing
// it in CI, where it is required).
func Need(t testing.TB, bin, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("required in CI (CI=true): %s not found (Debian's %s; .ci/run installs it)", bin, debianPackage)
	}
	t.Skipf("skipped: %s not found (apt-get install %s to run this test)", bin, debianPackage)
	return ""
}

// FreePort returns a loopback address with a port that was free a moment
// ago, for servers that cannot be told to pick one and say which.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// Start runs a command until the test ends; its output goes to a log file
// printed if the test fails.
func Start(t testing.TB, dir string, name string, args ...string) *exec.Cmd {
	t.Helper()
	logPath := filepath.Join(dir, filepath.Base(name)+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = logf, logf, dir
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, tail(string(b), 3000))
		}
	})
	return cmd
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// WaitHTTP polls url until it answers 200 or the timeout passes.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within %v: %v", url, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Prometheus starts Debian's prometheus on 127.0.0.1 scraping each job's
// address (host:port, path /metrics) every second, and returns its URL once
// it is ready.
func Prometheus(t testing.TB, jobs map[string]string) string {
	t.Helper()
	bin := Need(t, "prometheus", "prometheus")
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n")
	for job, addr := range jobs {
		fmt.Fprintf(&b, "  - job_name: %q\n    static_configs:\n      - targets: [%q]\n", job, addr)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := FreePort(t)
	Start(t, dir, bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	u := "http://" + addr
	WaitHTTP(t, u+"/-/ready", 30*time.Second)
	return u
}

// Nginx starts Debian's nginx on 127.0.0.1 with workers worker processes,
// serving a small page at /, and returns its URL and the master's PID (its
// workers are the master's children).
func Nginx(t testing.TB, workers int) (string, int) {
	t.Helper()
	bin := Need(t, "nginx", "nginx")
	dir := t.TempDir()
	addr := FreePort(t)
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes %d;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	server {
		listen %[3]s;
		location / { return 200 "hello from nginx\n"; }
	}
}
`, workers, dir, addr)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := Start(t, dir, bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path)
	u := "http://" + addr + "/"
	WaitHTTP(t, u, 15*time.Second)
	return u, cmd.Process.Pid
}

// PromQuery runs an instant query and reports whether it returned a series.
func PromQuery(ctx context.Context, base, q string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(q), nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var buf [4096]byte
	n, _ := resp.Body.Read(buf[:])
	return strings.Contains(string(buf[:n]), `"value":[`), nil
}
