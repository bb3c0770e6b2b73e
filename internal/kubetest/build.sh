#!/usr/bin/env bash
# Builds (or reuses) the kube-apiserver, kube-controller-manager and etcd
# binaries that the Kubernetes tests start (the first and last through
# envtest; the controller manager for the Job controller, which turns a Job
# into Pods), and prints the folder that holds them (the value for
# KUBEBUILDER_ASSETS) on its last line.
#
# Debian packages no kube-apiserver, so it is built from the k8s.io/kubernetes
# module. That module's go.mod points its staging modules at ./staging paths
# absent from the module download, so a throw-away wrapper module replaces
# each with its published k8s.io/* version of the same minor. k8s.io/kubernetes
# never enters the project's go.mod. A cold build takes about 8 minutes and
# 2.8 GB of memory on 2 cores for kube-apiserver, and some minutes more for
# kube-controller-manager (it shares most packages with the API server); the binaries are cached keyed by version, beside
# Go's build cache (as .ci/run keeps the npm cache), and reused when present.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
cache="${SMP_KUBE_CACHE:-$(dirname "$(go env GOCACHE)")/smp-kube}"
out="$cache/kube-$KUBE_VERSION-etcd-$ETCD_VERSION"

if [ -x "$out/kube-apiserver" ] && [ -x "$out/kube-controller-manager" ] && [ -x "$out/etcd" ]; then
	echo "$out"
	exit 0
fi
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$SECONDS

# The staging modules' published versions are v0.<minor>.<patch> of the
# Kubernetes release v1.<minor>.<patch>.
staging="v0.${KUBE_VERSION#v1.}"

if [ ! -x "$out/etcd" ]; then
	mkdir -p "$work/etcd"
	(
		cd "$work/etcd"
		go mod init example.com/etcdbuild >/dev/null 2>&1
		cat >tools.go <<GO
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
		go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
		go mod tidy >/dev/null
		go build -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
		mv "$out/etcd.tmp" "$out/etcd"
	)
	echo "built etcd $ETCD_VERSION in $((SECONDS - start)) s" >&2
fi

if [ ! -x "$out/kube-apiserver" ] || [ ! -x "$out/kube-controller-manager" ]; then
	mkdir -p "$work/kube"
	cd "$work/kube"
	gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	# Each staging module with a published version (asked before go.mod is
	# written: go mod download reads the current folder's go.mod); one
	# without (a sample) is required by nothing that kube-apiserver builds.
	replaces=()
	for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[a-z-]*\) => ./staging/.*#\1#p' "$gomod"); do
		if go mod download "$m@$staging" >/dev/null 2>&1; then
			replaces+=("$m => $m $staging")
		fi
	done
	{
		echo "module example.com/kubebuild"
		echo
		echo "go 1.26.0"
		echo
		echo "require k8s.io/kubernetes $KUBE_VERSION"
		echo
		echo "replace ("
		printf '\t%s\n' "${replaces[@]}"
		echo ")"
	} >go.mod
	cat >tools.go <<GO
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
	go mod tidy >/dev/null 2>&1 || go mod tidy
	minor="${KUBE_VERSION#v1.}"
	minor="${minor%%.*}"
	# Without the version stamps the server reports v0.0.0, which clients
	# cannot parse as a Kubernetes version.
	ldflags="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
	# A cache made before the controller manager was added holds the API
	# server already: only what is missing is built.
	for bin in kube-apiserver kube-controller-manager; do
		if [ ! -x "$out/$bin" ]; then
			t=$SECONDS
			go build -ldflags "$ldflags" -o "$out/$bin.tmp" "k8s.io/kubernetes/cmd/$bin"
			mv "$out/$bin.tmp" "$out/$bin"
			echo "built $bin $KUBE_VERSION in $((SECONDS - t)) s" >&2
		fi
	done
fi
echo "$out"
