package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/smp-project/smp/spec"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// sqlStore is Store over database/sql. The engines differ only in the
// driver, the placeholder syntax (q) and how they are opened.
type sqlStore struct {
	db     *sql.DB
	engine string
}

func openSQLite(ctx context.Context, path string) (*sqlStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// WAL lets the API read while a run writes its seconds; synchronous
	// NORMAL in WAL mode still survives a killed process (only a power
	// loss can drop the last commits). Immediate transactions take the
	// write lock at BEGIN, so two writers wait (busy_timeout) instead of
	// failing on a lock upgrade.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=cache_size(-32000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &sqlStore{db: db, engine: "sqlite"}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := s.migrate(ctx, ""); err != nil {
		db.Close()
		return nil, fmt.Errorf("%w (database %s)", err, path)
	}
	return s, nil
}

func openPostgres(ctx context.Context, dsn string) (*sqlStore, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	s := &sqlStore{db: db, engine: "postgres"}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	// The lock's key is arbitrary but fixed: every smp migrating this
	// database takes the same one.
	if err := s.migrate(ctx, `SELECT pg_advisory_xact_lock(7143802)`); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *sqlStore) Engine() string { return s.engine }
func (s *sqlStore) Close() error   { return s.db.Close() }

// q rewrites ? placeholders as PostgreSQL's $1, $2...; the queries have
// no ? inside string literals.
func (s *sqlStore) q(query string) string {
	if s.engine != "postgres" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// tx runs f in a transaction, committed when f returns nil.
func (s *sqlStore) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

func notFound(what, id string) error { return fmt.Errorf("%s %q: %w", what, id, ErrNotFound) }

func encodeConfig(c *spec.PerformanceTestConfig) (string, error) {
	if c == nil {
		return "", nil
	}
	b, err := spec.Encode(c, "json")
	return string(b), err
}

func decodeConfig(s, what string) (*spec.PerformanceTestConfig, error) {
	if s == "" {
		return nil, nil
	}
	doc, err := spec.LoadAs([]byte(s), what, spec.KindConfig)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return doc.Config, nil
}

func (s *sqlStore) CreateRun(ctx context.Context, r *Run) error {
	if r.ID == "" {
		r.ID = newID()
	}
	if r.State == "" {
		r.State = Queued
	}
	r.Created = time.Now()
	cfg, err := encodeConfig(r.Config)
	if err != nil {
		return fmt.Errorf("store: run config: %w", err)
	}
	if r.Labels == nil && r.Config != nil {
		r.Labels = maps.Clone(r.Config.GetLabels())
	}
	endpoint, protocol, mesh := configColumns(r.Config)
	labels := encodeLabels(r.Labels)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO runs (id, name, state, created_ms, started_ms, labels, endpoint, protocol, mesh, requested_qps)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			r.ID, r.Name, string(r.State), ms(r.Created), ms(r.Started), labels, endpoint, protocol, mesh, configQPS(r.Config)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO run_documents (run_id, config) VALUES (?, ?)`), r.ID, cfg); err != nil {
			return err
		}
		return s.insertLabels(ctx, tx, r.ID, r.Created, r.Labels)
	})
	if err != nil {
		return fmt.Errorf("store: create run: %w", err)
	}
	return nil
}

// encodeLabels writes labels as a query string (k=v&k2=v2, sorted): a
// list decodes one per row, and this is several times quicker to read
// than JSON (a list of 10,000 runs spent a fifth of its time in
// json.Unmarshal).
func encodeLabels(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(m[k]))
	}
	return b.String()
}

func decodeLabels(s string) (map[string]string, error) {
	m := map[string]string{}
	for s != "" {
		var kv string
		kv, s, _ = strings.Cut(s, "&")
		k, v, _ := strings.Cut(kv, "=")
		var err error
		if strings.ContainsAny(k, "%+") {
			if k, err = url.QueryUnescape(k); err != nil {
				return nil, err
			}
		}
		if strings.ContainsAny(v, "%+") {
			if v, err = url.QueryUnescape(v); err != nil {
				return nil, err
			}
		}
		m[k] = v
	}
	return m, nil
}

func (s *sqlStore) insertLabels(ctx context.Context, tx *sql.Tx, id string, created time.Time, labels map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO run_labels (run_id, key, value, created_ms) VALUES (?, ?, ?, ?)`), id, k, labels[k], ms(created)); err != nil {
			return err
		}
	}
	return nil
}

