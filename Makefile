# Thin wrappers around the npm scripts; `make help` lists them.
.PHONY: help setup build test test-unit test-control-plane lint format generate typecheck testenv-up testenv-down

help:
	@echo "setup               install Node packages and build the test binaries (kube-apiserver, etcd, kubectl, helm)"
	@echo "build               compile TypeScript to dist/"
	@echo "test                everything CI runs: typecheck, lint, generated-file drift, all jest tiers"
	@echo "test-unit           unit tests only (no API server)"
	@echo "test-control-plane  tests against a real kube-apiserver + etcd"
	@echo "lint / format       eslint + prettier check / rewrite"
	@echo "generate            regenerate CRDs from the zod schemas"
	@echo "testenv-up/-down    start/stop a real API server; writes .testenv/kubeconfig"

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
