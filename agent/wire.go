package agent

import (
	"encoding/json"
	"time"

	"google.golang.org/grpc/mem"
)

// ServiceName is the gRPC service the agent serves.
const ServiceName = "smp.agent.v1.Agent"

// InfoRequest asks an agent what it is.
type InfoRequest struct{}

// InfoReply is an agent's version, machine and limits.
type InfoReply struct {
	Version string `json:"version"`
	Host    string `json:"host"`
	Cores   int    `json:"cores"`
	// Limits: 0 for none.
	MaxRate     float64       `json:"max_rate"`
	MaxDuration time.Duration `json:"max_duration"`
	Allow       []string      `json:"allow"`
}

// ClockRequest is one clock exchange.
type ClockRequest struct{}

// ClockReply carries when the agent received the request and when it
// sent the reply, on its wall clock (Unix nanoseconds).
type ClockReply struct {
	Received int64 `json:"received"`
	Sent     int64 `json:"sent"`
}

// StopRequest stops the run in progress, which still returns its
// (partial) result on its stream.
type StopRequest struct {
	Reason string `json:"reason"`
}

// StopReply says whether a run was stopped.
type StopReply struct {
	Stopped bool `json:"stopped"`
}

// RunRequest gives an agent its share of a run.
type RunRequest struct {
	// Config is the SMP test config (protojson), the same for every agent.
	Config json.RawMessage `json:"config"`
	// Share is this agent's part: slots Index, Index+Count, ...
	ShareIndex int `json:"share_index"`
	ShareCount int `json:"share_count"`
	// Start is when the schedule starts, on the agent's clock (Unix
	// nanoseconds): the coordinator's instant plus the agent's offset.
	Start int64 `json:"start"`
	// MaxDuration is the engine's hard limit; 0 for its default.
	MaxDuration time.Duration `json:"max_duration"`
}

// RunEvent is one message of a run's stream: progress, a heartbeat, or
// the final result (or why there is none).
type RunEvent struct {
	Progress  *Progress       `json:"progress,omitempty"`
	Heartbeat bool            `json:"heartbeat,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     string          `json:"error,omitempty"`
	// Invalid marks Error as bad input (the config or the limits), not a
	// failure to run.
	Invalid bool `json:"invalid,omitempty"`
	// Unreachable marks Error as the target not answering at the start.
	Unreachable bool `json:"unreachable,omitempty"`
}

// Progress is an agent's progress snapshot.
type Progress struct {
	Warmup   bool          `json:"warmup"`
	Elapsed  time.Duration `json:"elapsed"`
	Requests int64         `json:"requests"`
	Errors   int64         `json:"errors"`
	Rate     float64       `json:"rate"`
	// RequestedRate is what the agent's share asks at Elapsed.
	RequestedRate float64       `json:"requested_rate"`
	P99           time.Duration `json:"p99"`
}

// jsonCodec is gRPC's codec for these plain Go messages: forced on both
// sides (ForceServerCodecV2, ForceCodecV2), so nothing is registered
// globally.
type jsonCodec struct{}

func (jsonCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return mem.BufferSlice{mem.SliceBuffer(b)}, nil
}

func (jsonCodec) Unmarshal(data mem.BufferSlice, v any) error {
	return json.Unmarshal(data.Materialize(), v)
}

func (jsonCodec) Name() string { return "json" }
