# meshkeeper — build, generate, test.
#
# Every tool and cluster binary is built from its Go module into bin/ on first use and reused after,
# so a fresh machine with Go is all `make test` needs.

IMG ?= ghcr.io/meshkeeper/meshkeeper:latest

LOCALBIN ?= $(shell pwd)/bin
export PATH := $(LOCALBIN):$(PATH)

# -trimpath keys Go's build cache on the sources' content rather than on the checkout's directory, so a
# fresh clone reuses what an earlier one compiled (tests find the checkout by its go.mod, not by source
# paths). Every go command below uses it, so the tiers and tools share one set of cached packages.
GOFLAGS += -trimpath
export GOFLAGS

# The test binaries are linked without DWARF (-ldflags=-w): only a debugger reads it, and writing it is
# a third of a test binary's link (the control-plane suite's: 13.5 s of CPU with it, 8.5 s without).
# Stack traces and profiles do not need it.
TEST_TARGETS := test-unit test-envtest-packages test-envtest-suites test-istiod test-e2e test-cluster-packages fuzz soak soak-chaos
$(TEST_TARGETS): GOFLAGS += -ldflags=-w

CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
GOLANGCI_LINT_VERSION ?= v2.15.0

CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE ?= $(LOCALBIN)/kustomize
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
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
vet: ## Run go vet on every file, the test tiers' tagged ones included.
	go vet -tags $(TIER_TAGS) ./...


.PHONY: verify
verify: manifests generate ## Fail when generated files differ from what is committed, or appear uncommitted.
	@git diff --exit-code -- api config charts || { echo "Generated files are stale: run 'make manifests generate' and commit the result."; exit 1; }
	@new="$$(git ls-files --others --exclude-standard -- api config charts)"; \
		if [ -n "$$new" ]; then echo "Generated files that are not committed (a type taken for an API type?):"; echo "$$new"; exit 1; fi

# The test tiers. A test that needs a cluster binary carries its tier's build tag, and its package is listed
# in the tier's packages below; every other test is pure and runs in test-unit, which builds nothing.
#   envtest: kube-apiserver and etcd (test/testenv), with or without the manager
#   istiod:  envtest, the manager and the real istiod (pilot-discovery)
#   cluster: the simulated cluster (test/cluster): API server, controller manager, scheduler and kwok
# A tier's tests mostly wait on its servers (a rollout, a retry, a Consistently), so its packages run side
# by side: go test's packages two at a time, the control-plane suite's specs spread by the ginkgo CLI over
# GINKGO_PROCS processes (each with its own API server and manager), and the e2e tests in parallel.
TIER_TAGS := envtest,istiod,cluster
ENVTEST_PACKAGES := ./internal/helm/ ./controllers/servicemesh/ ./controllers/ingress/ ./test/integration/ ./test/integration/chartmanager/ ./test/integration/firstinstall/ \
	./test/integration/metricsauth/ ./test/integration/policy/ ./test/integration/restart/ ./test/bundle/ ./test/chart/ ./test/scale/ ./test/install/
ENVTEST_SUITES := ./test/integration/controlplane/
ISTIOD_PACKAGES := ./test/istiod/
E2E_PACKAGES := ./test/e2e/
CLUSTER_PACKAGES := ./test/cluster/ ./test/bench/ ./test/fault/ ./test/chaos/
GINKGO_PROCS ?= 2
# How many e2e tests run at a time, each on its own simulated cluster. go test starts parallel tests in
# no fixed order: two at a time, the longest (the rollback, 2.5 minutes under load) could start last.
E2E_PARALLEL ?= 3
# The manager as the image builds it, built once for the tests that run it as a process.
IMAGE_BINARY := $(LOCALBIN)/meshkeeper-image
# The test servers (etcd, kube-apiserver, the simulated cluster's controllers) collect garbage less
# often: about 15 % less CPU for the control-plane suite's API server (test/testenv.ServerGOGCEnv).
TIER_ENV = KUBEBUILDER_ASSETS="$(LOCALBIN)" MESHKEEPER_IMAGE_BINARY="$(IMAGE_BINARY)" TESTENV_SERVER_GOGC=400

.PHONY: test
test: ## Run every test: regenerate the manifests and build the cluster binaries, then run the tiers that need them, the pure tests and a short run of every fuzz target, side by side.
	$(MAKE) manifests generate envtest
	$(MAKE) -j8 --output-sync=target test-e2e test-cluster-packages test-envtest-suites test-envtest-packages test-istiod test-unit fuzz FUZZTIME=$(FUZZTIME_SHORT) FUZZ_WORKERS=1

.PHONY: test-unit
test-unit: ## Run the pure tests (no cluster binary needed, nothing is built first).
	go test ./... -vet=off -timeout 10m $(GOTEST_FLAGS)

