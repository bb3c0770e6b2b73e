// Package smp runs load tests from Go code: the engine of the smp command,
// as a library.
//
// Run takes a Test (a URL and a few settings) and returns what was
// measured twice over: as the engine's figures (Result.Load: counts,
// status codes, latency histograms, the time series) and as an SMP result
// document (Result.SMP, which spec.WriteFile writes). RunConfig does the
// same for a full SMP test config, such as one read with spec.Load.
//
//	res, err := smp.Run(ctx, smp.Test{URL: "http://127.0.0.1:8080/", Rate: 1000, Duration: 5 * time.Second})
//	if err != nil {
//		return err
//	}
//	fmt.Println(res.Load.Total.Requests, res.Load.Total.Latency.Percentile(99))
//
// With a Rate the test is an open loop: rate × duration requests are due on
// a fixed schedule, and each latency is timed from when its request was due,
// so a slow target cannot hide its delays by holding back the load. A Rate
// of 0 is a closed loop: every connection sends its next request as soon as
// the previous one is answered.
//
// Results stream while the test runs: OnInterval (in Test, or in Options
// for RunConfig) receives one Interval per second of the measured window,
// and a last one, marked Last, after the run. The calls are made one at a
// time, in order, from a goroutine of their own, so a slow callback delays
// only itself, never the measurement; every call has returned when Run
// does. To consume the intervals as a channel, as vegeta's results are,
// send them to one from the callback.
//
// Errors from bad input wrap ErrInvalid (nothing was sent); when no
// endpoint answered at the start, the error wraps ErrUnreachable (nothing
// was measured) and says what to check. Cancelling ctx stops the test: Run
// then returns what was measured so far, marked partial
// (Result.Load.Partial), and no error.
//
// A target to test against starts in the same process with target.Start
// (package github.com/smp-project/smp/target), on a free port of the
// loopback interface:
//
//	srv, err := target.Start(ctx, target.Config{HTTP: "127.0.0.1:0"})
//	...
//	defer srv.Close()
//	res, err := smp.Run(ctx, smp.Test{URL: "http://" + srv.Addrs().HTTP + "/", Rate: 200, Duration: time.Second})
package smp
