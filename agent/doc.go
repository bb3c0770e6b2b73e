// Package agent runs load from several machines as one test: `smp agent`
// serves a share of a schedule to a coordinator (`smp run --agents`),
// which checks the agents, estimates their clocks, starts them at one
// instant, watches them, and merges their results exactly.
//
// The wire is gRPC with a JSON codec (content-subtype "json"): three
// methods on the service smp.agent.v1.Agent — Info (version, limits),
// Clock (one NTP-style exchange) and Run (a server stream of progress and
// heartbeats ending with the share's full result, histograms included,
// as the engine's load.Result in JSON). Coordinator and agents must be the
// same smp version, which Info checks: the result travels in the engine's
// own shape, not a versioned schema.
//
// Every connection is TLS, and every call is authenticated: a bearer
// token (SMP_AGENT_TOKEN) checked in constant time, a client certificate
// signed by the CA the agent was given (mutual TLS), or both. An agent
// with neither refuses to start. An agent given no certificate serves a
// self-signed one, which a coordinator accepts only when told to trust it
// (its PEM as the CA, or explicitly insecure).
//
// Limits per agent: the highest rate it will send, the longest run, and
// the networks its targets may be in (loopback only by default), checked
// before a run starts.
package agent
