#!/usr/bin/env bash
# Prints a directory for KUBEBUILDER_ASSETS holding kube-apiserver, etcd and kubectl, building
# them from the Go module proxy the first time (see hack/k8s-build.sh); later runs cost nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
CACHE=${SURVEY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/survey-operator}
dir=$CACHE/envtest/k8s-v$K8S_VERSION-etcd-v$ETCD_VERSION

if [ ! -x "$dir/kube-apiserver" ] || [ ! -x "$dir/etcd" ] || [ ! -x "$dir/kubectl" ]; then
	mkdir -p "$dir"
	K8S_VERSION=$K8S_VERSION ETCD_VERSION=$ETCD_VERSION "$here/k8s-build.sh" kube-apiserver kubectl etcd |
		while read -r bin; do ln -sf "$bin" "$dir/$(basename "$bin")"; done
fi
echo "$dir"
