package meshmark

import (
	"testing"

	"github.com/smp-project/smp/spec"
	"google.golang.org/protobuf/proto"
)

// TestRoundTrip: a scored result written as YAML or JSON and loaded back
// keeps every input, and its MeshMark recomputes to the same score.
func TestRoundTrip(t *testing.T) {
	r := result(31.25)
	r.Runs[0].ActualQps = 1000
	in := workedExample()
	if _, err := ScoreResult(r, &Measurements{Resources: in.Resources, ServiceLevel: in.ServiceLevel}, 0); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"yaml", "json"} {
		data, err := spec.Encode(r, format)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := spec.LoadAs(data, "scored."+format, spec.KindResult)
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, data)
		}
		if !proto.Equal(doc.Result, r) {
			t.Errorf("%s: the loaded result differs:\n%s", format, data)
		}
		s, err := Recompute(doc.Result.GetMeshmark())
		if err != nil || !near(s, 72.58333333333333) {
			t.Errorf("%s: recomputed %v, %v", format, s, err)
		}
	}
}
