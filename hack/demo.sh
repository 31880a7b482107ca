#!/usr/bin/env bash
# make demo: from nothing to a running listening programme on a local cluster.
#   1. the local cluster (hack/cluster up: built and cached the first time)
#   2. the operator's image and the mail sink's, built without Docker and imported
#   3. the operator and the response service deployed (config/demo), with their Secrets
#   4. Riverside Homes: a mail sink, 300 synthetic tenants, the quarterly tenant satisfaction
#      survey and a follow-up of dissatisfied tenants (config/demo/riverside); a wave now
#   5. a demo respondent reads the invitations in the mail sink and answers about 45% of them
#   6. the campaign's status with response rate and scores, the follow-up's counts
# Running it again changes nothing that is already so (the wave is asked for once), and finishes
# what an earlier run left undone: when invitations are missing from the mail sink (a run that
# failed part way), it empties the sink and asks for a fresh wave.
# Deployments are applied with their final pod templates (the image digest is in the applied
# manifests, not patched in after), and nothing is asked of a Deployment until no pod of an
# older template is left: a pod that terminates mid-wave would lose what it holds.
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
		k -n "$SYSTEM" logs deployment/survey-operator-controller-manager --tail 20 >&2 2>/dev/null || true
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

# stamped DIR DIGEST NAMES: a kustomization in bin/ over DIR whose Deployments named by the
# regexp NAMES carry the image's digest in their pod template, so that the first apply is
# already final (a rebuilt image keeps its tag: a changed digest rolls them, the same does not).
stamped() {
	local out=$ROOT/bin/demo-overlays/${1//\//-}
	mkdir -p "$out"
	cat >"$out/kustomization.yaml" <<EOF
# Written by hack/demo.sh: $1 with the image digest in the Deployments' pod templates.
resources:
  - ../../../$1
patches:
  - target:
      kind: Deployment
      name: "$3"
    patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: any
      spec:
        template:
          metadata:
            annotations:
              surveys.surveyops.io/image: "$2"
EOF
	echo "$out"
}

# settled NS DEPLOYMENT: waits until the Deployment's rollout is done and no pod of an older
# template is left, terminating or not.
settled() {
	k -n "$1" rollout status "deployment/$2" --timeout 180s >&2 || return 1
	local selector want pods
	selector=$(k -n "$1" get deployment "$2" -o go-template='{{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}')
	want=$(k -n "$1" get deployment "$2" -o jsonpath='{.spec.replicas}')
	for _ in $(seq 1 120); do
		pods=$(k -n "$1" get pods -l "${selector%,}" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | grep -c . || true)
		[ "$pods" = "$want" ] && return 0
		sleep 1
	done
	echo "demo: deployment/$2 still has $pods pods for $want replicas" >&2
	return 1
}

step "the operator and the response service"
KUBECTL=$KUBECTL hack/secrets.sh "$SYSTEM" >&2
k apply --server-side --force-conflicts \
	-k "$(stamped config/demo "$(digest bin/survey-operator.tar)" '^survey-operator-(controller-manager|collector)$')" >/dev/null
for d in controller-manager collector; do
	settled "$SYSTEM" "survey-operator-$d" || die "the $d did not become ready"
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
k apply --server-side --force-conflicts -k "$(stamped config/demo/riverside "$(digest bin/mailsink.tar)" '^mailsink$')" >/dev/null
settled "$NS" mailsink || die "the mail sink did not become ready"
mail=$(k -n "$NS" get svc mailsink -o jsonpath='{.spec.clusterIP}')
collector=$(k -n "$SYSTEM" get svc survey-operator-collector -o jsonpath='{.spec.clusterIP}')

# ask_wave: asks for a wave now and waits until the operator has taken the request.
ask_wave() {
	local at
	at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	k -n "$NS" annotate --overwrite surveycampaign tenant-satisfaction "surveys.surveyops.io/requestedAt=$at" >/dev/null
	k -n "$NS" wait surveycampaign/tenant-satisfaction --for=jsonpath='{.status.lastHandledRequestedAt}'="$at" --timeout 120s >/dev/null ||
		die "the operator did not take the request for a wave"
}
# wave_sent: waits for the newest wave to be sent and prints its invitations.
wave_sent() {
	k -n "$NS" wait surveycampaign/tenant-satisfaction --for=jsonpath='{.status.waves[0].phase}'=Collecting --timeout 180s >&2 ||
		die "the wave did not finish sending"
	k -n "$NS" wait surveycampaign/tenant-satisfaction --for=jsonpath='{.status.waves[0].invited}' --timeout 120s >/dev/null ||
		die "the wave's counts did not arrive"
	k -n "$NS" get surveycampaign tenant-satisfaction -o jsonpath='{.status.waves[0].invited}'
}

if [ -z "$(k -n "$NS" get surveycampaign tenant-satisfaction -o jsonpath='{.metadata.annotations.surveys\.surveyops\.io/requestedAt}')" ]; then
	step "send now"
	ask_wave
	invited=$(wave_sent)
else
	step "the wave was asked for by an earlier run"
	invited=$(wave_sent)
	arrived=$(go run ./hack/demo links --mail "http://$mail:8025") || die "cannot read the mail sink"
	if [ "$arrived" -lt "$invited" ]; then
		step "only $arrived of the $invited invitations are in the mail sink (an earlier run failed part way): a fresh wave"
		go run ./hack/demo links --mail "http://$mail:8025" --clear >/dev/null || die "cannot empty the mail sink"
		ask_wave
		invited=$(wave_sent)
	fi
fi
echo "  invitations sent: $invited" >&2

step "a demo respondent answers from the mail sink"
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
  kubectl survey export tenant-satisfaction -n $NS > responses.csv
  kubectl -n $SYSTEM port-forward svc/survey-operator-collector 8080:8080
                                              # then open a link from a received mail: http://localhost:8080/s/...
  kubectl -n $NS port-forward svc/mailsink 8025:8025
                                              # the received mail: http://localhost:8025
  hack/cluster down                           # remove everything
EOF
