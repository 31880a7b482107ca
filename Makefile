# survey-operator: kubebuilder-style Makefile. `make help` lists the targets.

IMG ?= survey-operator:dev
KUBECTL ?= kubectl
CONTAINER_TOOL ?= docker

# Tools, pinned, installed into ./bin by `go install`.
LOCALBIN ?= $(shell pwd)/bin
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.1
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

# Kubernetes binaries for envtest, built from the Go module proxy and cached outside the repo.
K8S_VERSION ?= 1.37.2
ETCD_VERSION ?= 3.6.16
export K8S_VERSION ETCD_VERSION

GO_TEST_FLAGS ?=

# The Go toolchain, pinned: the latest stable release, fetched through the Go module proxy when the
# machine's own Go is older (these machines set GOTOOLCHAIN=local, which would refuse it).
GO_TOOLCHAIN ?= go1.27.4
export GOTOOLCHAIN = $(GO_TOOLCHAIN)+auto

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC from the markers in api/ and controllers/.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases

.PHONY: generate
generate: controller-gen ## Generate deep-copy code from the markers in api/.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint; the walls between packages are its depguard rules (.golangci.yml).
	$(GOLANGCI_LINT) run ./...

.PHONY: envtest
envtest: ## Build (once, cached) kube-apiserver, etcd and kubectl for envtest.
	@hack/envtest-assets.sh >/dev/null

.PHONY: test
test: manifests generate fmt vet envtest config-check ## Run all tests: unit tests and the envtest suites against a real kube-apiserver.
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh)" go test ./... $(GO_TEST_FLAGS)

.PHONY: config-check
config-check: kustomize ## Check that every kustomization under config/ builds.
	@for dir in config/default config/crd config/rbac config/manager config/collector config/network-policy config/postgres config/prometheus config/grafana config/samples config/demo config/demo/riverside; do \
		$(KUSTOMIZE) build $$dir >/dev/null || { echo "kustomize build $$dir failed"; exit 1; }; \
	done

.PHONY: bench
bench: ## Run the Go benchmarks and print ratios to their same-run baselines.
	hack/bench.sh

.PHONY: bench-smoke
bench-smoke: envtest ## Run every benchmark once at a small size (BENCH_SMALL=1), so that none rots: fails if any fails.
	BENCH_SMALL=1 KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh)" go test -run '^$$' -bench . -benchtime 1x -timeout 10m \
		$$(grep -rl --include='*_test.go' --exclude-dir=.git --exclude-dir=bin '^func Benchmark' . | xargs -n1 dirname | sort -u)

FUZZTIME ?= 20s
FUZZJOBS ?= 2

.PHONY: fuzz
fuzz: ## Fuzz each parser of outside input for FUZZTIME (20s), FUZZJOBS (2) targets at a time (hack/fuzz.sh); a find is written to its package's testdata/fuzz.
	FUZZTIME=$(FUZZTIME) FUZZJOBS=$(FUZZJOBS) hack/fuzz.sh

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the binaries into ./bin.
	CGO_ENABLED=0 go build -o $(LOCALBIN)/ ./cmd/...

PLUGIN_DIR ?= $(HOME)/.local/bin
PLUGIN_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64

.PHONY: install-plugin
install-plugin: ## Install the kubectl plugin (kubectl survey) into PLUGIN_DIR (~/.local/bin), which must be on the PATH.
	mkdir -p $(PLUGIN_DIR)
	CGO_ENABLED=0 go build -o $(PLUGIN_DIR)/kubectl-survey ./cmd/kubectl-survey
	@case ":$$PATH:" in *":$(PLUGIN_DIR):"*) echo "kubectl survey is installed: try kubectl survey --help";; \
	  *) echo "Installed $(PLUGIN_DIR)/kubectl-survey; add $(PLUGIN_DIR) to your PATH for kubectl to find it";; esac

.PHONY: plugin-dist
plugin-dist: ## Build the plugin's release archives (bin/dist/kubectl-survey_OS_ARCH.tar.gz) for .krew.yaml.
	rm -rf $(LOCALBIN)/dist && mkdir -p $(LOCALBIN)/dist
	for p in $(PLUGIN_PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; dir=$(LOCALBIN)/dist/kubectl-survey_$${os}_$${arch}; ext=; \
	  [ $$os = windows ] && ext=.exe; \
	  mkdir -p $$dir && CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -o $$dir/kubectl-survey$$ext ./cmd/kubectl-survey && \
	  cp LICENSE $$dir/ 2>/dev/null; tar -czf $$dir.tar.gz -C $$dir . && rm -rf $$dir || exit 1; \
	done
	cd $(LOCALBIN)/dist && sha256sum *.tar.gz

.PHONY: run
run: manifests generate fmt vet ## Run the manager on this machine against the cluster of the current kubeconfig (flags in ARGS).
	go run ./cmd/manager $(ARGS)

.PHONY: image
image: ## Build the operator's image without a container engine: bin/survey-operator.tar (docker-archive; ctr images import / docker load).
	go run ./hack/image --out bin/survey-operator.tar --tag $(IMG)

.PHONY: docker-build
docker-build: ## Build the container image with a container engine (not available on the CI machines).
	$(CONTAINER_TOOL) build -t $(IMG) .

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRDs from the cluster (ignore-not-found=true to ignore missing ones).
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator and the response service to the cluster of the current kubeconfig (makes their Secrets when missing).
	cd config/default && $(KUSTOMIZE) edit set image controller=$(IMG)
	KUBECTL="$(KUBECTL)" hack/secrets.sh survey-operator-system
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator from the cluster.
	$(KUSTOMIZE) build config/default | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

##@ Local cluster (no Docker, kind or registry needed; run as root)

.PHONY: cluster-up
cluster-up: ## Start the local single-node cluster (hack/cluster up; binaries built once and cached).
	hack/cluster up

.PHONY: cluster-down
cluster-down: ## Remove the local cluster completely (processes, containers, mounts, network, state).
	hack/cluster down

.PHONY: demo
demo: ## From nothing to a running programme on the local cluster: operator, mail sink, 300 tenants, a wave, answers, scores.
	hack/demo.sh

.PHONY: test-e2e
test-e2e: ## End-to-end tests on the local cluster (brought up if needed; left up for a look unless E2E_DOWN=1).
	hack/e2e.sh

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into ./bin.
$(CONTROLLER_GEN): | $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize into ./bin.
$(KUSTOMIZE): | $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Install golangci-lint into ./bin.
$(GOLANGCI_LINT): | $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

# go-install-tool installs a Go tool at a pinned version under a versioned name.
# $1 target path with version, $2 package, $3 version
define go-install-tool
@set -e; \
echo "installing $(2)@$(3)"; \
rm -f $(1) || true; \
GOBIN=$(LOCALBIN) go install $(2)@$(3); \
mv $(LOCALBIN)/$$(basename $(2) | sed 's/^v[0-9]*$$/kustomize/') $(1)
endef
