package target

import (
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
)

// protocol indexes the per-protocol counters.
type protocol uint8

const (
	protoHTTP1 protocol = iota
	protoHTTP2
	protoGRPC
	protoTCP
	protoUDP
	numProtocols
)

func (p protocol) String() string {
	return [...]string{"http1", "http2", "grpc", "tcp", "udp"}[p]
}

// numCodes covers HTTP statuses (< 600) and gRPC codes (< 17); TCP and UDP
// count their echoes under code 0.
const numCodes = 600

// counters are the target's own figures. They are plain atomics indexed by
// protocol and code, so that counting a request costs one atomic add; the
// Prometheus collector and /_smp/stats read them on demand.
type counters struct {
	start      time.Time
	byCode     [numProtocols][numCodes]atomic.Uint64
	rejected   [numProtocols]atomic.Uint64
	resets     [numProtocols]atomic.Uint64
	udpDropped atomic.Uint64
	inFlight   atomic.Int64
	// overBudget counts requests refused by the in-flight byte budget
	// (also in rejected).
	overBudget [numProtocols]atomic.Uint64
	timeouts   [numTimeoutKinds]atomic.Uint64
}

func (c *counters) count(p protocol, code int) {
	if code < 0 || code >= numCodes {
		code = 0
	}
	c.byCode[p][code].Add(1)
}

// codeLabel is the label of a counted code: the HTTP status, the gRPC code
// name, "ok" for an echo.
func codeLabel(p protocol, code int) string {
	switch p {
	case protoHTTP1, protoHTTP2:
		return strconv.Itoa(code)
	case protoGRPC:
		return codes.Code(code).String()
	}
	return "ok"
}

// Stats is a snapshot of the target's counters, as served at /_smp/stats.
type Stats struct {
	UptimeSeconds float64 `json:"uptime_s"`
	// Requests counts answered requests by protocol (http1, http2, grpc,
	// tcp, udp) and code label (HTTP status, gRPC code name, "ok"). It
	// includes rejections (503/UNAVAILABLE) and injected errors, but not
	// resets, which have no status.
	Requests map[string]map[string]uint64 `json:"requests"`
	// RequestsTotal is the sum of Requests.
	RequestsTotal uint64 `json:"requests_total"`
	// Rejected counts requests turned away by Capacity/MaxRPS/Queue.
	Rejected map[string]uint64 `json:"rejected"`
	// Resets counts connections reset as an injected error.
	Resets map[string]uint64 `json:"resets"`
	// UDPDropped counts datagrams that got no echo (UDPDrop, errors).
	UDPDropped  uint64 `json:"udp_dropped"`
	InFlight    int64  `json:"in_flight"`
	QueueLength int64  `json:"queue_length"`
	Connections int    `json:"connections"`
	// OverBudget counts requests refused because their bodies would
	// exceed the in-flight byte budget (Config.MaxInFlightBytes); they
	// are in Rejected too.
	OverBudget map[string]uint64 `json:"over_budget"`
	// InFlightBytes is the request bytes held now, against the budget.
	InFlightBytes int64 `json:"in_flight_bytes"`
	// Timeouts counts connections closed by a timeout, by kind: header,
	// body, write, idle.
	Timeouts map[string]uint64 `json:"timeouts"`
	// ConnectionsEvicted counts connections closed to make room for a new
	// one at Config.MaxConns; ConnectionsRefused, new ones closed at once
	// because no connection could be evicted.
	ConnectionsEvicted uint64 `json:"connections_evicted"`
	ConnectionsRefused uint64 `json:"connections_refused"`
	// StalledUntil is the end of the stall in force, if any.
	StalledUntil *time.Time `json:"stalled_until,omitempty"`
	Defaults     Behavior   `json:"defaults"`
	// ArrivalGaps are the gaps between consecutive workload requests by
	// listener (http, grpc, tcp, udp; only those that are open), since the
	// start or the last reset (POST /_smp/stats/reset, ResetArrivalGaps).
	// The counters above are never reset.
	ArrivalGaps map[string]ArrivalGaps `json:"arrival_gap_us"`
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := s.counters
	st := Stats{
		UptimeSeconds: time.Since(c.start).Seconds(),
		Requests:      map[string]map[string]uint64{},
		Rejected:      map[string]uint64{},
		Resets:        map[string]uint64{},
		UDPDropped:    c.udpDropped.Load(),
		InFlight:      c.inFlight.Load(),
		QueueLength:   s.adm.queued(),
		Connections:   s.conns.len(),
		OverBudget:    map[string]uint64{},
		InFlightBytes: s.budget.inUse(),
		Timeouts:      map[string]uint64{},

		ConnectionsEvicted: s.conns.evicted.Load(),
		ConnectionsRefused: s.conns.refused.Load(),
		Defaults:           s.defaults.Load().b,
		ArrivalGaps:        s.arrivalGaps(false),
	}
	for p := protocol(0); p < numProtocols; p++ {
		for code := range c.byCode[p] {
			if n := c.byCode[p][code].Load(); n > 0 {
				m := st.Requests[p.String()]
				if m == nil {
					m = map[string]uint64{}
					st.Requests[p.String()] = m
				}
				m[codeLabel(p, code)] += n
				st.RequestsTotal += n
			}
		}
		if n := c.rejected[p].Load(); n > 0 {
			st.Rejected[p.String()] = n
		}
		if n := c.resets[p].Load(); n > 0 {
			st.Resets[p.String()] = n
		}
		if n := c.overBudget[p].Load(); n > 0 {
			st.OverBudget[p.String()] = n
		}
	}
	for k := timeoutKind(0); k < numTimeoutKinds; k++ {
		st.Timeouts[k.String()] = c.timeouts[k].Load()
	}
	if d := s.stall.deadline(); !d.IsZero() {
		st.StalledUntil = &d
	}
	return st
}
