#!/usr/bin/env bash
# Builds Kubernetes components and etcd from the Go module proxy, because no release binaries can
# be downloaded on these machines. Binaries are cached outside the repository, keyed by version,
# so only the first run on a machine pays (kube-apiserver takes about 7 minutes on 2 cores).
# Concurrent runs wait on a lock instead of building twice.
#
# usage: hack/k8s-build.sh COMPONENT...
#   COMPONENT is etcd or a command of k8s.io/kubernetes/cmd (kube-apiserver, kubectl,
#   kube-controller-manager, kube-scheduler, kubelet, kube-proxy).
# Prints one line per component: its absolute path.
#
# Environment: K8S_VERSION (default 1.37.2), ETCD_VERSION (default 3.6.16),
#   SURVEY_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/survey-operator).
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
CACHE=${SURVEY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/survey-operator}
K8S_BIN=$CACHE/bin/k8s-v$K8S_VERSION
ETCD_BIN=$CACHE/bin/etcd-v$ETCD_VERSION

log() { printf 'k8s-build: %s\n' "$*" >&2; }

[ $# -gt 0 ] || { echo "usage: $0 COMPONENT..." >&2; exit 2; }
mkdir -p "$CACHE/bin" "$CACHE/build"

# The staging modules of k8s.io/kubernetes are published as k8s.io/<name> v0.<minor>.<patch>.
staging_version="v0.${K8S_VERSION#*.}"

build_k8s() {
	local missing=() c
	for c in "$@"; do [ -x "$K8S_BIN/$c" ] || missing+=("$c"); done
	[ ${#missing[@]} -gt 0 ] || return 0
	local mod=$CACHE/build/k8s-v$K8S_VERSION
	mkdir -p "$mod"
	(
		cd "$mod"
		if [ ! -f go.mod ]; then
			log "preparing a module for k8s.io/kubernetes v$K8S_VERSION"
			local gomod
			gomod=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" |
				sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
			[ -f "$gomod" ] || { log "cannot download k8s.io/kubernetes v$K8S_VERSION"; exit 1; }
			{
				echo "module local/k8sbuild"
				echo
				echo "go $(go env GOVERSION | sed 's/^go\([0-9]*\.[0-9]*\).*/\1/')"
				echo
				echo "require k8s.io/kubernetes v$K8S_VERSION"
				echo
				echo "replace ("
				sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$staging_version"'#p' "$gomod"
				echo ")"
			} >go.mod.tmp
			mv go.mod.tmp go.mod
		fi
		local pkgs=() ldflags
		for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
		ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION"
		ldflags+=" -X k8s.io/component-base/version.gitMajor=${K8S_VERSION%%.*}"
		ldflags+=" -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
		ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
		ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION"
		ldflags+=" -X k8s.io/client-go/pkg/version.gitMajor=${K8S_VERSION%%.*}"
		ldflags+=" -X k8s.io/client-go/pkg/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
		log "building ${missing[*]} v$K8S_VERSION (several minutes the first time)"
		local out
		out=$(mktemp -d "$CACHE/build/out.XXXXXX")
		CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "$ldflags" -o "$out/" "${pkgs[@]}"
		mkdir -p "$K8S_BIN"
		for c in "${missing[@]}"; do mv "$out/$c" "$K8S_BIN/$c"; done
		rmdir "$out"
	)
}

build_etcd() {
	[ -x "$ETCD_BIN/etcd" ] && return 0
	local mod=$CACHE/build/etcd-v$ETCD_VERSION
	mkdir -p "$mod"
	(
		cd "$mod"
		if [ ! -f go.mod ]; then
			printf 'module local/etcdbuild\n\ngo %s\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' \
				"$(go env GOVERSION | sed 's/^go\([0-9]*\.[0-9]*\).*/\1/')" "$ETCD_VERSION" >go.mod
		fi
		log "building etcd v$ETCD_VERSION (about a minute the first time)"
		local out
		out=$(mktemp -d "$CACHE/build/out.XXXXXX")
		CGO_ENABLED=0 GOFLAGS=-mod=mod go build -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
		mkdir -p "$ETCD_BIN"
		mv "$out/etcd" "$ETCD_BIN/etcd"
		rmdir "$out"
	)
}

# One build at a time on this machine, and never the same binary twice.
exec 9>"$CACHE/build/.lock"
flock 9

k8s=()
want_etcd=false
for c in "$@"; do
	case "$c" in
	etcd) want_etcd=true ;;
	kube-apiserver | kubectl | kube-controller-manager | kube-scheduler | kubelet | kube-proxy) k8s+=("$c") ;;
	*) log "unknown component $c"; exit 2 ;;
	esac
done
[ ${#k8s[@]} -eq 0 ] || build_k8s "${k8s[@]}"
$want_etcd && build_etcd

for c in "$@"; do
	if [ "$c" = etcd ]; then echo "$ETCD_BIN/etcd"; else echo "$K8S_BIN/$c"; fi
done
