package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smp-project/smp/internal/pgtest"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/store"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// pg is the PostgreSQL server of this test binary, started by TestMain
// (pgErr when it could not be).
var (
	pg    *pgtest.Server
	pgErr error
)

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) == "" {
		pg, pgErr = pgtest.Start(context.Background())
	} else {
		pgErr = pgtest.ErrMissing
	}
	code := m.Run()
	if pg != nil {
		pg.Stop()
	}
	os.Exit(code)
}

// engine opens a fresh database of one engine.
type engine struct {
	name string
	dsn  func(t *testing.T) string
}

func engines() []engine {
	return []engine{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "smp.db") }},
		{"postgres", func(t *testing.T) string {
			pgtest.Need(t, pgErr)
			dsn, err := pg.NewDatabase(t.Context(), "store")
			if err != nil {
				t.Fatal(err)
			}
			return dsn
		}},
	}
}

// eachEngine runs f against a fresh database of each engine.
func eachEngine(t *testing.T, f func(t *testing.T, s store.Store, dsn string)) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			dsn := e.dsn(t)
			s, err := store.Open(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if s.Engine() != e.name {
				t.Fatalf("engine %q, want %q", s.Engine(), e.name)
			}
			f(t, s, dsn)
		})
	}
}

func result(name string, start time.Time, labels map[string]string, p50 float64) *spec.PerformanceTestResult {
	return &spec.PerformanceTestResult{
		SmpVersion: "v0.6.1", Id: name + "-id", Name: name, Labels: labels,
		StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(10 * time.Second)),
		LatenciesMs: &spec.PerformanceTestResult_Latency{Min: p50 / 2, Average: p50, P50: p50, P90: p50 * 2, P99: p50 * 4, Max: p50 * 8},
		ActualQps:   99.5, RequestedQps: 100, DurationS: 10,
		Requests: &spec.PerformanceTestResult_Requests{Total: 995, Ok: 990, Errors: 5},
		Config: &spec.PerformanceTestConfig{Name: name, Duration: "10s", Clients: []*spec.PerformanceTestConfig_Client{
			{Connections: 2, Rps: 100, Protocol: spec.PerformanceTestConfig_Client_PROTOCOL_HTTP, EndpointUrls: []string{"http://127.0.0.1:8080/" + name}},
		}},
	}
}

func TestMigrations(t *testing.T) {
	eachEngine(t, func(t *testing.T, s store.Store, dsn string) {
		// Opening again applies nothing and keeps the data.
		id, err := s.SaveResult(t.Context(), result("a", time.Now(), nil, 1), store.SaveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		s2, err := store.Open(t.Context(), dsn)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if _, err := s2.Run(t.Context(), id); err != nil {
			t.Fatalf("after reopening: %v", err)
		}
		s2.Close()
		// A database that a newer smp migrated is refused, not written.
		db := rawDB(t, dsn)
		if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_ms) VALUES (999, 'future', 0)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if s3, err := store.Open(t.Context(), dsn); err == nil || !strings.Contains(err.Error(), "newer than this smp") {
			if s3 != nil {
				s3.Close()
			}
			t.Fatalf("a database at a newer schema opened: %v", err)
		}
	})
}

func rawDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver, src := "sqlite", "file:"+dsn
	if store.IsPostgres(dsn) {
		driver, src = "pgx", dsn
	}
	db, err := sql.Open(driver, src)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestResultRoundTrip(t *testing.T) {
	eachEngine(t, func(t *testing.T, s store.Store, _ string) {
		in := result("mesh", time.Unix(1700000000, 0), map[string]string{"mesh": "istio", "release": "1.2"}, 1.5)
		in.Mesh = &spec.ServiceMesh{Type: spec.ServiceMesh_ISTIO}
		id, err := s.SaveResult(t.Context(), in, store.SaveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Run(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(r.Result, in) {
			t.Errorf("result changed in the store:\n got %v\nwant %v", r.Result, in)
		}
		if r.State != store.Done || r.Name != "mesh" || r.P50 != 1.5 || r.P99 != 6 || r.Requests != 995 || r.Errors != 5 ||
			r.Endpoint != "http://127.0.0.1:8080/mesh" || r.Protocol != "http" || r.Mesh != "istio" || r.RequestedQPS != 100 ||
			!r.Created.Equal(time.Unix(1700000000, 0)) || r.Labels["release"] != "1.2" {
			t.Errorf("indexed columns: %+v", r)
		}
		if _, err := s.Run(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown id: %v, want ErrNotFound", err)
		}
	})
}

func TestRunsFilter(t *testing.T) {
	eachEngine(t, func(t *testing.T, s store.Store, _ string) {
		t0 := time.Unix(1700000000, 0)
		ids := map[string]string{}
		for i, c := range []struct {
			name   string
			labels map[string]string
		}{
			{"base", map[string]string{"mesh": "none", "env": "ci"}},
			{"istio", map[string]string{"mesh": "istio", "env": "ci"}},
			{"linkerd", map[string]string{"mesh": "linkerd", "env": "lab"}},
			{"istio2", map[string]string{"mesh": "istio", "env": "lab"}},
		} {
			id, err := s.SaveResult(t.Context(), result(c.name, t0.Add(time.Duration(i)*time.Hour), c.labels, 1), store.SaveOptions{Uncorrected: i == 0})
			if err != nil {
				t.Fatal(err)
			}
			ids[c.name] = id
		}
		tests := []struct {
			name string
			f    store.Filter
			want []string // newest first
		}{
			{"all", store.Filter{}, []string{"istio2", "linkerd", "istio", "base"}},
			{"one label", store.Filter{Labels: map[string]string{"mesh": "istio"}}, []string{"istio2", "istio"}},
			{"two labels", store.Filter{Labels: map[string]string{"mesh": "istio", "env": "ci"}}, []string{"istio"}},
			{"no match", store.Filter{Labels: map[string]string{"mesh": "cilium"}}, nil},
			{"since", store.Filter{Since: t0.Add(time.Hour)}, []string{"istio2", "linkerd", "istio"}},
			{"since and until", store.Filter{Since: t0.Add(time.Hour), Until: t0.Add(3 * time.Hour)}, []string{"linkerd", "istio"}},
			{"label, since and state", store.Filter{Labels: map[string]string{"mesh": "istio"}, Since: t0.Add(2 * time.Hour), State: store.Done, Endpoint: "http://127.0.0.1:8080/istio2"}, []string{"istio2"}},
			{"endpoint", store.Filter{Endpoint: "http://127.0.0.1:8080/linkerd"}, []string{"linkerd"}},
			{"state", store.Filter{State: store.Running}, nil},
			{"limit", store.Filter{Limit: 2}, []string{"istio2", "linkerd"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rs, err := s.Runs(t.Context(), tt.f)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range rs {
					if r.Config != nil || r.Result != nil {
						t.Errorf("a list carries documents")
					}
					got = append(got, r.Name)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
		if _, err := s.Runs(t.Context(), store.Filter{Limit: store.MaxLimit + 1}); err == nil {
			t.Error("a limit over MaxLimit was accepted")
		}
		// Deleting takes the labels along: the run no longer matches.
		if err := s.DeleteRun(t.Context(), ids["istio"]); err != nil {
			t.Fatal(err)
		}
		rs, _ := s.Runs(t.Context(), store.Filter{Labels: map[string]string{"env": "ci"}})
		if len(rs) != 1 || rs[0].Name != "base" {
			t.Errorf("after delete: %v", rs)
		}
		if err := s.DeleteRun(t.Context(), ids["istio"]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second delete: %v, want ErrNotFound", err)
		}
	})
}

func cfg() *spec.PerformanceTestConfig {
	return &spec.PerformanceTestConfig{Name: "live", Duration: "30s", Labels: map[string]string{"team": "a"},
		Clients: []*spec.PerformanceTestConfig_Client{{Connections: 1, Rps: 50, EndpointUrls: []string{"http://127.0.0.1:1/"}}}}
}

func TestRunLifecycle(t *testing.T) {
	eachEngine(t, func(t *testing.T, s store.Store, _ string) {
		ctx := t.Context()
		r := &store.Run{Name: "live", Config: cfg()}
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := s.StartRun(ctx, r.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		// Seconds written from several goroutines, as a busy server
		// might: each is its own transaction and none is lost.
		var wg sync.WaitGroup
		for i := 1; i <= 8; i++ {
			wg.Go(func() {
				if err := s.SaveSecond(ctx, r.ID, store.Second{Run: 1, OffsetS: float64(i), Requests: int64(50 * i), P99: 2}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		secs, err := s.Seconds(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(secs) != 8 || secs[0].OffsetS != 1 || secs[7].Requests != 400 {
			t.Fatalf("seconds %+v", secs)
		}
		running, _ := s.Runs(ctx, store.Filter{State: store.Running, Labels: map[string]string{"team": "a"}})
		if len(running) != 1 || running[0].ID != r.ID {
			t.Fatalf("running runs: %v", running)
		}
		if err := s.SaveSecond(ctx, "nope", store.Second{Run: 1, OffsetS: 1}); err == nil {
			t.Error("a second of an unknown run was saved")
		}
		res := result("live", time.Now(), map[string]string{"team": "a"}, 3)
		if err := s.FinishRun(ctx, r.ID, store.Done, res, ""); err != nil {
			t.Fatal(err)
		}
		got, err := s.Run(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.Done || got.P50 != 3 || got.Ended.IsZero() || got.Started.IsZero() || !proto.Equal(got.Result, res) ||
			got.Config.GetName() != "live" {
			t.Errorf("finished run: %+v", got)
		}
		if err := s.FinishRun(ctx, r.ID, store.Running, nil, ""); err == nil {
			t.Error("finishing in a state that is not final was accepted")
		}
	})
}

func TestRecover(t *testing.T) {
	eachEngine(t, func(t *testing.T, s store.Store, _ string) {
		ctx := t.Context()
		queued := &store.Run{Config: cfg()}
		running := &store.Run{Name: "crashed", Config: cfg()}
		for _, r := range []*store.Run{queued, running} {
			if err := s.CreateRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		s.StartRun(ctx, running.ID, time.Now())
		for i := 1; i <= 3; i++ {
			if err := s.SaveSecond(ctx, running.ID, store.Second{Run: 1, OffsetS: float64(i), Requests: int64(100 * i), Errors: int64(i), ActualQPS: 100, P50: 1, P99: 2, Max: 3}); err != nil {
				t.Fatal(err)
			}
		}
		ids, err := s.Recover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 2 {
			t.Fatalf("recovered %v, want both runs", ids)
		}
		q, _ := s.Run(ctx, queued.ID)
		if q.State != store.Failed || q.Result != nil {
			t.Errorf("a run with no second: %+v", q)
		}
		r, _ := s.Run(ctx, running.ID)
		if r.State != store.Partial || !r.Partial || r.Result == nil || !r.Result.Partial || len(r.Result.Intervals) != 3 ||
			r.Result.Requests.Total != 300 || r.Result.Requests.Errors != 3 || r.Result.Intervals[2].Requests != 100 ||
			!strings.Contains(r.Message, "3 saved seconds") || r.Requests != 300 {
			t.Errorf("a crashed run: %+v\n%v", r, r.Result)
		}
		if ids, _ := s.Recover(ctx); len(ids) != 0 {
			t.Errorf("recovered again: %v", ids)
		}
	})
}

func TestProfilesAndComparisons(t *testing.T) {
	eachEngine(t, func(t *testing.T, s store.Store, _ string) {
		ctx := t.Context()
		p := &store.Profile{Name: "smoke", Config: cfg()}
		if err := s.SaveProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
		p.Config.Duration = "5s"
		if err := s.SaveProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveProfile(ctx, &store.Profile{Name: " "}); err == nil {
			t.Error("a profile without a name was saved")
		}
		ps, err := s.Profiles(ctx)
		if err != nil || len(ps) != 1 || ps[0].Config.GetDuration() != "5s" {
			t.Fatalf("profiles %v %v", ps, err)
		}
		if err := s.DeleteProfile(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Profile(ctx, p.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted profile: %v", err)
		}
		c := &store.Comparison{RunIDs: []string{"a", "b"}, Output: []byte(`{"x":1}`)}
		if err := s.SaveComparison(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.Comparison(ctx, c.ID)
		if err != nil || string(got.Output) != `{"x":1}` || len(got.RunIDs) != 2 {
			t.Fatalf("comparison %v %v", got, err)
		}
	})
}
