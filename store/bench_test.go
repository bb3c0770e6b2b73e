package store_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/smp-project/smp/store"
)

// BenchmarkListLabelFilter lists runs out of 10,000 stored results in
// SQLite with a label filter matching a fifth of them: a page (the API's
// default) and all 2,000; and a label on every run, all 10,000 answered.
// The bound is 100 ms.
func BenchmarkListLabelFilter(b *testing.B) {
	s, err := store.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	meshes := []string{"none", "istio", "linkerd", "cilium", "kuma"}
	t0 := time.Unix(1700000000, 0)
	for i := range 10000 {
		labels := map[string]string{"mesh": meshes[i%len(meshes)], "suite": "nightly", "build": fmt.Sprint(i)}
		if _, err := s.SaveResult(b.Context(), result(fmt.Sprint("run", i), t0.Add(time.Duration(i)*time.Minute), labels, 1), store.SaveOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		limit  int
		want   int
	}{
		{"mesh=istio/page", map[string]string{"mesh": "istio"}, store.DefaultLimit, store.DefaultLimit},
		{"mesh=istio/all", map[string]string{"mesh": "istio"}, store.MaxLimit, 2000},
		{"suite=nightly/all", map[string]string{"suite": "nightly"}, store.MaxLimit, 10000},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				rs, err := s.Runs(b.Context(), store.Filter{Labels: c.labels, Limit: c.limit})
				if err != nil {
					b.Fatal(err)
				}
				if len(rs) != c.want {
					b.Fatalf("%d runs, want %d", len(rs), c.want)
				}
			}
		})
	}
}