func (s *sqlStore) StartRun(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE runs SET state = ?, started_ms = ? WHERE id = ?`), string(Running), ms(at), id)
	return updated(res, err, "start run", id)
}

func updated(res sql.Result, err error, what, id string) error {
	if err != nil {
		return fmt.Errorf("store: %s %s: %w", what, id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("store: %s: %w", what, notFound("run", id))
	}
	return nil
}

func (s *sqlStore) SaveSecond(ctx context.Context, id string, sec Second) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO run_seconds (run_id, run_no, offset_s, requests, errors, actual_qps, p50_ms, p99_ms, max_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			id, max(sec.Run, 1), sec.OffsetS, sec.Requests, sec.Errors, sec.ActualQPS, sec.P50, sec.P99, sec.Max); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE run_documents SET histogram = ? WHERE run_id = ?`), sec.Histogram, id)
		return updated(res, err, "save second", id)
	})
	if err != nil {
		return fmt.Errorf("store: save second %v of run %s: %w", sec.OffsetS, id, err)
	}
	return nil
}

// resultColumns are the indexed figures of a result.
type resultColumns struct {
	name, endpoint, protocol, mesh string
	requested, actual              float64
	p50, p90, p99                  float64
	requests, errors               int64
	labels                         map[string]string
	partial                        bool
	start, end                     time.Time
}

func columns(res *spec.PerformanceTestResult) resultColumns {
	c := resultColumns{name: res.GetName(), requested: res.GetRequestedQps(), actual: res.GetActualQps(),
		p50: res.GetLatenciesMs().GetP50(), p90: res.GetLatenciesMs().GetP90(), p99: res.GetLatenciesMs().GetP99(),
		requests: res.GetRequests().GetTotal(), errors: res.GetRequests().GetErrors(),
		labels: res.GetLabels(), partial: res.GetPartial()}
	if c.requested == 0 {
		c.requested = configQPS(res.GetConfig())
	}
	c.endpoint, c.protocol, c.mesh = configColumns(res.GetConfig())
	if c.mesh == "" && res.GetMesh() != nil {
		c.mesh = strings.ToLower(res.GetMesh().GetType().String())
	}
	if c.labels == nil {
		c.labels = res.GetConfig().GetLabels()
	}
	if res.GetStartTime() != nil {
		c.start = res.GetStartTime().AsTime()
	}
	if res.GetEndTime() != nil {
		c.end = res.GetEndTime().AsTime()
	}
	return c
}

func configColumns(cfg *spec.PerformanceTestConfig) (endpoint, protocol, mesh string) {
	if cfg == nil {
		return "", "", ""
	}
	if cs := cfg.GetClients(); len(cs) > 0 {
		if eps := cs[0].GetEndpointUrls(); len(eps) > 0 {
			endpoint = eps[0]
		}
		if p := cs[0].GetProtocol(); p != 0 {
			protocol = strings.ToLower(strings.TrimPrefix(p.String(), "PROTOCOL_"))
		} else if scheme, _, ok := strings.Cut(endpoint, "://"); ok {
			// No protocol field: the URL's scheme chooses, as in a run.
			protocol = strings.ToLower(scheme)
		}
	}
	if m := cfg.GetMesh(); m != nil && m.GetType() != 0 {
		mesh = strings.ToLower(m.GetType().String())
	}
	return endpoint, protocol, mesh
}

func configQPS(cfg *spec.PerformanceTestConfig) float64 {
	var sum float64
	for _, c := range cfg.GetClients() {
		if c.GetQps() > 0 {
			sum += c.GetQps()
		} else {
			sum += float64(c.GetRps())
		}
	}
	return sum
}

