package filter

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"", `unknown filter kind ""; want one of ratelimit, header, fault, auth`},
		{"limit:rate=1", `unknown filter kind "limit"`},
		{"ratelimit", "rate=R is required"},
		{"ratelimit:rate=0", `rate="0": want requests per second`},
		{"ratelimit:rate=NaN", `rate="NaN"`},
		{"ratelimit:rate=10,burst=0", `burst="0": want a whole number`},
		{"ratelimit:rate=10,key=cookie", `key="cookie": want none, client or header:NAME`},
		{"ratelimit:rate=10,key=header:", `key=header="": want a header name`},
		{"ratelimit:rate=10,speed=2", `unknown parameter "speed"; allowed: rate, burst, key, status`},
		{"ratelimit:rate=10,status=99", `status="99": want an HTTP status from 200 to 599`},
		{"ratelimit:rate", `"rate" is not PARAM=VALUE`},
		{"header:", "no rules"},
		{"header:request-put=x:1", `unknown parameter "request-put"`},
		{"header:request-set=x", `request-set="x": want NAME:VALUE`},
		{"header:request-set=bad name:1", `want a header name`},
		{"fault:", "want delay=D and/or abort=STATUS"},
		{"fault:delay=5", `delay="5": want a Go duration`},
		{"fault:delay=2m", `delay="2m"`},
		{"fault:abort=503,percent=101", `percent="101": want a percentage from 0 to 100`},
		{"auth:header=authorization", "value=V is required"},
	} {
		_, err := Parse(c.spec, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v; want an error with %q", c.spec, err, c.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), `"`+c.spec+`"`) {
			t.Errorf("Parse(%q): error %q does not name the value", c.spec, err)
		}
	}
}

func TestParseNames(t *testing.T) {
	for i, s := range []string{"ratelimit:rate=100,burst=100,key=header:x-user", "fault:delay=5ms,percent=10", "header:request-set=x-a:1", "auth:header=authorization,value=Bearer x"} {
		f, err := Parse(s, i+1)
		if err != nil {
			t.Fatal(err)
		}
		if want := strings.SplitN(s, ":", 2)[0] + "#" + string(rune('1'+i)); f.Name() != want {
			t.Errorf("name %q, want %q", f.Name(), want)
		}
	}
}

func TestBucket(t *testing.T) {
	const rate, burst = 10, 3 // 10/s: a token each 100 ms
	var b Bucket
	t0 := int64(time.Hour)
	at := func(ms int64) int64 { return t0 + ms*int64(time.Millisecond) }
	var got []bool
	for _, ms := range []int64{0, 0, 0, 0, 50, 100, 100, 350, 350, 350, 10000, 10000, 10000, 10000} {
		got = append(got, b.Take(at(ms), rate, burst))
	}
	// Full (3), then empty; 100 ms refills one; 250 ms more refill 2.5;
	// a long pause refills to the burst, no more.
	want := []bool{true, true, true, false, false, true, false, true, true, false, true, true, true, false}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("take %d: got %v, want %v (all: %v)", i, got[i], want[i], got)
		}
	}
}

func TestRateLimitKeysBounded(t *testing.T) {
	f, err := Parse("ratelimit:rate=1,burst=1,key=header:x-k", 1)
	if err != nil {
		t.Fatal(err)
	}
	rl := f.(*RateLimit)
	now := time.Unix(1000, 0)
	for i := range MaxKeys + 10 {
		rl.Allow(strconv.Itoa(i), now)
	}
	if n := len(rl.buckets); n > MaxKeys {
		t.Errorf("%d buckets, bound %d", n, MaxKeys)
	}
	// A second later every bucket has refilled, so a new key sweeps them.
	rl.Allow("new", now.Add(time.Second))
	if n := len(rl.buckets); n != 1 {
		t.Errorf("%d buckets after a sweep, want 1", n)
	}
}
