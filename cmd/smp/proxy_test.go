package main

import (
	"strings"
	"testing"
)

func TestProxyBadInput(t *testing.T) {
	garbage := writeFile(t, "bad.wasm", "\x00asm\x01\x00\x00\x00\xff")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"proxy"}, "--upstream is required"},
		{[]string{"proxy", "--upstream", "ftp://127.0.0.1:1"}, "--upstream: \"ftp://127.0.0.1:1\": want http://HOST:PORT, h2c://HOST:PORT or https://HOST:PORT"},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1/prefix"}, "no path, query or user info"},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1", "--filter", "ratelimit:rate=-1"}, `invalid argument "ratelimit:rate=-1" for "--filter" flag: "ratelimit:rate=-1": rate="-1": want requests per second`},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1", "--filter", "retry:n=3"}, `unknown filter kind "retry"; want one of ratelimit, header, fault, auth`},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1", "--wasm-config", "x"}, `"--wasm-config" flag: --wasm-config must follow the --wasm it applies to`},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1", "--filter", "auth:value=x", "--wasm-root-id", "x"}, "--wasm-root-id must follow the --wasm"},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1", "--wasm", garbage}, "--wasm: wasm module " + garbage + ": not a valid WebAssembly module"},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1", "--wasm", garbage + ".none"}, "no such file"},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1", "--wasm-log-level", "loud"}, `--wasm-log-level "loud": want trace, debug`},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1", "--wasm-instances", "0"}, "--wasm-instances 0: want 1 to 256"},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1", "--wasm-timeout", "-1s"}, "--wasm-timeout -1s: want 0 (none) or a positive duration"},
		{[]string{"proxy", "--upstream", "http://127.0.0.1:1", "--listen", "nonsense"}, "listen nonsense"},
	} {
		code, _, stderr := smp(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}
