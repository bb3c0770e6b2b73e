// Package kubetest starts a real Kubernetes API server (kube-apiserver and
// etcd, through controller-runtime's envtest) for a test. The binaries come
// from KUBEBUILDER_ASSETS, else from the cache that build.sh (beside this
// file) fills; without them a test is skipped locally and fails in CI
// (CI=true), where .ci/run builds or reuses them.
package kubetest

import (
	"os"
	"path/filepath"
	"testing"

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
