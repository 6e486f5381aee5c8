# thumbq: every command a contributor or reviewer runs. `make help` lists them.
SHELL := /bin/bash
GO ?= go
IMAGES ?= worker/samples
OUT ?= out

export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.DEFAULT_GOAL := help
.PHONY: help run test build

help: ## List the targets with one line each
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

## ---- worker -------------------------------------------------------------------------------
run: ## Run the whole pipeline locally on emulated S3/SQS/SNS (IMAGES=dir OUT=dir)
	$(GO) run ./worker local --images "$(IMAGES)" --out "$(OUT)"

build: ## Build bin/thumbq
	$(GO) build -o bin/thumbq ./worker

test: ## Run every test (worker and infra)
	$(GO) test ./...

## ---- infra (CDK) ---------------------------------------------------------------------------
