#!/usr/bin/env bash
# bench/h2.sh against Debian's nginx instead of smp target: nginx (one
# process, h2c with prior knowledge, a 5-byte answer) pinned to CPU 0, smp
# and h2load on CPU 1. Extra arguments go to smpbench (e.g. -d 30s).
# Needs nginx (Debian package nginx) and h2load (nghttp2-client).
source "$(dirname "$0")/lib.sh"
command -v nginx >/dev/null || { echo "nginx not found (apt-get install nginx)" >&2; exit 1; }
command -v h2load >/dev/null || { echo "h2load not found (apt-get install nghttp2-client)" >&2; exit 1; }
port=${NGINX_PORT:-18600}
mkdir -p "$bin/ngx"
cat >"$bin/ngx/nginx.conf" <<CONF
daemon off;
master_process off;
pid $bin/ngx/nginx.pid;
error_log $bin/ngx/error.log warn;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $bin/ngx/body;
	proxy_temp_path $bin/ngx/proxy;
	fastcgi_temp_path $bin/ngx/fastcgi;
	uwsgi_temp_path $bin/ngx/uwsgi;
	scgi_temp_path $bin/ngx/scgi;
	keepalive_requests 100000000;
	server {
		listen 127.0.0.1:$port http2;
		location = / { return 200 "hello"; }
	}
}
CONF
taskset -c 0 nginx -p "$bin/ngx" -c "$bin/ngx/nginx.conf" &
ngx=$!
trap 'kill $ngx 2>/dev/null; wait $ngx 2>/dev/null; rm -rf "$bin"' EXIT
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done
run_bench -c 2 -streams 16 -d 5s -rounds 4 -url "http://127.0.0.1:$port/" "$@" h2