func (s *sqlStore) FinishRun(ctx context.Context, id string, state State, res *spec.PerformanceTestResult, msg string) error {
	if !state.Final() {
		return fmt.Errorf("store: finish run %s: %q is not a final state", id, state)
	}
	var doc string
	c := resultColumns{}
	if res != nil {
		b, err := spec.Encode(res, "json")
		if err != nil {
			return fmt.Errorf("store: finish run %s: %w", id, err)
		}
		doc = string(b)
		c = columns(res)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE run_documents SET result = ? WHERE run_id = ?`), doc, id); err != nil {
			return err
		}
		q := `UPDATE runs SET state = ?, message = ?, partial = ?, ended_ms = ?`
		args := []any{string(state), msg, boolInt(c.partial || state == Partial), time.Now().UnixMilli()}
		if res != nil {
			q += `, actual_qps = ?, p50_ms = ?, p90_ms = ?, p99_ms = ?, requests = ?, errors = ?`
			args = append(args, c.actual, c.p50, c.p90, c.p99, c.requests, c.errors)
			if c.endpoint != "" {
				q += `, endpoint = ?, protocol = ?`
				args = append(args, c.endpoint, c.protocol)
			}
		}
		res, err := tx.ExecContext(ctx, s.q(q+` WHERE id = ?`), append(args, id)...)
		return updated(res, err, "finish run", id)
	})
	if err != nil {
		return fmt.Errorf("store: finish run %s: %w", id, err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *sqlStore) SaveResult(ctx context.Context, res *spec.PerformanceTestResult, o SaveOptions) (string, error) {
	if res == nil {
		return "", errors.New("store: save result: no result")
	}
	b, err := spec.Encode(res, "json")
	if err != nil {
		return "", fmt.Errorf("store: save result: %w", err)
	}
	cfg, err := encodeConfig(res.GetConfig())
	if err != nil {
		return "", fmt.Errorf("store: save result: %w", err)
	}
	c := columns(res)
	id := newID()
	now := time.Now()
	created := now
	if !c.start.IsZero() {
		// A list is in the order the runs ran, imported or not.
		created = c.start
	}
	labels := encodeLabels(c.labels)
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO runs (id, name, state, partial, uncorrected, message, created_ms, started_ms, ended_ms, labels,
			endpoint, protocol, mesh, requested_qps, actual_qps, p50_ms, p90_ms, p99_ms, requests, errors)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			id, c.name, string(Done), boolInt(c.partial), boolInt(o.Uncorrected), res.GetPartialReason(), ms(created), ms(c.start), ms(c.end), labels,
			c.endpoint, c.protocol, c.mesh, c.requested, c.actual, c.p50, c.p90, c.p99, c.requests, c.errors); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO run_documents (run_id, config, result) VALUES (?, ?, ?)`), id, cfg, string(b)); err != nil {
			return err
		}
		return s.insertLabels(ctx, tx, id, created, c.labels)
	})
	if err != nil {
		return "", fmt.Errorf("store: save result: %w", err)
	}
	return id, nil
}

const runColumns = `id, name, state, message, partial, uncorrected, created_ms, started_ms, ended_ms, labels, endpoint, protocol, mesh,
	requested_qps, actual_qps, p50_ms, p90_ms, p99_ms, requests, errors`

