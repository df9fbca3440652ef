# Deployment, included by the main Makefile.
#
#   make deploy                    build every function's image, apply everything
#   make deploy FUNC=create-task   build and apply that function's resources only
#   make deploy FUNC=platform      apply the shared Dapr resources only
#   make deploy-render [FUNC=...]  print what deploy would apply (ko:// images)
#   make deploy-manifests          regenerate knative/, bindings/kubernetes/ and docs/deploy/
#   make test-deploy               every deployment check, and each function's pod as the cluster would create it
#
# The chart (knative/chart) is the source; it is rendered with Helm's own
# engine by hack/deploy/cmd/render and validated before anything is applied.
# Images are pushed to $KO_DOCKER_REPO/<function>:$IMAGE_TAG and referenced
# by digest. DEPLOY_VALUES=file.yaml adds values files, DEPLOY_SET='k=v ...'
# sets values (as helm -f and --set).

DEPLOY_MOD   := hack/deploy
DEPLOY_TOOLS := hack/deploy/tools
DEPLOY_KO    := $(CURDIR)/bin/ko
KUBECTL      ?= kubectl
IMAGE_TAG    ?= latest
FUNC         ?=
DEPLOY_VALUES ?=
DEPLOY_SET   ?=

DEPLOY_RENDER = go -C $(DEPLOY_MOD) run ./cmd/render -check \
	$(if $(FUNC),-only $(FUNC)) \
	$(foreach f,$(DEPLOY_VALUES),-f $(abspath $(f))) \
	$(foreach s,$(DEPLOY_SET),-set $(s))

.PHONY: deploy deploy-render deploy-manifests test-deploy

# ko is built from the version pinned in hack/deploy/tools/go.mod.
$(DEPLOY_KO): $(DEPLOY_TOOLS)/go.mod $(DEPLOY_TOOLS)/go.sum
	go -C $(DEPLOY_TOOLS) build -o $(DEPLOY_KO) github.com/google/ko

deploy-render: ## print what deploy would apply (FUNC=name for one function)
	@$(DEPLOY_RENDER)

# Temporary files rather than pipes: sh has no pipefail, and a failed
# render must not reach kubectl.
deploy: $(if $(filter platform,$(FUNC)),,$(DEPLOY_KO)) ## build images and apply to the cluster (FUNC=name or FUNC=platform for one part)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(DEPLOY_RENDER) > "$$tmp/rendered.yaml"; \
	if [ "$(FUNC)" = platform ]; then \
		cp "$$tmp/rendered.yaml" "$$tmp/resolved.yaml"; \
	else \
		test -n "$$KO_DOCKER_REPO" || { echo "deploy: set KO_DOCKER_REPO to the registry to push images to" >&2; exit 1; }; \
		$(DEPLOY_KO) resolve --base-import-paths --tags=$(IMAGE_TAG) -f "$$tmp/rendered.yaml" > "$$tmp/resolved.yaml"; \
	fi; \
	$(KUBECTL) apply -f "$$tmp/resolved.yaml"

deploy-manifests: ## regenerate knative/, bindings/kubernetes/ and docs/deploy/ from the chart
	go -C $(DEPLOY_MOD) run ./cmd/render -write

test-deploy: ## validate the chart and every manifest with Knative's and Dapr's own types
	@test -z "$$(gofmt -l $(DEPLOY_MOD))" || { gofmt -l $(DEPLOY_MOD); echo "test-deploy: gofmt needed" >&2; exit 1; }
	go -C $(DEPLOY_MOD) vet ./...
	go -C $(DEPLOY_MOD) test -count=1 ./...
	go -C $(DEPLOY_TOOLS) test ./...

# Knative Serving's controller and webhook, from the knative.dev/serving
# the deploy checks pin (hack/deploy/go.mod's tool directives), so the pod
# composed in process and the one the controller makes come from one
# release.
$(BIN)/serving-controller $(BIN)/serving-webhook: $(BIN)/serving-%: $(DEPLOY_MOD)/go.mod $(DEPLOY_MOD)/go.sum
	cd $(DEPLOY_MOD) && $(GO) build -trimpath -ldflags "-s -w" -o ../../$(BIN)/serving-$* knative.dev/serving/cmd/$*

