// Package fortiojson is Fortio's result JSON, the subset smp writes
// (package report) and reads (package interop).
//
// The types follow fortio.org/fortio's fhttp.HTTPRunnerResults, which
// embeds periodic.RunnerResults and fhttp.HTTPOptions. Field names are
// Fortio's Go field names, which is what its JSON uses. Durations in
// histograms are in seconds; ActualDuration and HTTPReqTimeOut are in
// nanoseconds (Go's time.Duration).
package fortiojson

import "time"

// Result is one Fortio run (HTTPRunnerResults or GrpcRunnerResults).
type Result struct {
	RunType                 string
	Labels                  string
	StartTime               time.Time
	RequestedQPS            string
	RequestedDuration       string
	ActualQPS               float64
	ActualDuration          int64
	NumThreads              int
	Version                 string
	DurationHistogram       *Histogram
	ErrorsDurationHistogram *Histogram
	Exactly                 int64
	Jitter                  bool
	Uniform                 bool
	NoCatchUp               bool
	RunID                   int64
	AccessLoggerInfo        string
	ID                      string
	RetCodes                map[int]int64
	URL                     string
	NumConnections          int
	HTTPReqTimeOut          int64
	ContentType             string
	Payload                 []byte
	MethodOverride          string
	// Sockets and SocketCount are written so that Fortio's UI, which
	// reads them, finds them; smp does not count sockets per thread.
	Sockets     []int64
	SocketCount int64
}

// Histogram is Fortio's latency histogram: a count per bucket, in seconds.
type Histogram struct {
	Count       int64
	Min         float64
	Max         float64
	Sum         float64
	Avg         float64
	StdDev      float64
	Data        []Bucket
	Percentiles []Percentile `json:"Percentiles,omitempty"`
}

// Bucket is one bucket of a Histogram: Count values in (Start, End].
type Bucket struct {
	Start   float64
	End     float64
	Percent float64 // cumulative
	Count   int64
}

// Percentile is one percentile as Fortio computed it.
type Percentile struct {
	Percentile float64
	Value      float64
}
