package load

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrorMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"read tcp 127.0.0.1:54321->127.0.0.1:8080: read: connection reset by peer", "read tcp 127.0.0.1:*->127.0.0.1:8080: read: connection reset by peer"},
		{"write tcp [::1]:40000->[::1]:8080: broken pipe", "write tcp [::1]:*->[::1]:8080: broken pipe"},
		{"dial tcp 127.0.0.1:1: connect: connection refused", "dial tcp 127.0.0.1:1: connect: connection refused"},
		{"a->b and 1.2.3.4:5->x", "a->b and 1.2.3.4:*->x"},
		{"ends with ->", "ends with ->"},
		{"port:->x", "port:->x"},
	} {
		if got := errorMessage(errors.New(tc.in)); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestErrorMessagesBounded: five distinct messages a reason, exact counts,
// the rest under OtherMessages, most frequent first.
func TestErrorMessagesBounded(t *testing.T) {
	var a, b errorMessages
	for i := range 8 {
		for range i + 1 {
			a.add(reasonReset, fmt.Sprintf("m%d", i), 1)
		}
	}
	b.add(reasonReset, "m0", 10)
	b.add(reasonTLS, "x509: unknown authority", 3)
	a.merge(&b)
	got := a.fill()
	reset := got[ReasonReset]
	want := []MessageCount{{"m0", 11}, {"m4", 5}, {"m3", 4}, {"m2", 3}, {"m1", 2}, {OtherMessages, 6 + 7 + 8}}
	if fmt.Sprint(reset) != fmt.Sprint(want) {
		t.Errorf("reset messages %v, want %v", reset, want)
	}
	var sum int64
	for _, m := range reset {
		sum += m.Count
	}
	if sum != 36+10 {
		t.Errorf("counts sum to %d, want every error (46)", sum)
	}
	if tls := got[ReasonTLS]; len(tls) != 1 || tls[0].Count != 3 {
		t.Errorf("tls messages %v", tls)
	}
	if len(got) != 2 {
		t.Errorf("reasons %v", got)
	}
}
