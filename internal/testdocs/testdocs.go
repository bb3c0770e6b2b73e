// Package testdocs holds SMP documents with known mistakes, shared by the
// loader's tests and the command line's, so that both check every case.
package testdocs

import "strings"

// Bad is a document with one known mistake and the error it must produce.
type Bad struct {
	Name     string
	Doc      string
	WantPath string // field path of the error; "" for the whole document
	WantMsg  string // a part of the message
	WantLine int    // 0: not checked
}

// BadDocuments returns the cases; the file-size case is 10 MiB.
func BadDocuments(maxFileSize int) []Bad {
	big := "# " + strings.Repeat("x", maxFileSize) + "\n"
	const goodConfig = `smp_version: v0.6.1
name: t
duration: 30s
clients:
- protocol: 1
  connections: 2
  rps: 10
  endpoint_urls: [http://127.0.0.1:8080/]
- connections: 1
  endpoint_urls: [http://127.0.0.1:8081/]
`
	return []Bad{
		{"unknown field", "duration: 1s\nclients:\n- conections: 2\n  endpoint_urls: [http://a/]\n", "clients[0].conections", `did you mean "connections"`, 3},
		{"unknown top-level field", "durration: 1s\nclients: []\n", "durration", `did you mean "duration"`, 1},
		{"negative rps", "clients:\n- rps: -5\n  endpoint_urls: [http://a/]\n", "clients[0].rps", "must not be negative", 0},
		{"negative qps", "clients:\n- qps: -0.5\n  endpoint_urls: [http://a/]\n", "clients[0].qps", "not a rate", 0},
		{"qps not a number", "clients:\n- qps: .nan\n  endpoint_urls: [http://a/]\n", "clients[0].qps", "not a rate", 0},
		{"negative request count", "clients:\n- requests: -3\n  endpoint_urls: [http://a/]\n", "clients[0].requests", "must not be negative", 0},
		{"ramp and steps", "clients:\n- ramp: 1:2/1s\n  steps: 1,2/1s\n  endpoint_urls: [http://a/]\n", "clients[0].steps", "ramp or steps", 0},
		{"zero connections", "clients:\n- connections: 0\n  endpoint_urls: [http://a/]\n", "clients[0].connections", "at least 1", 0},
		{"negative connections", "clients:\n- connections: -3\n  endpoint_urls: [http://a/]\n", "clients[0].connections", "at least 1", 0},
		{"absurd connections", "clients:\n- connections: 2000000\n  endpoint_urls: [http://a/]\n", "clients[0].connections", "million", 0},
		{"connections beyond int32", "clients:\n- connections: 99999999999\n  endpoint_urls: [http://a/]\n", "clients[0].connections", "not a valid whole number", 2},
		{"fractional connections", "clients:\n- connections: 2.5\n  endpoint_urls: [http://a/]\n", "clients[0].connections", "not a valid whole number", 2},
		{"unparsable duration", "duration: 30 minutes\nclients:\n- endpoint_urls: [http://a/]\n", "duration", "not a duration", 0},
		{"zero duration", "duration: 0s\nclients:\n- endpoint_urls: [http://a/]\n", "duration", "must be positive", 0},
		{"negative duration", "duration: -5s\nclients:\n- endpoint_urls: [http://a/]\n", "duration", "must be positive", 0},
		{"bad warmup", "warmup: soon\nclients:\n- endpoint_urls: [http://a/]\n", "warmup", "not a duration", 0},
		{"empty endpoint", "clients:\n- endpoint_urls: ['']\n", "clients[0].endpoint_urls[0]", "empty URL", 0},
		{"no endpoints", "clients:\n- connections: 1\n", "clients[0].endpoint_urls", "no endpoint URLs", 0},
		{"malformed endpoint", "clients:\n- endpoint_urls: ['http//no-scheme']\n", "clients[0].endpoint_urls[0]", "needs a scheme and a host", 0},
		{"unparsable endpoint", "clients:\n- endpoint_urls: ['http://a b:x/']\n", "clients[0].endpoint_urls[0]", "malformed URL", 0},
		{"bad port", "clients:\n- endpoint_urls: ['http://a:70000/']\n", "clients[0].endpoint_urls[0]", "port out of range", 0},
		{"second client path", goodConfig + "- endpoint_urls: [ftp://x/]\n", "clients[2].endpoint_urls[0]", `unknown scheme "ftp"`, 0},
		{"scheme does not fit protocol", "clients:\n- protocol: 2\n  endpoint_urls: [http://a/]\n", "clients[0].endpoint_urls[0]", "does not fit protocol TCP", 0},
		{"scheme does not fit protocol name", "clients:\n- protocol: udp\n  endpoint_urls: [tcp://a:1]\n", "clients[0].endpoint_urls[0]", "does not fit protocol UDP", 0},
		{"unknown protocol number", "clients:\n- protocol: 7\n  endpoint_urls: [http://a/]\n", "clients[0].protocol", "unknown Protocol number", 2},
		{"unknown protocol name", "clients:\n- protocol: quic\n  endpoint_urls: [http://a/]\n", "clients[0].protocol", "unknown Protocol name", 2},
		{"unknown mesh type", "test:\n  clients:\n  - endpoint_urls: [http://a/]\nmesh:\n  type: 99\n", "mesh.type", "unknown Type number", 5},
		{"meshery config path", "test:\n  duration: never\n  clients:\n  - endpoint_urls: [http://a/]\n", "test.duration", "not a duration", 0},
		{"meshery unknown key", "tset:\n  duration: 1s\ntest: {}\n", "tset", `did you mean "test"`, 1},
		{"no clients", "duration: 1s\nclients: []\n", "clients", "no clients", 0},
		{"bad header name", "clients:\n- headers: {'Bad Name': x}\n  endpoint_urls: [http://a/]\n", `clients[0].headers["Bad Name"]`, "not a valid header name", 0},
		{"bad additional options", "clients:\n- additional_options: '{nope'\n  endpoint_urls: [http://a/]\n", "clients[0].additional_options", "not a JSON object", 0},
		{"list where mapping", "clients:\n- [1, 2]\n", "clients[0]", "expected a mapping", 2},
		{"scalar where list", "clients: 3\n", "clients", "expected a list", 1},
		{"bad bool", "clients:\n- internal: maybe\n  endpoint_urls: [http://a/]\n", "clients[0].internal", "not a valid boolean", 2},
		{"bad timestamp", "start_time: yesterday\nactual_qps: 1\n", "start_time", "not a valid time", 1},
		{"negative qps in result", "actual_qps: -1\n", "actual_qps", "non-negative", 0},
		{"infinite latency", "actual_qps: 1\nlatencies_ms: {min: 1, p99: .inf, max: 2}\n", "latencies_ms.p99", "finite", 0},
		{"NaN latency", "actual_qps: 1\nlatencies_ms: {average: .nan}\n", "latencies_ms.average", "finite", 0},
		{"negative infinite uncorrected latency", "actual_qps: 1\nuncorrected_latencies_ms: {max: -.inf}\n", "uncorrected_latencies_ms.max", "finite", 0},
		{"infinite percentile", "actual_qps: 1\npercentiles_ms:\n- {percentile: 50, value: 1}\n- {percentile: 99, value: .inf}\n", "percentiles_ms[1].value", "finite", 0},
		{"NaN interval p99", "actual_qps: 1\nintervals:\n- {offset_s: 1, p50_ms: 1, p99_ms: .nan}\n", "intervals[0].p99_ms", "finite", 0},
		{"infinite interval max", "actual_qps: 1\nintervals:\n- {offset_s: 1, max_ms: .inf}\n", "intervals[0].max_ms", "finite", 0},
		{"infinite latency in a run", "actual_qps: 1\nruns:\n- latencies_ms: {p50: .inf}\n", "runs[0].latencies_ms.p50", "finite", 0},
		{"negative total", "actual_qps: 1\nrequests: {total: -5}\n", "requests.total", "must not be negative", 0},
		{"negative ok", "actual_qps: 1\nrequests: {total: 5, ok: -1}\n", "requests.ok", "must not be negative", 0},
		{"negative errors", "actual_qps: 1\nrequests: {total: 5, ok: 10, errors: -5}\n", "requests.errors", "must not be negative", 0},
		{"negative error kind", "actual_qps: 1\nerrors: {timeout: -2}\n", `errors["timeout"]`, "must not be negative", 0},
		{"negative status count", "actual_qps: 1\nstatus_codes: {200: -1}\n", "status_codes[200]", "must not be negative", 0},
		{"negative requested qps", "actual_qps: 1\nrequested_qps: -10\n", "requested_qps", "non-negative", 0},
		{"infinite actual qps", "actual_qps: .inf\n", "actual_qps", "non-negative", 0},
		{"ok above total", "actual_qps: 1\nrequests: {total: 5, ok: 6}\n", "requests.ok", "more successful requests than requests.total", 0},
		{"errors above total", "actual_qps: 1\nrequests: {total: 5, errors: 6}\n", "requests.errors", "more failed requests than requests.total", 0},
		{"ok plus errors not total", "actual_qps: 1\nrequests: {total: 10, ok: 5, errors: 2}\n", "requests.ok", "not requests.total (10)", 0},
		{"ok plus zero errors not total", "actual_qps: 1\nrequests: {total: 10, ok: 5, errors: 0}\n", "requests.ok", "not requests.total (10)", 0},
		{"undecodable histogram", "actual_qps: 1\nhistogram: {encoding: hdr-v2, data: 'HISTFAAAnot-a-histogram'}\n", "histogram.data", "does not decode", 0},
		{"undecodable uncorrected histogram", "actual_qps: 1\nhistogram: {uncorrected_data: '!!!'}\n", "histogram.uncorrected_data", "does not decode", 0},
		{"undecodable lateness histogram", "actual_qps: 1\nhistogram: {lateness_data: 'xyz'}\n", "histogram.lateness_data", "does not decode", 0},
		{"undecodable error histogram", "actual_qps: 1\nhistogram: {error_data: 'xyz'}\n", "histogram.error_data", "does not decode", 0},
		{"malformed YAML", "duration: 1s\nclients:\n  - a: 1\n b: 2\n", "", "malformed YAML", 3},
		{"malformed JSON", `{"clients": [}`, "", "malformed JSON", 0},
		{"empty file", "", "", "file is empty", 0},
		{"only comments", "# nothing here\n", "", "no document", 0},
		{"top-level list", "- a\n- b\n", "", "expected a mapping", 1},
		{"two documents", "duration: 1s\n---\nduration: 2s\n", "", "several YAML documents", 2},
		{"file too large", big, "", "larger than 10 MiB", 0},
		{"duplicate field", "clients: []\nsmps_version: a\nsmp_version: b\n", "smp_version", "given twice", 3},
	}
}
