package target

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// MaxSize bounds the response size (1 GiB): larger is a typo, and the bound
// keeps a size override from being an integer overflow.
const MaxSize = 1 << 30

// Behavior is what the target does with one request. The server's defaults
// come from Config.Defaults (flags); each request may override them with
// query parameters, x-smp-* headers or gRPC metadata.
type Behavior struct {
	// Delay is how long the server waits before it answers.
	Delay Delay
	// Size is the response body size in bytes (ignored when Echo is set).
	Size int
	// Status is the HTTP status of a successful answer; 0 means 200. gRPC
	// maps it to a code (see the package documentation).
	Status int
	// ErrorRate is the probability, in [0, 1], that a request fails: with
	// status 500 (gRPC INTERNAL), or by a connection reset when Reset is set.
	ErrorRate float64
	// Reset makes errors connection resets rather than statuses.
	Reset bool
	// Echo answers with the request body instead of Size bytes.
	Echo bool
}

// paramNames lists the names a Behavior can be set by: query parameter
// names, and with an "x-smp-" prefix header and gRPC metadata names.
func paramNames() [5]string { return [...]string{"delay", "size", "status", "error", "echo"} }

// paramIndex returns the index of name in paramNames, or -1.
func paramIndex(name string) int {
	for i, p := range paramNames() {
		if p == name {
			return i
		}
	}
	return -1
}

// errUnknownParam is wrapped by Set for a name it does not know.
var errUnknownParam = fmt.Errorf("unknown parameter")

// Set changes one field by its parameter name (delay, size, status, error
// or echo) from its text
// form, the one shared by flags, query parameters, headers and metadata:
//
//	delay   see ParseDelay
//	size    bytes, 0 to MaxSize
//	status  HTTP status, 200 to 599
//	error   probability P in [0,1] of a 500, or reset:P for connection resets
//	echo    true/false (1/0); an empty value means true
func (b *Behavior) Set(name, value string) error {
	value = strings.TrimSpace(value)
	switch name {
	case "delay":
		d, err := ParseDelay(value)
		if err != nil {
			return err
		}
		b.Delay = d
	case "size":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > MaxSize {
			return fmt.Errorf("invalid size %q: must be a whole number of bytes from 0 to %d", value, MaxSize)
		}
		b.Size = n
	case "status":
		n, err := strconv.Atoi(value)
		if err != nil || !validStatus(n) {
			return fmt.Errorf("invalid status %q: must be an HTTP status code from 200 to 599", value)
		}
		b.Status = n
	case "error":
		rate, reset, err := parseErrorSpec(value)
		if err != nil {
			return err
		}
		b.ErrorRate, b.Reset = rate, reset
	case "echo":
		if value == "" {
			b.Echo = true
			return nil
		}
		v, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("invalid echo %q: must be true or false (1 or 0)", value)
		}
		b.Echo = v
	default:
		return fmt.Errorf("%w %q (allowed: %s)", errUnknownParam, name, "delay, size, status, error, echo")
	}
	return nil
}

// parseErrorSpec reads "P" or "reset:P".
func parseErrorSpec(s string) (rate float64, reset bool, err error) {
	p := s
	if kind, rest, ok := strings.Cut(s, ":"); ok {
		if !strings.EqualFold(strings.TrimSpace(kind), "reset") {
			return 0, false, fmt.Errorf("invalid error %q: unknown error kind %q (allowed: P for status 500, reset:P for connection resets; P in [0,1])", s, kind)
		}
		p, reset = rest, true
	}
	rate, perr := strconv.ParseFloat(strings.TrimSpace(p), 64)
	if perr != nil || math.IsNaN(rate) || rate < 0 || rate > 1 {
		return 0, false, fmt.Errorf("invalid error %q: the probability must be a number from 0 to 1 (e.g. 0.1 or reset:0.1)", s)
	}
	return rate, reset, nil
}

func validStatus(n int) bool { return n >= 200 && n <= 599 }

// Validate reports a field out of range; Set never produces one, but a
// Behavior built in Go may.
func (b Behavior) Validate() error {
	if b.Size < 0 || b.Size > MaxSize {
		return fmt.Errorf("size %d: must be from 0 to %d bytes", b.Size, MaxSize)
	}
	if b.Status != 0 && !validStatus(b.Status) {
		return fmt.Errorf("status %d: must be an HTTP status code from 200 to 599 (or 0 for 200)", b.Status)
	}
	if math.IsNaN(b.ErrorRate) || b.ErrorRate < 0 || b.ErrorRate > 1 {
		return fmt.Errorf("error rate %v: must be a probability from 0 to 1", b.ErrorRate)
	}
	return nil
}

// status returns the effective status code.
func (b *Behavior) status() int {
	if b.Status == 0 {
		return 200
	}
	return b.Status
}

// errorSpec renders ErrorRate and Reset in the "error" parameter syntax.
func (b *Behavior) errorSpec() string {
	p := strconv.FormatFloat(b.ErrorRate, 'g', -1, 64)
	if b.Reset {
		return "reset:" + p
	}
	return p
}

// behaviorJSON is how a Behavior reads in JSON (/_smp/defaults,
// /_smp/stats): the same text forms as the parameters.
type behaviorJSON struct {
	Delay  string `json:"delay"`
	Size   int    `json:"size"`
	Status int    `json:"status"`
	Error  string `json:"error"`
	Echo   bool   `json:"echo"`
}

// MarshalJSON writes the parameter forms: {"delay":"exp:2ms","size":0,
// "status":200,"error":"reset:0.1","echo":false}.
func (b Behavior) MarshalJSON() ([]byte, error) {
	return json.Marshal(behaviorJSON{Delay: b.Delay.String(), Size: b.Size, Status: b.status(), Error: b.errorSpec(), Echo: b.Echo})
}

// UnmarshalJSON reads what MarshalJSON writes; fields left out keep their
// value, and "error" may also be a bare number.
func (b *Behavior) UnmarshalJSON(data []byte) error {
	var in struct {
		Delay  *string          `json:"delay"`
		Size   *int             `json:"size"`
		Status *int             `json:"status"`
		Error  *json.RawMessage `json:"error"`
		Echo   *bool            `json:"echo"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("behaviour: %w", err)
	}
	nb := *b
	set := func(name, value string) error { return nb.Set(name, value) }
	if in.Delay != nil {
		if err := set("delay", *in.Delay); err != nil {
			return err
		}
	}
	if in.Size != nil {
		if err := set("size", strconv.Itoa(*in.Size)); err != nil {
			return err
		}
	}
	if in.Status != nil {
		if err := set("status", strconv.Itoa(*in.Status)); err != nil {
			return err
		}
	}
	if in.Error != nil {
		v := string(*in.Error)
		var str string
		if json.Unmarshal(*in.Error, &str) == nil {
			v = str
		}
		if err := set("error", v); err != nil {
			return err
		}
	}
	if in.Echo != nil {
		nb.Echo = *in.Echo
	}
	*b = nb
	return nil
}

// outcome is what one request gets, drawn from a Behavior.
type outcome struct {
	delay time.Duration
	fail  bool // the request fails: status 500 / INTERNAL, or a reset
	reset bool
}

// draw samples the delay and rolls the error dice for one request.
func (b *Behavior) draw() outcome {
	o := outcome{delay: b.Delay.Sample(nil)}
	if b.ErrorRate > 0 && (b.ErrorRate >= 1 || rand.Float64() < b.ErrorRate) {
		o.fail, o.reset = true, b.Reset
	}
	return o
}
