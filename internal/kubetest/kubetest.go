// Package kubetest starts a real Kubernetes API server (kube-apiserver and
// etcd, through controller-runtime's envtest) for a test, and, for tests
// that need controllers (the Job controller making Pods of a Job), a
// kube-controller-manager beside it. The binaries come
// from KUBEBUILDER_ASSETS, else from the cache that build.sh (beside this
// file) fills; without them a test is skipped locally and fails in CI
// (CI=true), where .ci/run builds or reuses them.
package kubetest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Versions that build.sh builds by default; the cache folder is named for
// them.
const (
	KubeVersion = "v1.37.2"
	EtcdVersion = "v3.7.3"
)

// Assets returns the folder holding kube-apiserver and etcd, or "".
func Assets() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	if gc := os.Getenv("GOCACHE"); gc != "" {
		cache = filepath.Dir(gc)
	}
	d := filepath.Join(cache, "smp-kube", "kube-"+KubeVersion+"-etcd-"+EtcdVersion)
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(d, bin)); err != nil {
			return ""
		}
	}
	return d
}

// Start starts an API server and etcd for the test, stopped when it ends,
// and returns the environment (for AddUser) and an admin config.
func Start(t testing.TB) (*envtest.Environment, *rest.Config) {
	t.Helper()
	dir := Assets()
	if dir == "" {
		msg := "no kube-apiserver and etcd: set KUBEBUILDER_ASSETS or run internal/kubetest/build.sh (about 8 minutes, cached)"
		if os.Getenv("CI") == "true" {
			t.Fatal("required in CI (CI=true): " + msg)
		}
		t.Skip("skipped: " + msg)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver and etcd from %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stop the API server: %v", err)
		}
	})
	return env, cfg
}

// StartWithControllers starts an API server and etcd as Start does, and
// kube-controller-manager beside them with the given controllers; a test
// without the controller manager's binary is skipped (failed in CI)
// before anything starts.
func StartWithControllers(t testing.TB, controllers ...string) (*envtest.Environment, *rest.Config) {
	t.Helper()
	if dir := Assets(); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "kube-controller-manager")); err != nil {
			noControllerManager(t, dir)
		}
	}
	env, cfg := Start(t)
	ControllerManager(t, env, controllers...)
	return env, cfg
}

func noControllerManager(t testing.TB, dir string) {
	t.Helper()
	msg := "no kube-controller-manager in " + dir + ": run internal/kubetest/build.sh (a few minutes more, cached)"
	if os.Getenv("CI") == "true" {
		t.Fatal("required in CI (CI=true): " + msg)
	}
	t.Skip("skipped: " + msg)
}

// ControllerManager starts kube-controller-manager from env's assets with
// only the given controllers (e.g. "job-controller",
// "garbage-collector-controller"), as a system:masters user of env's API
// server, and stops it when the test ends. Without the binary the test is
// skipped locally and fails in CI, as Start does.
func ControllerManager(t testing.TB, env *envtest.Environment, controllers ...string) {
	t.Helper()
	bin := filepath.Join(env.BinaryAssetsDirectory, "kube-controller-manager")
	if _, err := os.Stat(bin); err != nil {
		noControllerManager(t, env.BinaryAssetsDirectory)
	}
	user, err := env.AddUser(envtest.User{Name: "kube-controller-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatalf("a user for kube-controller-manager: %v", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	// No leader election (one instance), no serving port (nothing asks
	// it), and the controllers use this admin credential rather than
	// service-account tokens, which would need the token controller and
	// a signing key.
	cmd := exec.Command(bin, "--kubeconfig="+kubeconfig, "--controllers="+strings.Join(controllers, ","),
		"--leader-elect=false", "--use-service-account-credentials=false", "--secure-port=0", "-v=1")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kube-controller-manager: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("kube-controller-manager's log (last 4000 bytes):\n%s", tail(log.String(), 4000))
		}
	})
	// A bad flag makes it exit at once; give it that moment.
	select {
	case err := <-exited:
		exited <- err
		t.Fatalf("kube-controller-manager exited: %v\n%s", err, tail(log.String(), 4000))
	case <-time.After(time.Second):
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
