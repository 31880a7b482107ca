#!/usr/bin/env bash
# make demo: from nothing to a running listening programme on a local cluster.
#   1. the local cluster (hack/cluster up: built and cached the first time)
#   2. the operator's image and the mail sink's, built without Docker and imported
#   3. the operator and the response service deployed (config/demo), with their Secrets
#   4. Riverside Homes: a mail sink, 300 synthetic tenants, the quarterly tenant satisfaction
#      survey and a follow-up of dissatisfied tenants (config/demo/riverside); a wave now
#   5. a demo respondent reads the invitations in the mail sink and answers about 45% of them
#   6. the campaign's status with response rate and scores, the follow-up's counts
# Running it again changes nothing that is already so (the wave is asked for once).
# `hack/demo.sh deploy` stops after step 3 (make test-e2e uses it).
#
# Environment: DEMO_TENANTS (300), DEMO_RATE (0.45), and hack/cluster's.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export GOTOOLCHAIN=${GOTOOLCHAIN:-$(sed -n 's/^GO_TOOLCHAIN ?= //p' Makefile)+auto}
TENANTS=${DEMO_TENANTS:-300}
RATE=${DEMO_RATE:-0.45}
SYSTEM=survey-operator-system
NS=riverside-homes

step() { printf '\n== %s\n' "$*" >&2; }
die() {
	echo "demo: $*" >&2
	if [ -n "${KUBECONFIG:-}" ]; then
		echo "-- recent events:" >&2
		k get events -A --sort-by=.lastTimestamp 2>/dev/null | tail -n 15 >&2 || true
		echo "-- the operator's last log lines:" >&2
		k -n "$SYSTEM" logs deployment/survey-operator-controller-manager --tail 20 2>/dev/null >&2 || true
	fi
	exit 1
}

step "the local cluster"
hack/cluster up >/dev/null
KUBECTL=$(hack/k8s-build.sh kubectl)
export KUBECONFIG
KUBECONFIG=$(hack/cluster kubeconfig)
k() { "$KUBECTL" "$@"; }

step "images (no container engine: go-containerregistry, imported into containerd)"
go run ./hack/image -set operator >&2
go run ./hack/image -set mailsink >&2
hack/cluster import bin/survey-operator.tar bin/mailsink.tar 2>&1 | sed 's/^/  /' >&2
digest() { tar -xOf "$1" manifest.json | sha256sum | cut -c1-16; }

step "the operator and the response service"
KUBECTL=$KUBECTL hack/secrets.sh "$SYSTEM" >&2
k apply --server-side --force-conflicts -k config/demo >/dev/null
# A rebuilt image keeps its tag: a changed digest rolls the Deployments, an unchanged one does not.
for d in controller-manager collector; do
	k -n "$SYSTEM" patch deployment "survey-operator-$d" --type merge >/dev/null -p \
		"{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"surveys.surveyops.io/image\":\"$(digest bin/survey-operator.tar)\"}}}}}"
done
for d in controller-manager collector; do
	k -n "$SYSTEM" rollout status "deployment/survey-operator-$d" --timeout 180s >&2 || die "the $d did not become ready"
done

if [ "${1:-}" = deploy ]; then
	echo "export KUBECONFIG=$KUBECONFIG KUBECTL=$KUBECTL"
	exit 0
fi

step "Riverside Homes: mail sink, $TENANTS tenants, the tenant satisfaction survey, the follow-up"
k apply -f config/demo/riverside/namespace.yaml >/dev/null
go run ./hack/demo audience --count "$TENANTS" >"$ROOT/bin/riverside-tenants.csv"
k -n "$NS" create secret generic riverside-tenants --from-file=tenants.csv="$ROOT/bin/riverside-tenants.csv" \
	--dry-run=client -o yaml | k apply --server-side --force-conflicts -f - >/dev/null