// runColumnsOf is runColumns, each prefixed (a table name and a dot).
func runColumnsOf(prefix string) string {
	cols := strings.Split(runColumns, ",")
	for i, c := range cols {
		cols[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

type scanner interface{ Scan(...any) error }

func scanRun(sc scanner, extra ...any) (*Run, error) {
	var r Run
	var state, labels string
	var partial, uncorrected int
	var created, started, ended int64
	dest := []any{&r.ID, &r.Name, &state, &r.Message, &partial, &uncorrected, &created, &started, &ended, &labels,
		&r.Endpoint, &r.Protocol, &r.Mesh, &r.RequestedQPS, &r.ActualQPS, &r.P50, &r.P90, &r.P99, &r.Requests, &r.Errors}
	err := sc.Scan(append(dest, extra...)...)
	if err != nil {
		return nil, err
	}
	r.State, r.Partial, r.Uncorrected = State(state), partial != 0, uncorrected != 0
	r.Created, r.Started, r.Ended = fromMS(created), fromMS(started), fromMS(ended)
	if r.Labels, err = decodeLabels(labels); err != nil {
		return nil, fmt.Errorf("labels of run %s: %w", r.ID, err)
	}
	return &r, nil
}

func (s *sqlStore) Run(ctx context.Context, id string) (*Run, error) {
	var cfg, res string
	r, err := scanRun(s.db.QueryRowContext(ctx, s.q(`SELECT `+runColumnsOf("runs.")+`, d.config, d.result FROM runs JOIN run_documents d ON d.run_id = runs.id WHERE runs.id = ?`), id), &cfg, &res)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("run", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: run %s: %w", id, err)
	}
	if r.Config, err = decodeConfig(cfg, "config of run "+id); err != nil {
		return nil, err
	}
	if res != "" {
		doc, err := spec.LoadAs([]byte(res), "result of run "+id, spec.KindResult)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		r.Result = doc.Result
	}
	return r, nil
}

func (s *sqlStore) Seconds(ctx context.Context, id string) ([]Second, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT run_no, offset_s, requests, errors, actual_qps, p50_ms, p99_ms, max_ms
		FROM run_seconds WHERE run_id = ? ORDER BY run_no, offset_s`), id)
	if err != nil {
		return nil, fmt.Errorf("store: seconds of run %s: %w", id, err)
	}
	defer rows.Close()
	var out []Second
	for rows.Next() {
		var sec Second
		if err := rows.Scan(&sec.Run, &sec.OffsetS, &sec.Requests, &sec.Errors, &sec.ActualQPS, &sec.P50, &sec.P99, &sec.Max); err != nil {
			return nil, fmt.Errorf("store: seconds of run %s: %w", id, err)
		}
		out = append(out, sec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: seconds of run %s: %w", id, err)
	}
	return out, nil
}

func (s *sqlStore) Runs(ctx context.Context, f Filter) ([]*Run, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	if limit > MaxLimit {
		return nil, fmt.Errorf("store: list limit %d: at most %d", limit, MaxLimit)
	}
	var where []string
	var args []any
	from := `runs`
	keys := slices.Sorted(maps.Keys(f.Labels))
	if len(keys) > 0 {
		// The first label is a join on the (key, value, run_id) index,
		// which answers without reading runs that do not match; the
		// others are checked on the rows it gives.
		from = `run_labels l0 JOIN runs ON runs.id = l0.run_id`
		where = append(where, `l0.key = ? AND l0.value = ?`)
		args = append(args, keys[0], f.Labels[keys[0]])
	}
	for _, k := range keys[min(len(keys), 1):] {
		where = append(where, `EXISTS (SELECT 1 FROM run_labels l WHERE l.run_id = runs.id AND l.key = ? AND l.value = ?)`)
		args = append(args, k, f.Labels[k])
	}
	if !f.Since.IsZero() {
		where = append(where, `runs.created_ms >= ?`)
		args = append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		where = append(where, `runs.created_ms < ?`)
		args = append(args, f.Until.UnixMilli())
	}
	if f.State != "" {
		where = append(where, `runs.state = ?`)
		args = append(args, string(f.State))
	}
	if f.Endpoint != "" {
		where = append(where, `runs.endpoint = ?`)
		args = append(args, f.Endpoint)
	}
	q := `SELECT ` + runColumnsOf("runs.") + ` FROM ` + from
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	if len(keys) > 0 {
		// In the index's order: no sort of the matching rows.
		q += ` ORDER BY l0.created_ms DESC, l0.run_id DESC LIMIT ?`
	} else {
		q += ` ORDER BY runs.created_ms DESC, runs.id DESC LIMIT ?`
	}
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	defer rows.Close()
	out := []*Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	return out, nil
}

func (s *sqlStore) DeleteRun(ctx context.Context, id string) error {
	// The labels and seconds go with the run (ON DELETE CASCADE), in the
	// same statement.
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM runs WHERE id = ?`), id)
	return updated(res, err, "delete run", id)
}

func (s *sqlStore) Recover(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id FROM runs WHERE state IN (?, ?)`), string(Queued), string(Running))
	if err != nil {
		return nil, fmt.Errorf("store: recover: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: recover: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: recover: %w", err)
	}
	for _, id := range ids {
		if err := s.recoverRun(ctx, id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func (s *sqlStore) recoverRun(ctx context.Context, id string) error {
	r, err := s.Run(ctx, id)
	if err != nil {
		return err
	}
	secs, err := s.Seconds(ctx, id)
	if err != nil {
		return err
	}
	if len(secs) == 0 {
		return s.FinishRun(ctx, id, Failed, nil, "the process running it ended before its first second was measured")
	}
	var hist string
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT histogram FROM run_documents WHERE run_id = ?`), id).Scan(&hist); err != nil {
		return fmt.Errorf("store: recover run %s: %w", id, err)
	}
	res, err := Rebuild(r, secs, hist)
	if err != nil {
		return fmt.Errorf("store: recover run %s: %w", id, err)
	}
	return s.FinishRun(ctx, id, Partial, res, res.GetPartialReason())
}

