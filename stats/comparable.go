package stats

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/smp-project/smp/spec"
)

// Side is one result of a comparison with what the numbers alone do not say.
type Side struct {
	// Name names the side in comparisons, warnings and errors.
	Name   string
	Result *spec.PerformanceTestResult
	// Uncorrected is true when the result's latency was timed from each
	// request's actual send (another tool's result), not from its intended
	// send as smp times it.
	Uncorrected bool
}

// Differences lists what makes two results unlike as experiments, one
// sentence each: protocol, open or closed loop, requested rate,
// connections, duration, latency view (corrected or not) and load
// generator. A difference in any of them can move every metric by itself,
// so a change found between such results may be the setup, not the system.
// Figures a result does not state are not compared.
func Differences(base, other Side) []string {
	b, o := describe(base), describe(other)
	var out []string
	add := func(what, bv, ov string) {
		out = append(out, fmt.Sprintf("%s differs: %s %s, %s %s", what, orDefault(base.Name, "base"), bv, orDefault(other.Name, "other"), ov))
	}
	if b.protocol != "" && o.protocol != "" && b.protocol != o.protocol {
		add("protocol", b.protocol, o.protocol)
	}
	if b.loop != o.loop {
		add("loop", b.loop, o.loop)
	} else if b.loop == "open loop" && differ(b.rate, o.rate, 0.01) {
		add("requested rate", FormatValue(b.rate)+"/s", FormatValue(o.rate)+"/s")
	}
	if b.connections > 0 && o.connections > 0 && b.connections != o.connections {
		add("connections", fmt.Sprint(b.connections), fmt.Sprint(o.connections))
	}
	// Measured windows vary by a few milliseconds; 5% is a different test.
	if b.duration > 0 && o.duration > 0 && differ(b.duration.Seconds(), o.duration.Seconds(), 0.05) {
		add("duration", b.duration.String(), o.duration.String())
	}
	if base.Uncorrected != other.Uncorrected {
		add("latency view", view(base.Uncorrected), view(other.Uncorrected))
	}
	if b.generator != "" && o.generator != "" && b.generator != o.generator {
		add("load generator", b.generator, o.generator)
	}
	return out
}

func view(uncorrected bool) string {
	if uncorrected {
		return "uncorrected (timed from the actual send)"
	}
	return "corrected (timed from the intended send)"
}

// differ reports whether a and b differ by more than tol of the larger.
func differ(a, b, tol float64) bool {
	return math.Abs(a-b) > tol*math.Max(math.Abs(a), math.Abs(b))
}

type setup struct {
	protocol, loop, generator string
	rate                      float64
	connections               int
	duration                  time.Duration
}

// describe reads a result's setup: the config it carries, with the
// measured figures where the config is silent.
func describe(s Side) setup {
	r := s.Result
	cfg := r.GetConfig()
	st := setup{rate: r.GetRequestedQps()}
	var protos []string
	var cfgRate int64
	for _, c := range cfg.GetClients() {
		if p := clientProtocol(c); p != "" && !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
		st.connections += int(c.GetConnections())
		cfgRate += c.GetRps()
	}
	slices.Sort(protos)
	st.protocol = strings.Join(protos, "+")
	if st.rate == 0 {
		st.rate = float64(cfgRate)
	}
	st.loop = "closed loop"
	if st.rate > 0 {
		st.loop = "open loop"
	}
	if d, err := time.ParseDuration(cfg.GetDuration()); err == nil && d > 0 {
		st.duration = d
	} else if ds := r.GetDurationS(); ds > 0 {
		st.duration = time.Duration(ds * float64(time.Second)).Round(time.Millisecond)
	}
	if g := r.GetGenerator(); g.GetName() != "" {
		st.generator = g.GetName()
		if g.GetVersion() != "" {
			st.generator += " " + g.GetVersion()
		}
	}
	return st
}

// clientProtocol names a client's protocol: its protocol field (with
// http2), else its first endpoint's URL scheme.
func clientProtocol(c *spec.PerformanceTestConfig_Client) string {
	p := ""
	switch c.GetProtocol() {
	case spec.PerformanceTestConfig_Client_PROTOCOL_HTTP:
		p = "http"
	case spec.PerformanceTestConfig_Client_PROTOCOL_GRPC:
		p = "grpc"
	case spec.PerformanceTestConfig_Client_PROTOCOL_TCP:
		p = "tcp"
	case spec.PerformanceTestConfig_Client_PROTOCOL_UDP:
		p = "udp"
	default:
		if len(c.GetEndpointUrls()) == 0 {
			return ""
		}
		u, err := url.Parse(c.GetEndpointUrls()[0])
		if err != nil {
			return ""
		}
		p = strings.TrimSuffix(strings.ToLower(u.Scheme), "s")
		if p == "h2c" {
			p = "http2"
		}
	}
	if p == "http" && c.GetHttp2() {
		p = "http2"
	}
	return p
}
