#!/usr/bin/env bash
# make test-e2e: the end-to-end suite (test/e2e) on the local cluster. Brings the cluster up and
# deploys the operator as the demo does (hack/demo.sh deploy), imports a real S3 server's image
# (versitygw, hack/image -set s3), then runs the Ginkgo suite
# against it. The cluster is left up for a look afterwards, unless E2E_DOWN=1 (CI sets it).
#
# Environment: E2E_DOWN, E2E_FOCUS (a Ginkgo focus regexp), and hack/cluster's.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export GOTOOLCHAIN=${GOTOOLCHAIN:-$(sed -n 's/^GO_TOOLCHAIN ?= //p' Makefile)+auto}
if [ "${E2E_DOWN:-}" = 1 ]; then trap 'hack/cluster down || exit 1' EXIT; fi
eval "$(hack/demo.sh deploy)"
export KUBECONFIG KUBECTL
# A real S3 server (versitygw) for the specs whose audience is in a bucket.
go run ./hack/image -set s3 >&2
hack/cluster import bin/s3.tar 2>&1 | sed 's/^/  /' >&2
go vet -tags e2e ./test/e2e/
go test -tags e2e ./test/e2e/ -count 1 -timeout 30m -v -ginkgo.no-color ${E2E_FOCUS:+-ginkgo.focus "$E2E_FOCUS"}
