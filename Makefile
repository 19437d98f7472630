# Flotilla's build. `make help` lists the targets.
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := $(CURDIR)/bin
FLOTILLA  := $(BIN)/flotilla
CONTROLLER_GEN := $(BIN)/controller-gen
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/flotilla-io/flotilla/internal/cli/version.Version=$(VERSION)
# Test packages run in parallel; each starts its own fleet.
TEST_P    ?= 2
TEST_TIMEOUT ?= 30m

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n\n"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/flotilla
	$(GO) build -ldflags "$(LDFLAGS)" -o $(FLOTILLA) ./cmd/flotilla
	@ln -sf flotilla $(BIN)/kubectl-flotilla

.PHONY: k8s-binaries
k8s-binaries: ## Build the pinned Kubernetes binaries once (about 10 minutes cold; cached per user)
	@bash hack/k8s-binaries.sh

$(CONTROLLER_GEN): hack/tools/gen/go.mod
	cd hack/tools/gen && $(GO) build -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy, CRDs and RBAC from the Go types and markers
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(CONTROLLER_GEN) crd rbac:roleName=flotilla-hub paths=./api/... paths=./internal/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: verify
verify: generate ## Fail if generated code is stale, code is unformatted or vet complains
	@git diff --exit-code -- api config || { echo "generated files are stale: run 'make generate' and commit"; exit 1; }
	@test -z "$$(gofmt -l api cmd internal test config)" || { gofmt -l api cmd internal test config; echo "run gofmt"; exit 1; }
	$(GO) vet ./...

.PHONY: test
test: build k8s-binaries ## Run every test: unit, integration and end-to-end against real clusters
	$(GO) test -count=1 -p $(TEST_P) -timeout $(TEST_TIMEOUT) ./...

.PHONY: test-unit
test-unit: ## Run the unit tests only (no clusters)
	$(GO) test -short ./...

.PHONY: up
up: build k8s-binaries ## Start the local fleet (hub + member-cluster-1, member-cluster-2, edge-cluster)
	$(FLOTILLA) up

.PHONY: down
down: build ## Stop the local fleet and remove its state
	$(FLOTILLA) down

.PHONY: bench
bench: build k8s-binaries ## Print performance figures (see docs/performance.md)
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./test/bench/...

.PHONY: clean
clean: ## Remove bin/ (the Kubernetes binary cache stays)
	rm -rf $(BIN)
