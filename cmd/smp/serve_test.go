package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smp-project/smp/store"
)

func TestServeBadInput(t *testing.T) {
	t.Setenv("SMP_TOKEN", "")
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		msg  string
	}{
		{"data and db", []string{"serve", "--data", dir, "--db", filepath.Join(dir, "x.db")}, "give one"},
		{"beyond loopback without a token", []string{"serve", "--no-demo", "--data", dir, "--listen", "0.0.0.0:0"}, "needs a token"},
		{"bad allow-target", []string{"serve", "--no-demo", "--data", dir, "--listen", "127.0.0.1:0", "--allow-target", "10.0.0.0/99"}, "--allow-target"},
		{"an argument", []string{"serve", "extra"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(c.args, &out, &errb); code != exitBadInput || !strings.Contains(errb.String(), c.msg) {
				t.Errorf("exit %d, stderr %q; want %d with %q", code, errb.String(), exitBadInput, c.msg)
			}
		})
	}
}

// TestRunStore: smp run --store saves the run, with its seconds, where
// smp serve finds it.
func TestRunStore(t *testing.T) {
	url := runTarget(t)
	db := filepath.Join(t.TempDir(), "smp.db")
	var out, errb bytes.Buffer
	if code := run([]string{"run", url, "-d", "2s", "--qps", "100", "-q", "--label", "suite=cli", "--store=" + db}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "stored as run") {
		t.Errorf("stderr does not name the stored run: %q", errb.String())
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(context.Background(), store.Filter{Labels: map[string]string{"suite": "cli"}})
	if err != nil || len(runs) != 1 {
		t.Fatalf("stored runs %v %v", runs, err)
	}
	r := runs[0]
	secs, _ := st.Seconds(context.Background(), r.ID)
	if r.State != store.Done || r.Requests < 150 || r.P99 <= 0 || len(secs) < 1 {
		t.Errorf("stored run: %+v, %d seconds", r, len(secs))
	}
}
