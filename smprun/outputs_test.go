package smprun

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// CheckPaths refuses, per variant, paths that could not be written.
func TestOutputsCheckPaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	for _, tt := range []struct {
		name  string
		o     Outputs
		names []string
		want  string
	}{
		{"fine", Outputs{File: p("r.yaml"), Report: p("r.html"), HDRLog: p("r.hlog")}, nil, ""},
		{"same", Outputs{File: p("r.yaml"), HDRLog: p("r.yaml")}, nil, "--hdr-log " + p("r.yaml") + ": the same file as -o " + p("r.yaml")},
		{"same, relative and absolute", Outputs{Report: p("x.html"), JUnit: filepath.Join(dir, ".", "x.html")}, nil, "the same file as --report"},
		{"variants", Outputs{File: p("r.yaml"), Report: p("r-b.yaml")}, []string{"a", "b"}, "--report " + p("r-b.yaml") + ": the same file as -o"},
		{"variants distinct", Outputs{File: p("r.yaml"), HDRLog: p("r.yaml")}, []string{"a"}, "the same file"},
		{"directory", Outputs{HDRLog: dir}, nil, "--hdr-log " + dir + ": is a directory"},
		{"no directory", Outputs{File: p("no/r.yaml")}, nil, "directory " + p("no") + " does not exist"},
		{"under a file", Outputs{File: filepath.Join(file, "r.yaml")}, nil, file + " is not a directory"},
		{"special files", Outputs{File: os.DevNull, Report: os.DevNull}, nil, ""},
	} {
		err := tt.o.CheckPaths(tt.names)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	if runtime.GOOS != "windows" && os.Geteuid() != 0 { // root writes anywhere
		if err := (Outputs{File: filepath.Join(ro, "r.yaml")}).CheckPaths(nil); err == nil || !strings.Contains(err.Error(), "directory "+ro+" is not writable: permission denied") {
			t.Errorf("read-only directory: err = %v", err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".smp-check-*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// writeFile replaces a file whole or not at all, keeps its mode, and
// writes a special file in place.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.yaml")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("failed half way")
	err := writeFile(path, func(w io.Writer) error {
		io.WriteString(w, "half")
		return failed
	})
	if !errors.Is(err, failed) {
		t.Errorf("err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("after a failed write: %q, want the old content", b)
	}
	if err := writeFile(path, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if b, _ := os.ReadFile(path); err != nil || string(b) != "new" || (runtime.GOOS != "windows" && st.Mode().Perm() != 0o600) {
		t.Errorf("after a write: %q, %v", b, st.Mode())
	}
	if err := writeFile(os.DevNull, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil {
		t.Errorf("%s: %v", os.DevNull, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
