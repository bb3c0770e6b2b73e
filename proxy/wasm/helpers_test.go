package wasm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smp-project/smp/proxy"
	"github.com/smp-project/smp/proxy/filter"
	"github.com/smp-project/smp/target"
	"github.com/tetratelabs/wazero"
)

// env is what every test shares: a directory of built modules and a
// compilation cache (compiling a Go module takes seconds).
type env struct {
	dir   string
	cache wazero.CompilationCache
	mu    sync.Mutex
	built map[string]string
}

// testEnv is set by TestMain before any test runs and only read after.
var testEnv *env

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "smp-wasm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testEnv = &env{dir: dir, cache: wazero.NewCompilationCache(), built: map[string]string{}}
	code := m.Run()
	_ = testEnv.cache.Close(context.Background())
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// goModule builds a Go proxy-wasm guest (GOOS=wasip1, -buildmode=c-shared)
// once per test binary and returns the .wasm path.
func goModule(t testing.TB, pkg string) string {
	t.Helper()
	testEnv.mu.Lock()
	defer testEnv.mu.Unlock()
	if p, ok := testEnv.built[pkg]; ok {
		return p
	}
	out := filepath.Join(testEnv.dir, strings.ReplaceAll(strings.Trim(pkg, "./"), "/", "_")+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	testEnv.built[pkg] = out
	return out
}

// watModule assembles testdata/NAME.wat with wabt's wat2wasm. Without
// wat2wasm the test skips, except in CI (CI=true), where it fails.
func watModule(t testing.TB, name string) string {
	t.Helper()
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("required in CI (CI=true): wat2wasm not found: %v", err)
		}
		t.Skipf("skipped: wat2wasm not found (install Debian's wabt): %v", err)
	}
	out := filepath.Join(t.TempDir(), name+".wasm")
	if b, err := exec.Command("wat2wasm", filepath.Join("testdata", name+".wat"), "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm %s: %v\n%s", name, err, b)
	}
	return out
}

// syncBuffer is a log the plugin writes and the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func load(t *testing.T, opts Options) *Plugin {
	t.Helper()
	opts.Cache = testEnv.cache
	p, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func startTarget(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := target.Start(ctx, target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Close() })
	return srv.Addrs().HTTP
}

// startProxy runs a proxy (owning the filters) in front of a new target.
func startProxy(t *testing.T, fs ...filter.Filter) *proxy.Server {
	t.Helper()
	srv, err := proxy.Start(context.Background(), proxy.Config{Listen: "127.0.0.1:0", Upstream: "http://" + startTarget(t), Filters: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, p *proxy.Server, method, path, body string, hdr ...string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+p.Addr().String()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}
