#!/usr/bin/env bash
# Makes the two Secrets the manager and the response service mount, when they are missing:
#   survey-token-keys  the link-signing keys (one data key per key id, 32 random bytes in hex;
#                      the key id that sorts last signs, every key verifies: add a newer one to
#                      rotate, remove the old one when its links have expired)
#   survey-api-token   the bearer token of the response service's APIs (data key "token")
# Existing Secrets are left as they are, so running it again changes nothing.
#
# usage: hack/secrets.sh [NAMESPACE]   (default survey-operator-system; KUBECTL names kubectl)
set -euo pipefail
NS=${1:-survey-operator-system}
KUBECTL=${KUBECTL:-kubectl}

if ! $KUBECTL get namespace "$NS" >/dev/null 2>&1; then
	$KUBECTL create namespace "$NS" >/dev/null
	$KUBECTL label namespace "$NS" pod-security.kubernetes.io/enforce=restricted >/dev/null
fi
if ! $KUBECTL -n "$NS" get secret survey-token-keys >/dev/null 2>&1; then
	$KUBECTL -n "$NS" create secret generic survey-token-keys \
		--from-literal="$(date -u +%Y-%m)=$(openssl rand -hex 32)" >/dev/null
	echo "secrets: created $NS/survey-token-keys"
fi
if ! $KUBECTL -n "$NS" get secret survey-api-token >/dev/null 2>&1; then
	$KUBECTL -n "$NS" create secret generic survey-api-token --from-literal="token=$(openssl rand -hex 32)" >/dev/null
	echo "secrets: created $NS/survey-api-token"
fi
