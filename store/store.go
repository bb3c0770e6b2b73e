// Package store keeps SMP results, test profiles and comparisons in a
// database: embedded SQLite by default, PostgreSQL for a team.
//
// Both engines sit behind one interface, Store, and share one schema and
// one set of versioned migrations. A result is kept whole, as its SMP
// document, beside the columns a list filters and sorts on (time, labels,
// endpoint, protocol, mesh, rates, percentiles). A run in progress is
// written once a second (SaveSecond), each second in its own transaction,
// so that a crash loses at most the second being measured; Recover, run
// when a server starts, turns the runs a crash left "running" into partial
// results built from the seconds that were saved.
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/smp-project/smp/spec"
)

// ErrNotFound is returned (wrapped) for an id the store does not hold.
var ErrNotFound = errors.New("not found")

// State is where a run is in its life.
type State string

// The states of a run. Done, Failed, Cancelled and Partial are final.
const (
	Queued    State = "queued"    // accepted, waiting for the run before it
	Running   State = "running"   // sending load; seconds are being saved
	Done      State = "done"      // finished; the result is stored
	Failed    State = "failed"    // could not run (Message says why)
	Cancelled State = "cancelled" // stopped on request; a partial result may be stored
	Partial   State = "partial"   // interrupted by a crash; rebuilt from its saved seconds
)

// Final reports whether a run in state s will not change any more.
func (s State) Final() bool { return s != Queued && s != Running }

// Run is one stored run: a finished result, or a run still going on.
type Run struct {
	ID      string
	Name    string
	State   State
	Message string // why a run failed, was cancelled or is partial
	Partial bool   // the result covers less than the planned run
	// Uncorrected marks a result whose latency was timed from each
	// request's actual send (another tool's, such as Fortio's), which a
	// comparison must know (stats.Side).
	Uncorrected bool
	Created     time.Time
	Started     time.Time // zero until the run starts
	Ended       time.Time // zero until the run ends
	Labels      map[string]string
	// The indexed figures, copied from the result (zero until it is
	// stored): the first client's first endpoint and protocol, the
	// mesh type, rates and corrected latencies in milliseconds.
	Endpoint, Protocol, Mesh string
	RequestedQPS, ActualQPS  float64
	P50, P90, P99            float64
	Requests, Errors         int64
	// Config is the test config that ran (or runs). Result is the SMP
	// result once there is one. Both are nil in a list (Runs).
	Config *spec.PerformanceTestConfig
	Result *spec.PerformanceTestResult
}

// Second is what a run had measured when one more second of it ended,
// cumulative from the start of its measured window.
type Second struct {
	Run              int     // 1-based run of a series (smp run --runs)
	OffsetS          float64 // end of the second, from the start of the window
	Requests, Errors int64   // so far
	ActualQPS        float64 // of this second
	P50, P99, Max    float64 // corrected latency so far, milliseconds
	// Histogram is the corrected latency histogram so far ("hdr-v2"), kept
	// only for the latest second: a crash rebuilds the result from it.
	Histogram string
}

// SaveOptions say what a result does not say of itself.
type SaveOptions struct {
	Uncorrected bool // see Run.Uncorrected
}

// Filter chooses the runs Runs lists. The zero value lists the latest
// DefaultLimit runs.
type Filter struct {
	Labels   map[string]string // every label must be set to this value
	Since    time.Time         // created at or after (zero: no bound)
	Until    time.Time         // created before (zero: no bound)
	State    State             // "" for any
	Endpoint string            // exact first endpoint, "" for any
	Limit    int               // 0 means DefaultLimit; at most MaxLimit
}

// Limits of a list: a page of a UI, and a bound on what one request costs.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Profile is a saved test: an SMP config under a name.
type Profile struct {
	ID      string
	Name    string
	Created time.Time
	Updated time.Time
	Config  *spec.PerformanceTestConfig
}

// Comparison is a saved comparison of stored runs, the baseline first,
// with what the comparison said (stats' JSON, as `smp compare --format
// json` prints it).
type Comparison struct {
	ID      string
	Created time.Time
	RunIDs  []string
	Output  []byte
}

// Store is a results database. Every method is safe for concurrent use.
type Store interface {
	// CreateRun stores a new run (its ID, State, Config, Name and Labels)
	// and sets its ID (if empty) and Created time.
	CreateRun(ctx context.Context, r *Run) error
	// StartRun marks a queued run running.
	StartRun(ctx context.Context, id string, at time.Time) error
	// SaveSecond saves one more second of a running run.
	SaveSecond(ctx context.Context, id string, s Second) error
	// FinishRun ends a run in a final state with its result, if any (a
	// failed run has none), and a message.
	FinishRun(ctx context.Context, id string, state State, res *spec.PerformanceTestResult, msg string) error
	// SaveResult stores a finished result (an import, `smp run --store`)
	// as a run in state Done, and returns its id.
	SaveResult(ctx context.Context, res *spec.PerformanceTestResult, o SaveOptions) (string, error)
	// Run returns one run with its config and result.
	Run(ctx context.Context, id string) (*Run, error)
	// Seconds returns the saved seconds of a run, in order.
	Seconds(ctx context.Context, id string) ([]Second, error)
	// Runs lists runs, the newest first, without configs and results.
	Runs(ctx context.Context, f Filter) ([]*Run, error)
	// DeleteRun removes a run and everything saved with it.
	DeleteRun(ctx context.Context, id string) error
	// Recover marks the runs left queued or running by a process that
	// ended without finishing them: a run with saved seconds becomes
	// Partial with a result rebuilt from them, one without becomes Failed.
	// It returns the ids it changed.
	Recover(ctx context.Context) ([]string, error)

	SaveProfile(ctx context.Context, p *Profile) error
	Profile(ctx context.Context, id string) (*Profile, error)
	Profiles(ctx context.Context) ([]*Profile, error)
	DeleteProfile(ctx context.Context, id string) error

	SaveComparison(ctx context.Context, c *Comparison) error
	Comparison(ctx context.Context, id string) (*Comparison, error)

	// Engine is "sqlite" or "postgres"; Version the schema version.
	Engine() string
	Close() error
}

// IsPostgres reports whether dsn names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens (creating it if needed) the database dsn names and migrates
// it to the current schema: a postgres:// or postgresql:// URL for
// PostgreSQL, otherwise the path of an SQLite file ("" for DefaultPath).
func Open(ctx context.Context, dsn string) (Store, error) {
	if IsPostgres(dsn) {
		return openPostgres(ctx, dsn)
	}
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path == "" {
		var err error
		if path, err = DefaultPath(); err != nil {
			return nil, err
		}
	}
	return openSQLite(ctx, path)
}

// DefaultPath is the SQLite file used when no database is named: smp.db
// in the user's data directory ($XDG_DATA_HOME/smp, else
// ~/.local/share/smp; the platform's application data folder on macOS
// and Windows).
func DefaultPath() (string, error) {
	var dir string
	switch {
	case os.Getenv("XDG_DATA_HOME") != "":
		dir = os.Getenv("XDG_DATA_HOME")
	case runtime.GOOS == "darwin" || runtime.GOOS == "windows":
		d, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("store: no data directory: %w", err)
		}
		dir = d
	default:
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("store: no data directory: %w", err)
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "smp", "smp.db"), nil
}

// DataDirPath is the SQLite file of a data directory (smp serve --data).
func DataDirPath(dir string) string { return filepath.Join(dir, "smp.db") }
