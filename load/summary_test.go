package load

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestWriteText(t *testing.T) {
	ep := func(failAt int64) []Endpoint { return []Endpoint{{URL: "mem://x", Driver: fakeDriver{failAt: failAt}}} }
	tests := []struct {
		name    string
		clients []Client
		want    []string
		not     []string
	}{
		{"open loop", []Client{{Connections: 2, Pacer: mustConstant(t, 1000), Endpoints: ep(0)}},
			[]string{"1000/s for 2", "requests   200 total, 200 ok, 0 errors (0.00%)", "rate       ", "/s requested",
				"corrected", "uncorrected", "p99.99", "generator  lateness p50", "codes      200: 200"},
			[]string{"PARTIAL", "client  "}},
		{"closed loop with failures", []Client{{Connections: 1, Endpoints: ep(4)}},
			[]string{"closed loop for ", "(closed loop)", "errors     status 503: ", "codes      200: "},
			[]string{"uncorrected", "generator"}},
		{"two clients", []Client{
			{Name: "a", Connections: 1, Pacer: mustConstant(t, 100), Endpoints: ep(0)},
			{Name: "b", Connections: 1, Pacer: mustConstant(t, 200), Endpoints: ep(0)}},
			[]string{"2 clients for 2", "requests   60 total", "client", "100/s", "200/s"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Run(context.Background(), Config{Clients: tt.clients, Duration: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			if err := res.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("summary lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, w) {
					t.Errorf("summary has %q:\n%s", w, out)
				}
			}
		})
	}
}
