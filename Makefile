# Thin wrappers around the npm scripts; `make help` lists them.
.PHONY: help setup build test test-unit test-control-plane lint format generate typecheck testenv-up testenv-down \
	chart-lint e2e bench image docker-build deploy demo

# The pinned helm that `make setup` builds, else whatever helm is on PATH.
HELM ?= $(firstword $(wildcard .testenv/bin/helm-*/helm) helm)
RELEASE ?= modelroute
NAMESPACE ?= modelroute-system
IMAGE_REPOSITORY ?= modelroute
IMAGE_TAG ?= dev
# Extra flags for every benchmark `make bench` runs, e.g. --quick (CI sizes).
BENCH_FLAGS ?=

help:
	@echo "setup               install Node packages and build the test binaries (kube-apiserver, etcd, kubectl, helm)"
	@echo "build               compile TypeScript to dist/"
	@echo "test                everything CI runs: typecheck, lint, generated-file drift, all jest tiers"
	@echo "test-unit           unit tests only (no API server)"
	@echo "test-control-plane  tests against a real kube-apiserver + etcd"
	@echo "lint / format       eslint + prettier check / rewrite"
	@echo "generate            regenerate CRDs from the zod schemas"
	@echo "testenv-up/-down    start/stop a real API server; writes .testenv/kubeconfig"
	@echo "chart-lint          helm lint --strict the chart; check manifests/install.yaml is up to date"
	@echo "e2e                 install tests on a real kube-apiserver: helm install/upgrade/uninstall, and"
	@echo "                    end to end (samples, sidecar, gateway, openai traffic, a backend failing)"
	@echo "bench               proxy, controller and difficulty-router benchmarks (JSON; figures, not pass/fail)"
	@echo "image               build the image $(IMAGE_REPOSITORY):$(IMAGE_TAG) (docker, else podman; NODE_IMAGE=local"
	@echo "                    assembles the Node base here when the official one cannot be pulled)"
	@echo "docker-build        the same as image"
	@echo "deploy              helm upgrade --install into the current kube context (RELEASE, NAMESPACE, IMAGE_*)"
	@echo "demo                serve the sample routes locally with simulated backends"

setup:
	npm ci
	npm run testenv -- build

build:
	npm run build

test:
	npm run test:all

test-unit:
	npm run test:unit

test-control-plane:
	npm run test:control-plane

lint:
	npm run lint

format:
	npm run format

typecheck:
	npm run typecheck

generate:
	npm run generate

testenv-up:
	npm run testenv -- up

testenv-down:
	npm run testenv -- down

chart-lint:
	$(HELM) lint --strict charts/modelroute
	MODELROUTE_HELM=$(HELM) node --import tsx hack/render-install.ts --check

e2e:
	node --experimental-vm-modules node_modules/jest/bin/jest.js --selectProjects control-plane --testPathPatterns test/install

# Every benchmark, full size; `make bench BENCH_FLAGS=--quick` runs them at CI sizes.
bench: build
	node dist/cli/main.js bench proxy --json $(BENCH_FLAGS)
	npm run bench:controller -- $(BENCH_FLAGS)
	npm run bench:quotas -- $(BENCH_FLAGS)
	npm run bench:routing -- $(BENCH_FLAGS)
	node --import tsx bench/router-latency.ts $(BENCH_FLAGS)
	node --import tsx bench/router-table.ts $(BENCH_FLAGS)
	npm run bench:router-nested -- $(BENCH_FLAGS)

# Docker where a Docker engine answers, else podman with the project's
# containers.conf (runc, inherited ulimits: podman's defaults fail on some hosts).
CONTAINER_ENGINE ?= $(shell docker info >/dev/null 2>&1 && echo docker || echo podman)
# The base of the image: empty for the Dockerfile's official Node LTS image,
# another image with node, npm and a uid-1000 user, or `local` to assemble one
# here (mmdebstrap + npm's Node package; needs root or user namespaces).
NODE_IMAGE ?=
PODMAN_CONF = CONTAINERS_CONF=$${CONTAINERS_CONF:-$(CURDIR)/hack/image/containers.conf}

image:
ifeq ($(NODE_IMAGE),local)
	node --import tsx hack/image/build-local.ts --tag $(IMAGE_REPOSITORY):$(IMAGE_TAG)
else
	$(if $(filter podman,$(CONTAINER_ENGINE)),$(PODMAN_CONF)) $(CONTAINER_ENGINE) build \
		$(if $(NODE_IMAGE),--build-arg NODE_IMAGE=$(NODE_IMAGE)) -t $(IMAGE_REPOSITORY):$(IMAGE_TAG) .
endif

docker-build: image

# The admin token Secret is created by the chart (and kept across upgrades).
deploy:
	$(HELM) upgrade --install $(RELEASE) charts/modelroute \
		--namespace $(NAMESPACE) --create-namespace \
		--set image.repository=$(IMAGE_REPOSITORY) --set image.tag=$(IMAGE_TAG)

demo:
	npx modelroute dev --simulate
