// Package resources samples the CPU and memory that processes, cgroups and
// Prometheus queries show during a run, and turns each into an SMP resource
// figure: a per-step series with its mean (used) and max, the source, and
// what was assigned (a cgroup limit, else the machine's capacity), which is
// what MeshMark weighs.
//
// Local sources are read from /proc and cgroup v2 files once a step (1 s by
// default); Prometheus figures are one range query each over the run
// window once the run is over. A source that cannot be read says why in the
// figure's error and in the result's captures; a query that returns nothing
// is reported as empty, never filled with zeros.
package resources
