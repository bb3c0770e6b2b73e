package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smp-project/smp/server"
	"github.com/smp-project/smp/store"
	"github.com/smp-project/smp/target"
	"github.com/spf13/cobra"
)

const serveLong = `Serve opens the results store and serves its JSON API (under /api/v1/) and the
web UI until interrupted: start a test from the browser, watch it live, find
past runs by label and date, and compare runs with the statistics of smp compare.

The store is an SQLite file (the default: smp.db in the user's data directory,
$XDG_DATA_HOME/smp or ~/.local/share/smp; --data DIR for another directory) or
a PostgreSQL database (--db postgres://user@host/db). Runs that a previous
server left running (a crash) are kept as partial results.

The built-in target (smp target) starts beside it on 127.0.0.1, a ready
endpoint for a first test (--no-demo leaves it out).

Safety: load goes only to the targets of --allow-target (CIDRs, addresses or
host names; loopback by default). Listening beyond loopback requires a token
(--token or $SMP_TOKEN), sent as "Authorization: Bearer TOKEN"; the URL printed
with ?token= sets it in the browser. Request bodies are limited (--max-body),
and so are a run's length (--max-duration) and repetitions.`

func newServeCmd() *cobra.Command {
	var (
		listen, data, db, token string
		allow                   []string
		maxBody                 int64
		maxDuration             time.Duration
		noDemo                  bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the results store: JSON API and web UI",
		Long:  serveLong,
		Example: `  smp serve
  smp serve --listen 127.0.0.1:8090 --data ./results
  smp serve --db postgres://smp@127.0.0.1/smp --allow-target 10.0.0.0/8
  SMP_TOKEN=$(openssl rand -hex 16) smp serve --listen 0.0.0.0:8090`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if data != "" && db != "" {
				return badInput(errors.New("--data and --db: give one"))
			}
			if token == "" {
				token = os.Getenv("SMP_TOKEN")
			}
			dsn := db
			if data != "" {
				dsn = store.DataDirPath(data)
			}
			ctx := cmd.Context()
			st, err := store.Open(ctx, dsn)
			if err != nil {
				return cannotRun(err)
			}
			defer st.Close()
			var demo string
			if !noDemo {
				tg, err := target.Start(ctx, target.Config{HTTP: "127.0.0.1:0"})
				if err != nil {
					return cannotRun(fmt.Errorf("the demo target: %w", err))
				}
				defer tg.Close()
				demo = "http://" + tg.Addrs().HTTP + "/"
			}
			srv, err := server.Start(ctx, server.Config{Listen: listen, Store: st, Token: token, AllowTargets: allow,
				MaxBody: maxBody, MaxDuration: maxDuration, Demo: demo})
			if err != nil {
				return badInput(err)
			}
			out := cmd.OutOrStdout()
			url := srv.URL()
			if token != "" {
				url += "?token=" + token
			}
			fmt.Fprintf(out, "smp serve: %s\n", url)
			fmt.Fprintf(out, "  store:  %s %s\n", st.Engine(), storeName(dsn))
			if demo != "" {
				fmt.Fprintf(out, "  demo target: %s\n", demo)
			}
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			select {
			case <-sigs:
				fmt.Fprintln(cmd.ErrOrStderr(), "smp serve: stopping; runs in progress are stored as cancelled")
				return srv.Close()
			case <-ctx.Done():
				return srv.Close()
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", server.DefaultListen, "address to serve on; beyond loopback it needs --token")
	f.StringVar(&data, "data", "", "directory of the SQLite store (default: the user's data directory)")
	f.StringVar(&db, "db", "", "the store's database: postgres://... for PostgreSQL, or an SQLite file")
	f.StringVar(&token, "token", "", "token every API request must carry (default $SMP_TOKEN); required beyond loopback")
	f.StringArrayVar(&allow, "allow-target", nil, "where runs may send load: CIDR, address or host name (repeatable; default loopback only)")
	f.Int64Var(&maxBody, "max-body", server.DefaultMaxBody, "largest request body in bytes")
	f.DurationVar(&maxDuration, "max-duration", server.DefaultMaxDuration, "longest run (warm-up and duration) the server accepts")
	f.BoolVar(&noDemo, "no-demo", false, "do not start the built-in target as a demo endpoint")
	return cmd
}

// storeName shows where the store is, without a DSN's password.
func storeName(dsn string) string {
	if store.IsPostgres(dsn) {
		return "(PostgreSQL)"
	}
	if dsn == "" {
		p, _ := store.DefaultPath()
		return p
	}
	return dsn
}
