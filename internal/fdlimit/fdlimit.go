// Package fdlimit says how many files this process may open, raising the
// limit first where the system allows.
//
// Go does the raising itself: since Go 1.19, a program that imports os
// raises its soft RLIMIT_NOFILE at start-up to the hard limit (Go 1.26
// sets one below it, so that a later change by prlimit can be told), and
// gives child processes the original limit back. TestGoRaisesTheLimit
// checks that. Raise then only reads the limit; it raises the limit itself
// when Go could not.
package fdlimit
