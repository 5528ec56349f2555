# meshkeeper — build, generate, test.
#
# Every tool and cluster binary is built from its Go module into bin/ on first use and reused after,
# so a fresh machine with Go is all `make test` needs.

IMG ?= ghcr.io/meshkeeper/meshkeeper:latest

LOCALBIN ?= $(shell pwd)/bin
export PATH := $(LOCALBIN):$(PATH)

CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2

CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE ?= $(LOCALBIN)/kustomize
KUBECTL ?= $(LOCALBIN)/kubectl

# The cluster binaries test/tools builds, one per line of test/tools/binaries.txt ("name package [module]").
CLUSTER_BINARIES := $(shell awk '!/^\#/ && NF>=2 {print $$1}' test/tools/binaries.txt)
ENVTEST_ASSETS := $(addprefix $(LOCALBIN)/,$(CLUSTER_BINARIES))

GOTEST_FLAGS ?=
TEST_TIMEOUT ?= 30m

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD and RBAC manifests from the API types and markers; copy the CRD into the Helm chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	rm -f charts/meshkeeper/crds/*.yaml
	cp config/crd/bases/*.yaml charts/meshkeeper/crds/

.PHONY: generate
generate: controller-gen ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run go fmt.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: vet ## Check formatting and vet the code.
	@out=$$(gofmt -l main.go api controllers internal test); if [ -n "$$out" ]; then echo "Not gofmt-formatted:"; echo "$$out"; exit 1; fi

.PHONY: verify
verify: manifests generate ## Fail when generated files differ from what is committed.
	@git diff --exit-code -- api config charts || { echo "Generated files are stale: run 'make manifests generate' and commit the result."; exit 1; }

.PHONY: test
test: manifests generate lint envtest ## Run every test tier (unit and envtest) and a short run of every fuzz target.
	KUBEBUILDER_ASSETS="$(LOCALBIN)" go test ./... -timeout $(TEST_TIMEOUT) $(GOTEST_FLAGS)
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME_SHORT)

.PHONY: bench
bench: manifests envtest ## Run the benchmarks: simulated cluster, scale on envtest, Sidecar scoping with istiod (results: docs/performance.md).
	KUBEBUILDER_ASSETS="$(LOCALBIN)" go test ./test/bench/ -run '^$$' -bench ApplyToReady -benchtime $${READY_RUNS:-5}x -timeout 30m
	KUBEBUILDER_ASSETS="$(LOCALBIN)" go test ./test/bench/ -run '^$$' -bench NoopReconcile -benchtime $${NOOP_RUNS:-100}x -benchmem -timeout 30m
	KUBEBUILDER_ASSETS="$(LOCALBIN)" go test ./test/scale/ -run '^$$' -bench Scale -benchtime 1x -timeout 30m -v
	KUBEBUILDER_ASSETS="$(LOCALBIN)" go test ./test/istiod/ -run '^$$' -bench SidecarScoping -benchtime 1x -timeout 30m -v

.PHONY: test-update-golden
test-update-golden: ## Rewrite the golden files of the rendered charts from the current output.
	go test ./internal/render/ -run 'Golden|Inventory' -update

# Every fuzz target, as package:function: the API round trip and each parser of untrusted input (a
# repository's index, the URLs printed of it, the repository allow-list, a release Secret's manifest,
# the egress-hosts annotation, managed fields). Their seed corpora run with every `go test`.
FUZZ_TARGETS := ./api/v1alpha1:FuzzServiceMeshRoundTrip ./internal/charts:FuzzParseIndex \
	./internal/charts:FuzzRedactURL ./internal/charts:FuzzCheckRepository ./internal/helm:FuzzDecodeManifest \
	./internal/render:FuzzEgressHosts ./internal/apply:FuzzOwnedKeys
FUZZTIME ?= 30s
FUZZTIME_SHORT ?= 3s

.PHONY: fuzz
fuzz: ## Fuzz every target for FUZZTIME each (default 30s; `make test` runs FUZZTIME_SHORT, 3s).
	@set -e; for target in $(FUZZ_TARGETS); do \
		pkg=$${target%%:*}; fn=$${target##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		go test $$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME); \
	done

.PHONY: demo
demo: manifests envtest ## Start a local simulated cluster with meshkeeper and the sample mesh (Ctrl-C stops it).
	KUBEBUILDER_ASSETS="$(LOCALBIN)" go run ./test/demo

##@ Build

.PHONY: build
build: manifests generate ## Build the manager binary.
	go build -o $(LOCALBIN)/meshkeeper .

.PHONY: run
run: manifests generate ## Run the manager out of cluster against the current kubeconfig.
	go run . --metrics-bind-address=0 --health-probe-bind-address=:8081

.PHONY: docker-build
docker-build: ## Build the manager image (needs a container engine).
	docker build -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests kustomize ## Install the CRD into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | kubectl apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Remove the CRD (and with it every ServiceMesh) from the cluster.
	$(KUSTOMIZE) build config/crd | kubectl delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the operator to the cluster with image IMG.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the operator from the cluster.
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found -f -

##@ OLM

# What a release of the OLM bundle chooses; hack/bundle takes the rest from config/ and the charts.
# The bundle's IMG is the release's image, not the development default "latest" above, which the
# bundle's tests reject. CREATED_AT is an input, not the clock, so regenerating gives the same bytes.
VERSION ?= 0.1.0
CHANNELS ?= alpha
DEFAULT_CHANNEL ?= alpha
CREATED_AT ?= 2026-11-22T00:00:00Z

.PHONY: bundle
bundle: IMG = ghcr.io/meshkeeper/meshkeeper:$(VERSION)
bundle: manifests ## Generate the OLM bundle (bundle/, bundle.Dockerfile) for VERSION, IMG, CHANNELS, DEFAULT_CHANNEL.
	go run ./hack/bundle -version $(VERSION) -image $(IMG) -channels $(CHANNELS) \
		-default-channel $(DEFAULT_CHANNEL) -created-at $(CREATED_AT)

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: kustomize
kustomize: $(KUSTOMIZE)
$(KUSTOMIZE): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

.PHONY: envtest
envtest: $(ENVTEST_ASSETS) $(LOCALBIN)/kwok-stages.yaml ## Build the cluster binaries the test tiers run (cached in bin/).

# kwok's binary has no built-in stages; kwokctl loads them from kwok's sources, and so does this rule,
# from the kwok module the tools module downloads: what a kubelet does to nodes and pods, without
# containers ("fast" node and pod stages, lease-based node heartbeat).
KWOK_STAGES := node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
	pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete
$(LOCALBIN)/kwok-stages.yaml: test/tools/kwok/go.mod test/tools/kwok/go.sum | $(LOCALBIN)
	cd test/tools/kwok && dir=$$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok) && \
		for stage in $(KWOK_STAGES); do echo "---"; cat "$$dir/kustomize/stage/$$stage.yaml"; done > $@

# Each cluster binary is rebuilt only when the tools modules change. It is built in the module named by
# the optional third column of binaries.txt (a directory under test/tools), else in test/tools.
$(LOCALBIN)/%: $(wildcard test/tools/go.mod test/tools/go.sum test/tools/*/go.mod test/tools/*/go.sum) test/tools/binaries.txt | $(LOCALBIN)
	set -- $$(awk '$$1 == "$*" {print $$2, $$3}' test/tools/binaries.txt) && \
		cd test/tools/$${2:-.} && go build -ldflags="-s -w" -o $@ $$1

$(LOCALBIN):
	mkdir -p $(LOCALBIN)
