package spec

import (
	"fmt"
	"strings"
)

// Summary says in one line what the document was understood to be: its
// format and kind, clients, endpoints, duration, mesh.
func (d *Document) Summary() string {
	cfg := d.Config
	if d.Kind != KindConfig && d.Kind != KindMeshery {
		cfg = nil // a result's config is not what it is about
	}
	parts := []string{strings.ToUpper(d.Format), string(d.Kind)}
	if s := Describe(cfg, d.Result, d.Mesh); s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// Describe says in a few words what a test config, a result and a mesh
// hold (any may be nil): clients, endpoints and duration; p50, p99, the
// rate achieved and runs; the mesh type. Summary uses it, and so do readers
// of other tools' documents once they are converted.
func Describe(cfg *PerformanceTestConfig, res *PerformanceTestResult, mesh *ServiceMesh) string {
	var parts []string
	if cfg != nil {
		eps := 0
		for _, cl := range cfg.GetClients() {
			eps += len(cl.GetEndpointUrls())
		}
		parts = append(parts, plural(len(cfg.GetClients()), "client"), plural(eps, "endpoint"))
		if cfg.GetDuration() != "" {
			parts = append(parts, "duration "+cfg.GetDuration())
		}
	}
	if res != nil {
		if l := res.GetLatenciesMs(); l != nil {
			parts = append(parts, fmt.Sprintf("p50 %gms p99 %gms", l.GetP50(), l.GetP99()))
		}
		parts = append(parts, fmt.Sprintf("actual_qps %g", res.GetActualQps()))
		if n := len(res.GetRuns()); n > 0 {
			parts = append(parts, plural(n, "run"))
		}
	}
	if mesh.GetType() != ServiceMesh_INVALID_MESH {
		parts = append(parts, "mesh "+mesh.GetType().String())
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
