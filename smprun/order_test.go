package smprun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
)

func TestSchedule(t *testing.T) {
	tests := []struct {
		name          string
		k, rounds     int
		order         string
		seed          uint64
		wantErr       string
		wantAlternate bool
	}{
		{"alternate", 3, 4, OrderAlternate, 0, "", true},
		{"random, two variants", 2, 6, OrderRandom, 42, "", false},
		{"random, default name", 3, 9, "", 7, "", false},
		{"random, incomplete last block", 4, 6, OrderRandom, 9, "", false},
		{"one variant", 1, 3, OrderRandom, 1, "", false},
		{"unknown order", 2, 2, "shuffle", 1, `--order "shuffle": allowed are random, alternate`, false},
		{"no rounds", 2, 0, OrderRandom, 1, "0 rounds", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Schedule(tt.k, tt.rounds, tt.order, tt.seed)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, load.ErrInvalid) {
					t.Fatalf("err = %v, want %q (ErrInvalid)", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(s) != tt.rounds {
				t.Fatalf("%v, %d rounds", err, len(s))
			}
			// Every round runs every variant once.
			for r, row := range s {
				sorted := slices.Sorted(slices.Values(row))
				for i, v := range sorted {
					if v != i {
						t.Fatalf("round %d: %v is not one run of each variant", r, row)
					}
				}
				if tt.wantAlternate && !slices.IsSorted(row) {
					t.Errorf("alternate round %d: %v", r, row)
				}
			}
			// Balanced: in each complete block of k rounds, each variant
			// takes each position once.
			for b := 0; !tt.wantAlternate && b+tt.k <= tt.rounds; b += tt.k {
				for pos := range tt.k {
					seen := map[int]bool{}
					for r := b; r < b+tt.k; r++ {
						seen[s[r][pos]] = true
					}
					if len(seen) != tt.k {
						t.Errorf("block at round %d, position %d: variants %v, want all %d", b, pos, seen, tt.k)
					}
				}
			}
			again, _ := Schedule(tt.k, tt.rounds, tt.order, tt.seed)
			if fmt.Sprint(again) != fmt.Sprint(s) {
				t.Errorf("seed %d gave %v, then %v", tt.seed, s, again)
			}
		})
	}
	// Seeds matter: of 20 seeds, 3 variants over 6 rounds, not all agree.
	first, _ := Schedule(3, 6, OrderRandom, 1)
	differs := false
	for seed := uint64(2); seed <= 20; seed++ {
		s, _ := Schedule(3, 6, OrderRandom, seed)
		differs = differs || fmt.Sprint(s) != fmt.Sprint(first)
	}
	if !differs {
		t.Error("20 seeds gave one schedule")
	}
}

// TestRunSeriesRandomOrder runs two variants against the built-in target in
// a seeded random order: the runs start in the order Schedule gives for the
// seed, both results carry it (run_order), and the same seed runs the same
// order again.
func TestRunSeriesRandomOrder(t *testing.T) {
	_, url := seriesTarget(t)
	const seed, runs = 42, 4
	want, err := Schedule(2, runs, OrderRandom, seed)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "b"}
	var wantSeq []string
	for _, row := range want {
		for _, i := range row {
			wantSeq = append(wantSeq, names[i])
		}
	}
	if strings.Join(wantSeq, " ") == "a b a b a b a b" {
		t.Fatalf("seed %d happens to give the alternate order; pick another", seed)
	}
	for attempt := range 2 {
		vs := []Variant{variant(t, "a", url+"?v=a"), variant(t, "b", url+"?v=b")}
		for i := range vs {
			vs[i].Config.Duration = "50ms"
		}
		vrs, err := RunSeries(context.Background(), vs, SeriesOptions{Runs: runs, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		// The order the runs actually started in.
		type start struct {
			name string
			at   time.Time
		}
		var starts []start
		for _, vr := range vrs {
			for _, r := range vr.Runs {
				starts = append(starts, start{vr.Name, r.Start})
			}
		}
		slices.SortFunc(starts, func(x, y start) int { return x.at.Compare(y.at) })
		var got []string
		for _, s := range starts {
			got = append(got, s.name)
		}
		if strings.Join(got, " ") != strings.Join(wantSeq, " ") {
			t.Errorf("attempt %d: runs started %v, want %v", attempt, got, wantSeq)
		}
		for _, vr := range vrs {
			ro := vr.Result.GetRunOrder()
			if ro.GetOrder() != OrderRandom || ro.GetSeed() != seed || strings.Join(ro.GetSequence(), " ") != strings.Join(wantSeq, " ") {
				t.Errorf("attempt %d: %s run order %v", attempt, vr.Name, ro)
			}
		}
	}
	// Without a seed, one is drawn and stored.
	vs := []Variant{variant(t, "a", url), variant(t, "b", url)}
	vrs, err := RunSeries(context.Background(), vs, SeriesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ro := vrs[0].Result.GetRunOrder(); ro.GetSeed() == 0 || ro.GetOrder() != OrderRandom || len(ro.GetSequence()) != 2 {
		t.Errorf("drawn seed: run order %v", ro)
	}
}