.PHONY: test-race
test-race: envtest ## Run the pure tests, and the envtest packages that run meshkeeper's controllers in the test process, with the race detector (not part of `make test`).
	go test -race ./... -vet=off -timeout 30m $(GOTEST_FLAGS)
	$(TIER_ENV) go test -race -tags envtest ./test/integration/ ./test/integration/policy/ ./test/integration/restart/ -timeout $(TEST_TIMEOUT) $(GOTEST_FLAGS)

.PHONY: image-binary
image-binary: ## Build the manager as the image does (hack/trimdeps) into bin/meshkeeper-image, for the tiers that run it as a process.
	go run ./hack/trimdeps -o $(IMAGE_BINARY)

.PHONY: test-envtest test-envtest-packages test-envtest-suites
test-envtest: test-envtest-packages test-envtest-suites ## Run the tier on a real kube-apiserver and etcd (integration, control plane, chart and bundle installs).
test-envtest-packages: envtest image-binary
	$(TIER_ENV) go test -tags envtest $(ENVTEST_PACKAGES) -run '^($(ENVTEST_TESTS))$$' -timeout $(TEST_TIMEOUT) $(GOTEST_FLAGS)
# A tier's go test runs only the tests of the files behind its build tag in its packages: the packages'
# other tests are pure, and test-unit runs them (TestTiersRunEveryTaggedTest). tier_tests is the pattern of
# the tests of the files behind tag $(1) in the packages $(2) (/dev/null: grep reads no input when none is).
tier_tests = $(shell grep -ho '^func Test[A-Za-z0-9_]*' /dev/null $$(grep -l '^//go:build $(1)' $(addsuffix *_test.go,$(2))) | cut -d' ' -f2 | grep -vx TestMain | sort -u | paste -sd'|')
ENVTEST_TESTS = $(call tier_tests,envtest,$(ENVTEST_PACKAGES))
ISTIOD_TESTS = $(call tier_tests,istiod,$(ISTIOD_PACKAGES))
E2E_TESTS = $(call tier_tests,cluster,$(E2E_PACKAGES))
CLUSTER_TESTS = $(call tier_tests,cluster,$(CLUSTER_PACKAGES))
# print-tier-tests prints each tier's pattern, a line each: ENVTEST_TESTS=...
.PHONY: print-tier-tests
print-tier-tests:
	@echo 'ENVTEST_TESTS=$(ENVTEST_TESTS)'
	@echo 'ISTIOD_TESTS=$(ISTIOD_TESTS)'
	@echo 'E2E_TESTS=$(E2E_TESTS)'
	@echo 'CLUSTER_TESTS=$(CLUSTER_TESTS)'
test-envtest-suites: envtest image-binary
	$(TIER_ENV) go run github.com/onsi/ginkgo/v2/ginkgo --tags envtest -p --procs $(GINKGO_PROCS) --timeout $(TEST_TIMEOUT) $(GINKGO_FLAGS) $(ENVTEST_SUITES)

.PHONY: test-istiod
test-istiod: envtest image-binary ## Run the tier in which the real istiod judges what meshkeeper installed.
	$(TIER_ENV) go test -tags istiod $(ISTIOD_PACKAGES) -run '^($(ISTIOD_TESTS))$$' -timeout $(TEST_TIMEOUT) $(GOTEST_FLAGS)

.PHONY: test-cluster test-e2e test-cluster-packages
test-cluster: test-e2e test-cluster-packages ## Run the tests on the simulated cluster (kube-controller-manager, kube-scheduler, kwok).
test-e2e: envtest image-binary ## Run the end-to-end tests of the simulated cluster alone.
	$(TIER_ENV) go test -tags cluster $(E2E_PACKAGES) -run '^($(E2E_TESTS))$$' -parallel $(E2E_PARALLEL) -timeout $(TEST_TIMEOUT) $(GOTEST_FLAGS)
test-cluster-packages: envtest image-binary
	$(TIER_ENV) go test -tags cluster $(CLUSTER_PACKAGES) -run '^($(CLUSTER_TESTS))$$' -timeout $(TEST_TIMEOUT) $(GOTEST_FLAGS)

# The fault tier's scenarios run once in test-cluster; soak runs them SOAK_RUNS times on one simulated
# cluster (about 5 minutes a run on 2 cores; results: docs/reliability.md).
SOAK_RUNS ?= 10

.PHONY: soak
soak: envtest ## Run the fault tier (crash, API server restart, leader election, byte-exact uninstall) SOAK_RUNS times.
	KUBEBUILDER_ASSETS="$(LOCALBIN)" go test -tags cluster ./test/fault/ -count $(SOAK_RUNS) -timeout $$(( $(SOAK_RUNS) * 15 + 10 ))m -v $(GOTEST_FLAGS)

