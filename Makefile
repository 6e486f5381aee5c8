# thumbq: every command a contributor or reviewer runs. `make help` lists them.
SHELL := /bin/bash
GO ?= go
IMAGES ?= worker/samples
OUT ?= out

export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.DEFAULT_GOAL := help
.PHONY: help run serve test test-worker test-deps build bench

help: ## List the targets with one line each
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

## ---- worker -------------------------------------------------------------------------------
run: ## Run the whole pipeline locally on emulated S3/SQS/SNS (IMAGES=dir OUT=dir)
	$(GO) run ./worker local --images "$(IMAGES)" --out "$(OUT)"

serve: ## Keep the emulated endpoint up for uploads from any S3 client (OUT=dir mirrors thumbnails)
	$(GO) run ./worker local --serve --out "$(OUT)"

build: ## Build bin/thumbq (with the local emulators; the container image is built with -tags nolocal)
	$(GO) build -o bin/thumbq ./worker

test: test-deps ## Run every test (worker and infra)
	$(GO) test ./...

test-worker: test-deps ## Run the worker's tests only
	$(GO) test ./worker/...

bench: ## Run the image engine's Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./worker/thumb/

# The AWS CLI is the real client `thumbq local --serve` is tested with: Debian's package if missing.
test-deps:
	@command -v aws >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq awscli >/dev/null; \
	  else echo "note: no aws CLI and not root: the AWS CLI test will be skipped (apt-get install awscli)"; fi; }

## ---- infra (CDK) ---------------------------------------------------------------------------
