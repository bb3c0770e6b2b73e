// Package targetpb holds the generated messages and gRPC service of the
// `smp target` workload server (echo.proto).
package targetpb

//go:generate ./generate.sh
