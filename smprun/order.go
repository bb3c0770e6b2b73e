package smprun

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strings"

	"github.com/smp-project/smp/spec"
)

// The orders in which a series runs its variants within each round.
const (
	// OrderRandom draws each round's order from a seed, balanced: in every
	// block of k rounds (k variants) each variant runs once in each
	// position, so a position effect (the machine warming up, a periodic
	// job) falls on every variant alike and is not confounded with one.
	OrderRandom = "random"
	// OrderAlternate runs A B A B ...: every round in the order given.
	OrderAlternate = "alternate"
)

// Orders lists the values SeriesOptions.Order takes.
func Orders() []string { return []string{OrderRandom, OrderAlternate} }

// CheckOrder checks an order's name ("" is OrderRandom).
func CheckOrder(order string) (string, error) {
	switch order {
	case "":
		return OrderRandom, nil
	case OrderRandom, OrderAlternate:
		return order, nil
	}
	return "", invalid("--order %q: allowed are %s", order, strings.Join(Orders(), ", "))
}

// NewSeed draws a seed for a random order from the system's random source,
// never 0 (which means "draw one").
func NewSeed() uint64 {
	var b [8]byte
	for {
		rand.Read(b[:]) // never returns an error since Go 1.24
		if s := binary.LittleEndian.Uint64(b[:]); s != 0 {
			return s
		}
	}
}

// Schedule is the order of the variants 0..k−1 in each of rounds rounds.
// OrderAlternate gives 0..k−1 every round. OrderRandom, from seed, gives
// each block of k rounds a Latin square: a random order of the variants
// shifted cyclically by a random offset per round, each offset once per
// block, so that within a block every variant takes every position once;
// a last, incomplete block is a part of such a square. The same k, rounds
// and seed always give the same schedule.
func Schedule(k, rounds int, order string, seed uint64) ([][]int, error) {
	order, err := CheckOrder(order)
	if err != nil {
		return nil, err
	}
	if k < 1 || rounds < 1 {
		return nil, invalid("schedule of %d variants and %d rounds", k, rounds)
	}
	out := make([][]int, rounds)
	identity := make([]int, k)
	for i := range identity {
		identity[i] = i
	}
	if order == OrderAlternate {
		for r := range out {
			out[r] = slices.Clone(identity)
		}
		return out, nil
	}
	rng := mrand.New(mrand.NewPCG(seed, seed^0x736d705f6f726472)) // "smp_ordr"
	var base, shifts []int
	for r := range out {
		j := r % k
		if j == 0 {
			base, shifts = slices.Clone(identity), slices.Clone(identity)
			rng.Shuffle(k, func(a, b int) { base[a], base[b] = base[b], base[a] })
			rng.Shuffle(k, func(a, b int) { shifts[a], shifts[b] = shifts[b], shifts[a] })
		}
		row := make([]int, k)
		for pos := range row {
			row[pos] = base[(pos+shifts[j])%k]
		}
		out[r] = row
	}
	return out, nil
}

// OrderText says in one line how a series of k variants was ordered:
// "order: random, seed 42: base mesh | mesh base | ...".
func OrderText(ro *spec.PerformanceTestResult_RunOrder, k int) string {
	var rounds []string
	seq := ro.GetSequence()
	for i := 0; i < len(seq); i += max(k, 1) {
		rounds = append(rounds, strings.Join(seq[i:min(i+max(k, 1), len(seq))], " "))
	}
	head := "order: " + ro.GetOrder()
	if ro.GetOrder() == OrderRandom {
		head += fmt.Sprintf(" (balanced), seed %d", ro.GetSeed())
	}
	return head + ": " + strings.Join(rounds, " | ")
}
