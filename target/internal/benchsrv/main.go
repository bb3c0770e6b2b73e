// Command benchsrv serves an empty 200 response over HTTP/1.1 either with
// the target's own server or with a plain net/http handler, so that
// bench.sh can compare the two under wrk on one pinned core.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/smp-project/smp/target"
)

func main() {
	mode := flag.String("mode", "smp", "smp (the target) or nethttp (a plain net/http handler)")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	profile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchsrv:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "benchsrv:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *mode, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "benchsrv:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func serve(ctx context.Context, mode, addr string) error {
	switch mode {
	case "smp":
		srv, err := target.Start(ctx, target.Config{HTTP: addr})
		if err != nil {
			return err
		}
		<-ctx.Done()
		return srv.Close()
	case "nethttp":
		srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
		go func() {
			<-ctx.Done()
			_ = srv.Close()
		}()
		if err := srv.ListenAndServe(); err != http.ErrServerClosed {
			return err
		}
		return nil
	}
	return fmt.Errorf("unknown mode %q (want smp or nethttp)", mode)
}