# The long run of test/chaos's random sequences: CHAOS_SEQUENCES sequences of CHAOS_STEPS steps, each on
# a new cluster; CHAOS_SEED replays one (the test prints the seed of each sequence).
CHAOS_SEQUENCES ?= 10
CHAOS_STEPS ?= 30

.PHONY: soak-chaos
soak-chaos: envtest ## Run long seeded random operation sequences on the simulated cluster (CHAOS_SEQUENCES, CHAOS_STEPS, CHAOS_SEED).
	CHAOS_SEQUENCES=$(CHAOS_SEQUENCES) CHAOS_STEPS=$(CHAOS_STEPS) KUBEBUILDER_ASSETS="$(LOCALBIN)" \
		go test -tags cluster ./test/chaos/ -run '^TestRandomSequences$$' -count=1 -v -timeout 12h $(GOTEST_FLAGS)

.PHONY: lint
lint: golangci-lint ## Check formatting, vet the code and run golangci-lint (.golangci.yml).
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "Not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(MAKE) vet
	$(GOLANGCI_LINT) run

# The manager's size as the image builds it, before the cuts of docs/performance.md, and the target's share of it.
BINARY_SIZE_BEFORE := 73826466
BINARY_SIZE_TARGET := 0.6

.PHONY: bench-binary
bench-binary: image-binary ## Build the manager as the image does and print its size against the target (results: docs/performance.md).
	@stat -c %s $(IMAGE_BINARY) | awk '{ t = $(BINARY_SIZE_TARGET) * $(BINARY_SIZE_BEFORE); \
		printf "manager binary: %d bytes, %.2fx of %d; target %.0f bytes (%sx), %.2fx the target\n", $$1, $$1 / $(BINARY_SIZE_BEFORE), $(BINARY_SIZE_BEFORE), t, "$(BINARY_SIZE_TARGET)", $$1 / t }'

.PHONY: deps-check
deps-check: ## Fail if the manager links a package it must not (CEL, gRPC, OpenTelemetry exporters, k8s.io/apiserver's auth stacks, API groups it never uses).
	go test . -run '^Test(BinaryLeavesOutUnusedPackages|ImageBinaryLinksOnlyTheAPIGroupsItUses)$$' -count=1

.PHONY: bench
bench: manifests envtest bench-binary ## Run the benchmarks: binary size, the base chart's render, reading the objects of its release record, one Ingress decision, what the caches hold of an Ingress, a Service and a Deployment, install latency and memory on envtest, simulated cluster (apply to Ready, no-op reconcile, a restart wave of 1,000 workloads), scale on envtest, Sidecar scoping with istiod (results: docs/performance.md).
	go test ./internal/helm/ -run '^$$' -bench RenderBase -benchtime 10x
	go test ./internal/helm/ -run '^$$' -bench '^BenchmarkRecordObjects$$' -benchmem -benchtime 10x
	go test ./internal/policy/ -run '^$$' -bench '^BenchmarkIngress$$' -benchmem
	go test ./controllers/ -run '^$$' -bench 'Cached(Ingress|Service)' -benchtime 3x
	go test ./controllers/restart/ -run '^$$' -bench CachedWorkload -benchtime 3x
	KUBEBUILDER_ASSETS="$(LOCALBIN)" MESHKEEPER_IMAGE_BINARY="$(IMAGE_BINARY)" go test -tags envtest ./test/install/ -run '^$$' -bench Install -benchtime 1x -timeout 20m -v
	KUBEBUILDER_ASSETS="$(LOCALBIN)" go test -tags cluster ./test/bench/ -run '^$$' -bench ApplyToReady -benchtime $${READY_RUNS:-5}x -timeout 30m
	KUBEBUILDER_ASSETS="$(LOCALBIN)" go test -tags cluster ./test/bench/ -run '^$$' -bench NoopReconcile -benchtime $${NOOP_RUNS:-100}x -benchmem -timeout 30m
	KUBEBUILDER_ASSETS="$(LOCALBIN)" go test -tags cluster ./test/bench/ -run '^$$' -bench RestartWave -benchtime 1x -timeout 40m -v
	KUBEBUILDER_ASSETS="$(LOCALBIN)" MESHKEEPER_IMAGE_BINARY="$(IMAGE_BINARY)" go test -tags envtest ./test/scale/ -run '^$$' -bench Scale -benchtime 1x -timeout 60m -v
	KUBEBUILDER_ASSETS="$(LOCALBIN)" go test -tags istiod ./test/istiod/ -run '^$$' -bench SidecarScoping -benchtime 1x -timeout 30m -v

.PHONY: test-update-golden
test-update-golden: ## Rewrite the golden files of the rendered charts from the current output.
	go test ./internal/render/ -run 'Golden|Inventory' -update

