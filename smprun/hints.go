package smprun

import (
	"fmt"
	"strings"

	"github.com/smp-project/smp/internal/fdlimit"
	"github.com/smp-project/smp/load"
)

// Hints says what to do about the errors of a run, from their kinds and
// kept messages: the common causes a user meets first (an untrusted
// certificate, too few file descriptors, nothing listening, ephemeral
// ports exhausted, slow answers). One line per cause, none when the run
// had no such errors.
func Hints(f *load.Figures) []string {
	var out []string
	seen := map[string]bool{}
	add := func(key, hint string) {
		if !seen[key] {
			seen[key] = true
			out = append(out, hint)
		}
	}
	for kind, msgs := range f.ErrorMessages {
		for _, m := range msgs {
			msg := strings.ToLower(m.Message)
			switch {
			case strings.Contains(msg, "too many open files"):
				limit := "unknown"
				if n := fdlimit.Raise(); n > 0 {
					limit = fmt.Sprint(n)
				}
				add("fd", fmt.Sprintf("the process ran out of file descriptors (open-file limit %s): each connection needs one; "+
					"raise the limit (ulimit -n, or LimitNOFILE for a service) or use fewer connections (-c)", limit))
			case strings.Contains(msg, "x509") || strings.Contains(msg, "certificate"):
				add("x509", "the target's TLS certificate is not trusted: --cacert FILE trusts the CA that signed it "+
					"(-k skips verification, not for production measurements)")
			case strings.Contains(msg, "cannot assign requested address"):
				add("ports", "the machine ran out of ephemeral ports towards the target: use fewer connections, "+
					"keep-alive, or widen net.ipv4.ip_local_port_range")
			case kind == load.ReasonConnectRefused:
				add("refused", "connection refused: nothing accepted connections at the address in the message; "+
					"check the URL's host and port, and that the target is up")
			case kind == load.ReasonTimeout:
				add("timeout", "requests went unanswered within the request timeout (--timeout; 30s by default, 1s for UDP) "+
					"or were still in flight when the run ended")
			case kind == load.ReasonReset || kind == load.ReasonEOF:
				add("reset", "the target, or a proxy in between, closed connections during requests: "+
					"check its connection limits and idle timeouts")
			}
		}
	}
	return out
}
