package filter

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"
)

// Fault delays and/or aborts a percentage of requests.
type Fault struct {
	name                       string
	delay                      time.Duration
	abort                      int
	delayPercent, abortPercent float64
}

func newFault(name string, ps []param) (*Fault, error) {
	f := &Fault{name: name, delayPercent: 100, abortPercent: 100}
	var err error
	for _, p := range ps {
		switch p.key {
		case "delay":
			f.delay, err = parseDelay(p.value)
		case "abort":
			f.abort, err = parseStatus("abort", p.value)
		case "percent":
			f.delayPercent, err = parsePercent(p.key, p.value)
			f.abortPercent = f.delayPercent
		case "delay-percent":
			f.delayPercent, err = parsePercent(p.key, p.value)
		case "abort-percent":
			f.abortPercent, err = parsePercent(p.key, p.value)
		default:
			err = unknownParam(p, "delay", "abort", "percent", "delay-percent", "abort-percent")
		}
		if err != nil {
			return nil, err
		}
	}
	if f.delay == 0 && f.abort == 0 {
		return nil, fmt.Errorf("want delay=D and/or abort=STATUS")
	}
	return f, nil
}

func (f *Fault) Name() string { return f.name }

// hit says whether a request falls in the percentage p.
func hit(p float64) bool { return p >= 100 || (p > 0 && rand.Float64()*100 < p) }

func (f *Fault) Request(x *Exchange) (any, error) {
	if f.delay > 0 && hit(f.delayPercent) {
		t := time.NewTimer(f.delay)
		select {
		case <-t.C:
		case <-x.Ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("fault delay: %w", x.Ctx.Err())
		}
	}
	if f.abort != 0 && hit(f.abortPercent) {
		h := http.Header{"Content-Type": {"text/plain"}, "X-Smp-Local-Reply": {f.name}}
		x.Respond(f.abort, h, []byte("fault abort\n"))
	}
	return nil, nil
}

func (f *Fault) Response(*Exchange, any) error { return nil }
func (f *Fault) Done(*Exchange, any)           {}
