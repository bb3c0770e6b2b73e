package spec

import (
	"fmt"
	"strings"
)

// Summary says in one line what the document was understood to be: its
// format and kind, clients, endpoints, duration, mesh.
func (d *Document) Summary() string {
	parts := []string{strings.ToUpper(d.Format), string(d.Kind)}
	if c := d.Config; c != nil && (d.Kind == KindConfig || d.Kind == KindMeshery) {
		eps := 0
		for _, cl := range c.GetClients() {
			eps += len(cl.GetEndpointUrls())
		}
		parts = append(parts, plural(len(c.GetClients()), "client"), plural(eps, "endpoint"))
		if c.GetDuration() != "" {
			parts = append(parts, "duration "+c.GetDuration())
		}
	}
	if r := d.Result; r != nil {
		if l := r.GetLatenciesMs(); l != nil {
			parts = append(parts, fmt.Sprintf("p50 %gms p99 %gms", l.GetP50(), l.GetP99()))
		}
		parts = append(parts, fmt.Sprintf("actual_qps %g", r.GetActualQps()))
		if n := len(r.GetRuns()); n > 0 {
			parts = append(parts, plural(n, "run"))
		}
	}
	if m := d.Mesh; m != nil && m.GetType() != ServiceMesh_INVALID_MESH {
		parts = append(parts, "mesh "+m.GetType().String())
	}
	return strings.Join(parts, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