# Every fuzz target, as package:function: the API round trip and each parser of untrusted input (a
# repository's index, the URLs printed of it, the repository allow-list, a release Secret's manifest,
# a release record, the egress-hosts annotation and the reasons its entries are refused, managed fields), and the chart manager's YAML writer,
# fromYaml and document splitter against Helm's (JSON round trips, a regular expression) they replace, and the reading of a release record's
# objects against the whole decoding it replaces. Their seed corpora run with every `go test`.
FUZZ_TARGETS := ./api/v1alpha1:FuzzServiceMeshRoundTrip ./internal/charts:FuzzParseIndex \
	./internal/charts:FuzzRedactURL ./internal/charts:FuzzCheckRepository ./internal/helm:FuzzDecodeManifest ./internal/helm:FuzzRecordObjectsMatchDecodeManifest ./internal/helm:FuzzDecodeRecord ./internal/helm:FuzzMarshalYAML ./internal/helm:FuzzFromYAML ./internal/helm:FuzzSplitManifest ./internal/helm:FuzzSpliceMetadata ./internal/helm:FuzzWriteYAML \
	./internal/render:FuzzEgressHosts ./internal/render:FuzzEgressHostProblem ./internal/apply:FuzzOwnedKeys
FUZZTIME ?= 30s
FUZZTIME_SHORT ?= 3s

FUZZ_JOBS ?= 2
# FUZZ_WORKERS is each target's number of worker processes (go test's -parallel); empty: GOMAXPROCS.
FUZZ_WORKERS ?=

.PHONY: fuzz
fuzz: ## Fuzz every target for FUZZTIME each, FUZZ_JOBS at a time, FUZZ_WORKERS workers each (default 30s, 2, GOMAXPROCS; `make test` runs FUZZTIME_SHORT, 3s, with one worker).
	FUZZTIME=$(FUZZTIME) FUZZ_JOBS=$(FUZZ_JOBS) FUZZ_WORKERS=$(FUZZ_WORKERS) LOCALBIN=$(LOCALBIN) hack/fuzz.sh $(FUZZ_TARGETS)

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
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

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

##@ Release

.PHONY: test-monitoring
test-monitoring: ## Check the alerting rules and the Grafana dashboard with Prometheus's own packages (module test/monitoring).
	cd test/monitoring && go test ./... $(GOTEST_FLAGS)

.PHONY: release-artifacts
release-artifacts: IMG = ghcr.io/meshkeeper/meshkeeper:$(VERSION)
release-artifacts: bundle ## Write dist/ for VERSION: install.yaml (config/default), the packaged chart, the OLM bundle.
	go run ./hack/release -version $(VERSION) -image $(IMG) -out dist
	tar --sort=name --mtime='$(CREATED_AT)' --owner=0 --group=0 --numeric-owner -cf - \
		bundle bundle.Dockerfile bundle.Dockerfile.dockerignore | gzip -n > dist/meshkeeper-bundle-$(VERSION).tar.gz
	@echo dist/meshkeeper-bundle-$(VERSION).tar.gz

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)

.PHONY: kustomize
kustomize: $(KUSTOMIZE)
$(KUSTOMIZE): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT)
$(GOLANGCI_LINT): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

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

# Each cluster binary is built in the module named by the optional third column of binaries.txt (a
# directory under test/tools), else in test/tools, and rebuilt only when that module's go.mod or go.sum
# or its own line of binaries.txt changes: adding a binary in one module rebuilds nothing in the others.
cluster_binary_module = test/tools/$(or $(word 3,$(shell awk '$$1 == "$(1)"' test/tools/binaries.txt)),.)
define cluster_binary_rule
$(LOCALBIN)/$(1): $(call cluster_binary_module,$(1))/go.mod $(call cluster_binary_module,$(1))/go.sum $(LOCALBIN)/.binaries/$(1)
endef
$(foreach binary,$(CLUSTER_BINARIES),$(eval $(call cluster_binary_rule,$(binary))))

$(LOCALBIN)/%: | $(LOCALBIN)
	set -- $$(awk '$$1 == "$*" {print $$2, $$3}' test/tools/binaries.txt) && \
		cd test/tools/$${2:-.} && go build -ldflags="-s -w" -o $@ $$1

# A binary's line of binaries.txt, rewritten only when the line changes. A binary built before its line
# was recorded counts as built from it.
$(LOCALBIN)/.binaries/%: FORCE
	@mkdir -p $(@D); line="$$(awk '$$1 == "$*"' test/tools/binaries.txt)"; \
	if [ ! -e $@ ]; then echo "$$line" > $@; [ ! -e $(LOCALBIN)/$* ] || touch -r $(LOCALBIN)/$* $@; \
	elif [ "$$(cat $@)" != "$$line" ]; then echo "$$line" > $@; fi

.PHONY: FORCE
FORCE:

$(LOCALBIN):
	mkdir -p $(LOCALBIN)
