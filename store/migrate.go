package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migration is one step of the schema. Steps are never edited once
// released: a change is a new step, so that every database, whatever
// version it is at, reaches the same schema.
type migration struct {
	version int
	name    string
	sql     []string // statements, valid on both engines
}

// migrations is the schema's history. The SQL is the subset both engines
// read alike: TEXT, BIGINT, DOUBLE PRECISION, INTEGER for booleans (0/1),
// times as Unix milliseconds.
var migrations = []migration{
	{1, "runs, documents, labels, seconds, profiles, comparisons", []string{
		`CREATE TABLE runs (
			id TEXT PRIMARY KEY,
			name TEXT NOT NULL DEFAULT '',
			state TEXT NOT NULL,
			message TEXT NOT NULL DEFAULT '',
			partial INTEGER NOT NULL DEFAULT 0,
			uncorrected INTEGER NOT NULL DEFAULT 0,
			created_ms BIGINT NOT NULL,
			started_ms BIGINT NOT NULL DEFAULT 0,
			ended_ms BIGINT NOT NULL DEFAULT 0,
			labels TEXT NOT NULL DEFAULT '', -- k=v&k2=v2, query-escaped (encodeLabels)
			endpoint TEXT NOT NULL DEFAULT '',
			protocol TEXT NOT NULL DEFAULT '',
			mesh TEXT NOT NULL DEFAULT '',
			requested_qps DOUBLE PRECISION NOT NULL DEFAULT 0,
			actual_qps DOUBLE PRECISION NOT NULL DEFAULT 0,
			p50_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
			p90_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
			p99_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
			requests BIGINT NOT NULL DEFAULT 0,
			errors BIGINT NOT NULL DEFAULT 0
		)`,
		// The documents live apart from the indexed row: a list reads
		// only small rows (with them inline, listing 10,000 runs read
		// three times the pages).
		`CREATE TABLE run_documents (
			run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
			config TEXT NOT NULL DEFAULT '',
			result TEXT NOT NULL DEFAULT '',
			histogram TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE INDEX runs_created ON runs (created_ms, id)`,
		`CREATE INDEX runs_state ON runs (state, created_ms)`,
		`CREATE INDEX runs_endpoint ON runs (endpoint, created_ms)`,
		`CREATE INDEX runs_mesh ON runs (mesh, created_ms)`,
		`CREATE TABLE run_labels (
			run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
			key TEXT NOT NULL,
			value TEXT NOT NULL,
			created_ms BIGINT NOT NULL, -- the run's, so that a label's runs come in list order from the index
			PRIMARY KEY (run_id, key)
		)`,
		`CREATE INDEX run_labels_kv ON run_labels (key, value, created_ms, run_id)`,
		`CREATE TABLE run_seconds (
			run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
			run_no INTEGER NOT NULL,
			offset_s DOUBLE PRECISION NOT NULL,
			requests BIGINT NOT NULL,
			errors BIGINT NOT NULL,
			actual_qps DOUBLE PRECISION NOT NULL,
			p50_ms DOUBLE PRECISION NOT NULL,
			p99_ms DOUBLE PRECISION NOT NULL,
			max_ms DOUBLE PRECISION NOT NULL,
			PRIMARY KEY (run_id, run_no, offset_s)
		)`,
		`CREATE TABLE profiles (
			id TEXT PRIMARY KEY,
			name TEXT NOT NULL,
			created_ms BIGINT NOT NULL,
			updated_ms BIGINT NOT NULL,
			config TEXT NOT NULL
		)`,
		`CREATE TABLE comparisons (
			id TEXT PRIMARY KEY,
			created_ms BIGINT NOT NULL,
			run_ids TEXT NOT NULL,
			output TEXT NOT NULL
		)`,
	}},
}

// SchemaVersion is the schema this build of smp writes.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// migrate brings the database to SchemaVersion, each step in a
// transaction of its own with its version row, so that a step is applied
// whole or not at all. lock, when set, is run first in each transaction
// to keep two processes from migrating at once (PostgreSQL's advisory
// lock; SQLite's immediate transactions already do).
func (s *sqlStore) migrate(ctx context.Context, lock string) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	for _, m := range migrations {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if lock != "" {
				if _, err := tx.ExecContext(ctx, lock); err != nil {
					return err
				}
			}
			var latest sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&latest); err != nil {
				return err
			}
			if int(latest.Int64) > SchemaVersion() {
				return fmt.Errorf("the database is at schema version %d, newer than this smp's %d: upgrade smp", latest.Int64, SchemaVersion())
			}
			if int(latest.Int64) >= m.version {
				return nil
			}
			for _, q := range m.sql {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("%w\n%s", err, q)
				}
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)`),
				m.version, m.name, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// Version returns the schema version the database is at.
func (s *sqlStore) Version(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return int(v.Int64), nil
}
