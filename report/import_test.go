package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportKinds(t *testing.T) {
	example := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const fortio = `{"RunType":"HTTP","DurationHistogram":{"Count":1,"Min":0.001,"Max":0.001,"Data":[{"Start":0.001,"End":0.001,"Percent":100,"Count":1}]},"RetCodes":{"200":1}}`
	tests := []struct {
		name, data, profile string
		kind                string
		result              bool
		err                 string
	}{
		{"fortio", fortio, "", KindFortio, true, ""},
		{"meshery result", `{"name":"n","runner_results":` + fortio + `}`, "", KindMesheryResult, true, ""},
		{"meshery profile", `{"name":"p","endpoints":["http://127.0.0.1/"],"duration":"5s"}`, "", KindMesheryProfile, false, ""},
		{"profile by name", `[{"name":"p","endpoints":["http://127.0.0.1/"]},{"name":"q","endpoints":["http://127.0.0.1/q"]}]`, "q", KindMesheryProfile, false, ""},
		{"meshery test file", example("meshery-load-test.yaml"), "", KindSMP, false, ""},
		{"legacy result", example("legacy-result.yaml"), "", KindSMP, true, ""},
		{"smp config", example("test-config.yaml"), "", KindSMP, false, ""},
		{"profile name for a config", example("test-config.yaml"), "x", "", false, "not a Meshery profile"},
		{"garbage", "::: not yaml {", "", "", false, "in.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			im, err := Import([]byte(tc.data), "in.txt", tc.profile)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if im.Kind != tc.kind || (im.Result != nil) != tc.result || (im.Config != nil) == tc.result {
				t.Errorf("kind %q result %v config %v", im.Kind, im.Result != nil, im.Config != nil)
			}
		})
	}
}
