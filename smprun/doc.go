// Package smprun is the application layer between SMP documents and the
// load engine.
//
// SMP test configs, with smp run's settings applied (ApplySettings,
// Variants), become plans: a load.Config with a driver per endpoint
// (NewPlan). Plans run once (Execute) or as a series of interleaved
// variants and repeated runs (RunSeries). What the engine measured becomes
// an SMP result (ToSMP; MergeRuns for repeated runs), which is checked
// against SLOs and written out (Outputs).
package smprun