func (s *sqlStore) SaveProfile(ctx context.Context, p *Profile) error {
	if strings.TrimSpace(p.Name) == "" {
		return errors.New("store: save profile: name is empty")
	}
	cfg, err := encodeConfig(p.Config)
	if err != nil || cfg == "" {
		return fmt.Errorf("store: save profile %q: no config (%v)", p.Name, err)
	}
	now := time.Now()
	p.Updated = now
	if p.ID == "" {
		p.ID, p.Created = newID(), now
		_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO profiles (id, name, created_ms, updated_ms, config) VALUES (?, ?, ?, ?, ?)`),
			p.ID, p.Name, ms(p.Created), ms(now), cfg)
		if err != nil {
			return fmt.Errorf("store: save profile %q: %w", p.Name, err)
		}
		return nil
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE profiles SET name = ?, updated_ms = ?, config = ? WHERE id = ?`), p.Name, ms(now), cfg, p.ID)
	if err != nil {
		return fmt.Errorf("store: save profile %q: %w", p.Name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: save profile: %w", notFound("profile", p.ID))
	}
	return nil
}

func (s *sqlStore) scanProfile(sc scanner) (*Profile, error) {
	var p Profile
	var created, updated int64
	var cfg string
	if err := sc.Scan(&p.ID, &p.Name, &created, &updated, &cfg); err != nil {
		return nil, err
	}
	p.Created, p.Updated = fromMS(created), fromMS(updated)
	var err error
	p.Config, err = decodeConfig(cfg, "profile "+p.Name)
	return &p, err
}

func (s *sqlStore) Profile(ctx context.Context, id string) (*Profile, error) {
	p, err := s.scanProfile(s.db.QueryRowContext(ctx, s.q(`SELECT id, name, created_ms, updated_ms, config FROM profiles WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("profile", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: profile %s: %w", id, err)
	}
	return p, nil
}

func (s *sqlStore) Profiles(ctx context.Context) ([]*Profile, error) {
	// Profiles are few (a team's tests), so they are listed whole.
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, created_ms, updated_ms, config FROM profiles ORDER BY name, id LIMIT 10000`)
	if err != nil {
		return nil, fmt.Errorf("store: profiles: %w", err)
	}
	defer rows.Close()
	out := []*Profile{}
	for rows.Next() {
		p, err := s.scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("store: profiles: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func (s *sqlStore) DeleteProfile(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM profiles WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("store: delete profile %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: delete profile: %w", notFound("profile", id))
	}
	return nil
}

func (s *sqlStore) SaveComparison(ctx context.Context, c *Comparison) error {
	if len(c.RunIDs) < 2 {
		return errors.New("store: save comparison: fewer than two runs")
	}
	c.ID, c.Created = newID(), time.Now()
	ids, _ := json.Marshal(c.RunIDs)
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO comparisons (id, created_ms, run_ids, output) VALUES (?, ?, ?, ?)`),
		c.ID, ms(c.Created), string(ids), string(c.Output))
	if err != nil {
		return fmt.Errorf("store: save comparison: %w", err)
	}
	return nil
}

func (s *sqlStore) Comparison(ctx context.Context, id string) (*Comparison, error) {
	var c Comparison
	var created int64
	var ids, out string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, created_ms, run_ids, output FROM comparisons WHERE id = ?`), id).Scan(&c.ID, &created, &ids, &out)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("comparison", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: comparison %s: %w", id, err)
	}
	c.Created, c.Output = fromMS(created), []byte(out)
	if err := json.Unmarshal([]byte(ids), &c.RunIDs); err != nil {
		return nil, fmt.Errorf("store: comparison %s: %w", id, err)
	}
	return &c, nil
}
