package smp_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/smp-project/smp"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/target"
)

// A test at 200 requests per second for one second against smp's target,
// started in the same process on a free port. An open loop schedules
// exactly rate × duration requests.
func ExampleRun() {
	ctx := context.Background()
	srv, err := target.Start(ctx, target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	res, err := smp.Run(ctx, smp.Test{
		URL:         "http://" + srv.Addrs().HTTP + "/",
		Rate:        200,
		Duration:    time.Second,
		Connections: 4,
	})
	if err != nil {
		log.Fatal(err)
	}
	t := res.Load.Total
	fmt.Printf("requests: %d, errors: %d, status 200: %d\n", t.Requests, t.Errors, t.Codes[200])
	// Latencies differ from run to run: the example prints only that
	// there is one. p99 is timed from each request's due time.
	p99 := t.Latency.Percentile(99)
	fmt.Println("p99 measured:", p99 > 0)
	// Output:
	// requests: 200, errors: 0, status 200: 200
	// p99 measured: true
}

// Intervals stream while the test runs: one per second, then the last one
// after the run. Together they count every request of the result.
func ExampleRun_intervals() {
	ctx := context.Background()
	srv, err := target.Start(ctx, target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	var streamed int64
	var last bool
	res, err := smp.Run(ctx, smp.Test{
		URL:      "http://" + srv.Addrs().HTTP + "/",
		Rate:     100,
		Duration: 2 * time.Second,
		OnInterval: func(iv smp.Interval) {
			// A live display would print iv.Offset, iv.Rate, iv.P99 here.
			streamed += iv.Requests
			last = iv.Last
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("streamed %d of %d requests; last interval seen: %v\n", streamed, res.Load.Total.Requests, last)
	// Output: streamed 200 of 200 requests; last interval seen: true
}

// A target that is not there: nothing is measured, and the error says so.
func ExampleRun_unreachable() {
	// A free port on the loopback interface that nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	_, err = smp.Run(context.Background(), smp.Test{URL: "http://" + addr + "/", Rate: 10, Duration: time.Second})
	fmt.Println(errors.Is(err, smp.ErrUnreachable))

	_, err = smp.Run(context.Background(), smp.Test{URL: "ftp://" + addr + "/"})
	fmt.Println(errors.Is(err, smp.ErrInvalid))
	// Output:
	// true
	// true
}

// A full SMP test config, here from YAML, runs as `smp run -f` runs it;
// the result is an SMP result document.
func ExampleRunConfig() {
	ctx := context.Background()
	srv, err := target.Start(ctx, target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	yaml := fmt.Sprintf(`
name: example
duration: 1s
clients:
  - endpoint_urls: ["http://%s/?size=64"]
    rps: 150
    connections: 2
`, srv.Addrs().HTTP)
	doc, err := spec.Load([]byte(yaml), "example.yaml")
	if err != nil {
		log.Fatal(err)
	}
	res, err := smp.RunConfig(ctx, doc.Config, smp.Options{})
	if err != nil {
		log.Fatal(err)
	}
	r := res.SMP
	fmt.Println("name:", r.GetName())
	fmt.Println("protocol:", r.GetConfig().GetClients()[0].GetProtocol())
	fmt.Println("requests:", r.GetRequests().GetTotal(), "ok:", r.GetRequests().GetOk())
	fmt.Println("status 200:", r.GetStatusCodes()[200])
	// Output:
	// name: example
	// protocol: PROTOCOL_HTTP
	// requests: 150 ok: 150
	// status 200: 150
}
