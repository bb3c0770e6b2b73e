// Package envinfo describes where a test ran: the generator's host (CPU,
// memory, kernel, OS, Go, cgroup limits) and, when a kubeconfig is
// reachable, the cluster (Kubernetes version, nodes, the workloads behind
// the target) and the service mesh installed in it, as SMP environment and
// mesh messages. What cannot be read is reported as a capture that failed,
// with why, never guessed.
package envinfo
