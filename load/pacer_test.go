package load

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestPacerDue(t *testing.T) {
	ramp, err := NewLinearRamp(0, 1000, 10*time.Second) // 5,000 slots in the ramp
	if err != nil {
		t.Fatal(err)
	}
	down, err := NewLinearRamp(100, 0, 2*time.Second) // 100 slots, then ends
	if err != nil {
		t.Fatal(err)
	}
	flat, err := NewLinearRamp(50, 50, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	steps, err := NewSteps([]Step{{Rate: 10, Duration: time.Second}, {Rate: 0, Duration: time.Second}, {Rate: 100, Duration: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	hold, err := NewSteps([]Step{{Rate: 10, Duration: time.Second}, {Rate: 20}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    Pacer
		i    uint64
		want time.Duration
		ok   bool
	}{
		{"constant first", mustConstant(t, 2000), 0, 0, true},
		{"constant", mustConstant(t, 2000), 3, 1500 * time.Microsecond, true},
		{"constant fractional rate", mustConstant(t, 0.5), 3, 6 * time.Second, true},
		{"ramp start", ramp, 0, 0, true},
		// N(t) = 50 t²: slot 1250 at 5 s, slot 5000 at 10 s.
		{"ramp middle", ramp, 1250, 5 * time.Second, true},
		{"ramp end", ramp, 5000, 10 * time.Second, true},
		{"after ramp holds", ramp, 6000, 11 * time.Second, true},
		// N(t) = 100 t − 25 t²: slot 75 at 1 s.
		{"ramp down", down, 75, time.Second, true},
		{"ramp to zero ends", down, 100, 0, false},
		{"flat ramp", flat, 25, 500 * time.Millisecond, true},
		{"steps first", steps, 5, 500 * time.Millisecond, true},
		{"steps skip pause", steps, 10, 2 * time.Second, true},
		{"steps third", steps, 60, 2500 * time.Millisecond, true},
		{"steps end", steps, 110, 0, false},
		{"steps hold last", hold, 30, 2 * time.Second, true},
		{"closed loop", ClosedLoop(), 7, Unscheduled, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.p.Due(tt.i)
			if ok != tt.ok {
				t.Fatalf("Due(%d) ok = %v, want %v", tt.i, ok, tt.ok)
			}
			if ok && (got-tt.want > time.Microsecond || tt.want-got > time.Microsecond) {
				t.Errorf("Due(%d) = %v, want %v", tt.i, got, tt.want)
			}
		})
	}
}

func TestPacerMonotonic(t *testing.T) {
	ramp, _ := NewLinearRamp(10, 5000, 3*time.Second)
	down, _ := NewLinearRamp(5000, 10, 3*time.Second)
	steps, _ := NewSteps([]Step{{Rate: 300, Duration: time.Second}, {Rate: 0, Duration: time.Second}, {Rate: 7, Duration: time.Second}, {Rate: 1000}})
	for _, p := range []Pacer{mustConstant(t, 12345), ramp, down, steps} {
		t.Run(p.String(), func(t *testing.T) {
			prev := time.Duration(-1)
			for i := uint64(0); i < 20000; i++ {
				d, ok := p.Due(i)
				if !ok {
					break
				}
				if d < prev {
					t.Fatalf("Due(%d) = %v < Due(%d) = %v", i, d, i-1, prev)
				}
				prev = d
			}
		})
	}
}

func TestPacerRate(t *testing.T) {
	ramp, _ := NewLinearRamp(100, 300, 2*time.Second)
	steps, _ := NewSteps([]Step{{Rate: 10, Duration: time.Second}, {Rate: 20, Duration: time.Second}})
	tests := []struct {
		p    Pacer
		at   time.Duration
		want float64
	}{
		{mustConstant(t, 5), time.Hour, 5},
		{ramp, 0, 100},
		{ramp, time.Second, 200},
		{ramp, time.Minute, 300},
		{steps, 1500 * time.Millisecond, 20},
		{steps, 3 * time.Second, 0},
		{ClosedLoop(), time.Second, 0},
	}
	for _, tt := range tests {
		if got := tt.p.Rate(tt.at); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s Rate(%v) = %v, want %v", tt.p, tt.at, got, tt.want)
		}
	}
}

func TestPacerRejects(t *testing.T) {
	tests := []struct {
		name string
		make func() error
	}{
		{"zero constant", func() error { _, err := NewConstant(0); return err }},
		{"negative constant", func() error { _, err := NewConstant(-1); return err }},
		{"NaN constant", func() error { _, err := NewConstant(math.NaN()); return err }},
		{"infinite constant", func() error { _, err := NewConstant(math.Inf(1)); return err }},
		{"ramp without time", func() error { _, err := NewLinearRamp(1, 2, 0); return err }},
		{"ramp 0 to 0", func() error { _, err := NewLinearRamp(0, 0, time.Second); return err }},
		{"no steps", func() error { _, err := NewSteps(nil); return err }},
		{"open middle step", func() error { _, err := NewSteps([]Step{{Rate: 1}, {Rate: 2, Duration: time.Second}}); return err }},
		{"negative step", func() error { _, err := NewSteps([]Step{{Rate: -1, Duration: time.Second}}); return err }},
	}
	for _, tt := range tests {
		if err := tt.make(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestSlotsBefore(t *testing.T) {
	steps, _ := NewSteps([]Step{{Rate: 10, Duration: time.Second}})
	tests := []struct {
		p    Pacer
		t    time.Duration
		want uint64
	}{
		{mustConstant(t, 2000), 5 * time.Second, 10000},
		{mustConstant(t, 2000), 0, 0},
		{mustConstant(t, 2000), 1, 1},
		{mustConstant(t, 3), 1 * time.Second, 3},
		{steps, time.Hour, 10},
	}
	for _, tt := range tests {
		if got := slotsBefore(tt.p, tt.t); got != tt.want {
			t.Errorf("slotsBefore(%s, %v) = %d, want %d", tt.p, tt.t, got, tt.want)
		}
	}
}

// Generators that each run one share of a schedule together send every
// slot once, and each sends about its share.
func TestSharesPartitionTheSchedule(t *testing.T) {
	p := mustConstant(t, 1000)
	const count = 3
	g := slotsBefore(p, 10*time.Second) // 10,000 slots
	seen := make([]int, g)
	total := uint64(0)
	for k := uint64(0); k < count; k++ {
		local := localBefore(g, k, count)
		total += local
		for i := uint64(0); i < local; i++ {
			seen[i*count+k]++
		}
	}
	if total != g {
		t.Fatalf("shares hold %d slots, want %d", total, g)
	}
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("slot %d sent %d times", i, n)
		}
	}
}
