package smprun

import (
	"fmt"
	"strconv"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/spec"
)

// FileMargin is what a run counts for the files the process has open
// besides its connections: standard streams, the Go runtime's epoll and
// timer descriptors, result files, a few spare.
const FileMargin = 64

// FileLimitError is a test that needs more open files than the process may
// have. It wraps load.ErrInvalid: the test is refused before it starts.
type FileLimitError struct {
	// What says what needs the files, in flags: "-c 100000".
	What string
	// Needed is about how many files the run opens; Limit is how many the
	// process may (the soft RLIMIT_NOFILE).
	Needed, Limit uint64
}

func (e *FileLimitError) Error() string {
	return fmt.Sprintf("%s needs about %s open files; this process may open %s (ulimit -n); lower -c or raise the limit",
		e.What, thousands(e.Needed), thousands(e.Limit))
}

// Is makes errors.Is(err, load.ErrInvalid) true.
func (e *FileLimitError) Is(target error) bool { return target == load.ErrInvalid }

// FilesNeeded returns about how many files a run of cfg opens: a socket per
// connection to each endpoint of each client (HTTP/1.1, TCP and UDP open
// one per stream too; HTTP/2 and gRPC multiplex the streams), plus
// FileMargin. It also says what needs them, in flags.
func FilesNeeded(cfg *spec.PerformanceTestConfig) (uint64, string) {
	var sockets uint64
	clients := cfg.GetClients()
	what := ""
	for i, c := range clients {
		n := uint64(DefaultConnections)
		if c.GetConnections() > 0 {
			n = uint64(c.GetConnections())
		} else if c.GetConnections() < 0 {
			n = 0 // bad input, which building the plan reports
		}
		per := n
		streams := uint64(max(c.GetStreams(), 1))
		proto, err := ClientProtocol(c, fmt.Sprintf("clients[%d]", i))
		multiplexed := err == nil && (proto == ProtoHTTP2 || proto == ProtoGRPC)
		if !multiplexed {
			per *= streams
		}
		eps := uint64(len(c.GetEndpointUrls()))
		sockets += per * eps
		if len(clients) == 1 {
			what = "-c " + strconv.FormatUint(n, 10)
			if !multiplexed && streams > 1 {
				what += fmt.Sprintf(" × %d streams", streams)
			}
			if eps > 1 {
				what += fmt.Sprintf(" × %d endpoints", eps)
			}
		}
	}
	if len(clients) > 1 {
		what = fmt.Sprintf("the test's %d clients (%s connections in all)", len(clients), thousands(sockets))
	}
	return sockets + FileMargin, what
}

// CheckFiles refuses cfg, with a *FileLimitError, when a run of it needs
// more open files than limit, the number the process may open (see
// FilesNeeded). A limit of 0 means none is known: nothing is refused.
func CheckFiles(cfg *spec.PerformanceTestConfig, limit uint64) error {
	if limit == 0 {
		return nil
	}
	needed, what := FilesNeeded(cfg)
	if needed <= limit {
		return nil
	}
	return &FileLimitError{What: what, Needed: needed, Limit: limit}
}

// thousands formats n with commas between groups of three digits.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
