#!/usr/bin/env bash
# Builds versitygw, the S3-compatible server the tests run, from the Go module proxy, because no
# release binaries can be downloaded on these machines. versitygw is an S3 gateway over a POSIX
# directory (github.com/versity/versitygw). The binary is cached outside the repository, keyed by
# version, so only the first run on a machine pays (about 2 minutes on 2 cores); later runs cost
# nothing. Concurrent runs wait on the same lock as hack/k8s-build.sh instead of building twice.
#
# usage: hack/s3-build.sh
# Prints the binary's absolute path.
#
# Environment: S3_VERSION (default 1.8.0),
#   SURVEY_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/survey-operator).
set -euo pipefail

export GOTOOLCHAIN=${GOTOOLCHAIN:-go1.27.4+auto}
S3_VERSION=${S3_VERSION:-1.8.0}
S3_VERSION=${S3_VERSION#v}
CACHE=${SURVEY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/survey-operator}
BIN=$CACHE/bin/versitygw-v$S3_VERSION/versitygw

log() { printf 's3-build: %s\n' "$*" >&2; }

[ $# -eq 0 ] || { echo "usage: $0" >&2; exit 2; }

build() {
	local mod=$CACHE/build/versitygw-v$S3_VERSION
	mkdir -p "$mod"
	(
		cd "$mod"
		if [ ! -f go.mod ]; then
			log "preparing a module for github.com/versity/versitygw v$S3_VERSION"
			local gomod
			gomod=$(GOFLAGS=-mod=mod go mod download -json "github.com/versity/versitygw@v$S3_VERSION" |
				sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
			[ -f "$gomod" ] || { log "cannot download github.com/versity/versitygw v$S3_VERSION"; exit 1; }
			# A module's replace directives do not apply when it is required by another, so carry
			# over any versitygw's go.mod has (v1.8.0 has none; the builds would differ otherwise).
			{
				echo "module local/s3build"
				echo
				echo "go $(go env GOVERSION | sed 's/^go\([0-9]*\.[0-9]*\).*/\1/')"
				echo
				echo "require github.com/versity/versitygw v$S3_VERSION"
				sed -n '/^replace[[:space:]]*(/,/^)/p; /^replace[[:space:]][^(]*$/p' "$gomod" |
					grep -v '=>[[:space:]]*\.' || true
			} >go.mod.tmp
			if sed -n '/^replace/,/^)/p' "$gomod" | grep -q '=>[[:space:]]*\.'; then
				log "versitygw v$S3_VERSION replaces a module by a local path; this script cannot build it"
				exit 1
			fi
			mv go.mod.tmp go.mod
		fi
		log "building versitygw v$S3_VERSION (about 2 minutes the first time)"
		local out
		out=$(mktemp -d "$CACHE/build/out.XXXXXX")
		CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
			-ldflags "-s -w -X main.Version=v$S3_VERSION -X main.Build=module-proxy" \
			-o "$out/versitygw" github.com/versity/versitygw/cmd/versitygw
		mkdir -p "$(dirname "$BIN")"
		mv "$out/versitygw" "$BIN"
		rmdir "$out"
	)
}

if [ ! -x "$BIN" ]; then
	mkdir -p "$CACHE/bin" "$CACHE/build"
	# One build at a time on this machine (the lock hack/k8s-build.sh takes), and never twice.
	exec 9>"$CACHE/build/.lock"
	flock 9
	[ -x "$BIN" ] || build
fi
echo "$BIN"
