package load

import (
	"fmt"
	"strconv"
	"strings"
)

// StatusSet is the set of status codes that count as success: an answer
// with any other code is a failed response, counted as an error and timed
// in Figures.ErrorLatency rather than in the latency histograms. The zero
// value is empty; a Client with a nil OKStatus uses DefaultOKStatus.
type StatusSet struct {
	ranges [][2]int // inclusive, as given
	text   string
}

// ParseStatusSet reads a list of codes and inclusive ranges, such as
// "200-399" or "200,204,300-302" (as --ok-status takes it).
func ParseStatusSet(s string) (*StatusSet, error) {
	set := &StatusSet{text: strings.TrimSpace(s)}
	if set.text == "" {
		return nil, fmt.Errorf("empty status list: want codes or ranges such as 200-399 or 200,204")
	}
	for _, part := range strings.Split(set.text, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := statusCode(lo)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", part, err)
		}
		b := a
		if isRange {
			if b, err = statusCode(hi); err != nil {
				return nil, fmt.Errorf("%q: %w", part, err)
			}
			if b < a {
				return nil, fmt.Errorf("%q: the range ends before it starts", part)
			}
		}
		set.ranges = append(set.ranges, [2]int{a, b})
	}
	return set, nil
}

func statusCode(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 999 {
		return 0, fmt.Errorf("want a status code from 0 to 999")
	}
	return n, nil
}

// Contains reports whether code counts as success.
func (s *StatusSet) Contains(code int) bool {
	for _, r := range s.ranges {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

func (s *StatusSet) String() string { return s.text }

// DefaultOKStatus is the success set of a protocol when the client gives
// none: 200–399 for HTTP (as k6 counts; a redirect is an answer, since the
// client does not follow it), OK (0) for gRPC, nil for protocols without
// codes (every answer succeeds).
func DefaultOKStatus(p Protocol) *StatusSet {
	switch p.Codes {
	case "http":
		return &StatusSet{ranges: [][2]int{{200, 399}}, text: "200-399"}
	case "grpc":
		return &StatusSet{ranges: [][2]int{{0, 0}}, text: "0"}
	}
	return nil
}

// okTable is a StatusSet flattened for the request path: one lookup, no
// loop, for the codes the counters keep in arrays.
type okTable struct {
	ok  [maxCode]bool
	set *StatusSet
}

func newOKTable(s *StatusSet) *okTable {
	if s == nil {
		return nil
	}
	t := &okTable{set: s}
	for c := range t.ok {
		t.ok[c] = s.Contains(c)
	}
	return t
}

func (t *okTable) failed(code int) bool {
	if code >= 0 && code < maxCode {
		return !t.ok[code]
	}
	return !t.set.Contains(code)
}