rm -f "$ROOT/bin/riverside-tenants.csv"
k apply --server-side --force-conflicts -k config/demo/riverside >/dev/null
k -n "$NS" patch deployment mailsink --type merge >/dev/null -p \
	"{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"surveys.surveyops.io/image\":\"$(digest bin/mailsink.tar)\"}}}}}"
k -n "$NS" rollout status deployment/mailsink --timeout 120s >&2 || die "the mail sink did not become ready"

if [ -z "$(k -n "$NS" get surveycampaign tenant-satisfaction -o jsonpath='{.metadata.annotations.surveys\.surveyops\.io/requestedAt}')" ]; then
	step "send now"
	k -n "$NS" annotate surveycampaign tenant-satisfaction "surveys.surveyops.io/requestedAt=$(date -u +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
else
	step "the wave was asked for by an earlier run"
fi
k -n "$NS" wait surveycampaign/tenant-satisfaction --for=jsonpath='{.status.waves[0].phase}'=Collecting --timeout 180s >&2 ||
	die "the wave did not finish sending"
k -n "$NS" wait surveycampaign/tenant-satisfaction --for=jsonpath='{.status.waves[0].invited}' --timeout 120s >/dev/null ||
	die "the wave's counts did not arrive"
invited=$(k -n "$NS" get surveycampaign tenant-satisfaction -o jsonpath='{.status.waves[0].invited}')
echo "  invitations sent: $invited" >&2

step "a demo respondent answers from the mail sink"
mail=$(k -n "$NS" get svc mailsink -o jsonpath='{.spec.clusterIP}')
collector=$(k -n "$SYSTEM" get svc survey-operator-collector -o jsonpath='{.spec.clusterIP}')
said=$(go run ./hack/demo respond --mail "http://$mail:8025" --survey "http://$collector:8080" --rate "$RATE" \
	--invitations "${invited:-1}") || die "the demo respondent failed"
echo "$said" >&2
answered=$(sed -n 's/.* \([0-9]*\) answered.*/\1/p' <<<"$said")

step "waiting for the scores (the operator reads the response service every minute)"
k -n "$NS" wait surveycampaign/tenant-satisfaction --for=jsonpath='{.status.waves[0].responded}'="$answered" --timeout 300s >/dev/null ||
	die "the campaign's status does not show the $answered responses"
k -n "$NS" wait surveycampaign/tenant-satisfaction --for=condition=Ready --timeout 60s >/dev/null || die "the campaign is not Ready"
step "waiting for the follow-up's contact Job"
for _ in $(seq 1 60); do
	matched=$(k -n "$NS" get followup dissatisfied-tenants -o jsonpath='{.status.matched}')
	contacted=$(k -n "$NS" get followup dissatisfied-tenants -o jsonpath='{.status.contacted}')
	[ -n "$matched" ] && [ "$matched" = "$contacted" ] && break
	sleep 5
done

step "the programme"
k get surveys -n "$NS"
echo
echo
go run ./cmd/kubectl-survey results tenant-satisfaction -n "$NS" || die "kubectl survey results failed"
cat <<EOF

The cluster and the demo are up. To look around:
  export KUBECONFIG=$KUBECONFIG PATH=$(dirname "$KUBECTL"):\$PATH
  kubectl get surveys -A                      # campaigns and follow-ups
  kubectl -n $NS describe surveycampaign tenant-satisfaction
  make install-plugin                         # then, with ~/.local/bin on the PATH:
  kubectl survey results tenant-satisfaction -n $NS
  kubectl survey export tenant-satisfaction -n $NS --url http://$collector:8080 > responses.csv
  kubectl -n $SYSTEM port-forward svc/survey-operator-collector 8080:8080
                                              # then open a link from a received mail: http://localhost:8080/s/...
  kubectl -n $NS port-forward svc/mailsink 8025:8025
                                              # the received mail: http://localhost:8025
  hack/cluster down                           # remove everything
EOF
