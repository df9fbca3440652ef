# A real control plane for the deployment, included by the main Makefile.
#
#   make test-cluster   apply the chart's render to etcd + kube-apiserver
#                       with the CRDs of Knative Serving, Eventing and Dapr,
#                       through Knative Serving's webhook; Serving's
#                       controller makes each function's Revision and
#                       Deployment, kube-controller-manager its Pod, which
#                       Dapr's sidecar injector patches; Dapr's operator
#                       converts Subscriptions and gives each Deployment its
#                       <app-id>-dapr Service. No pod runs: there is no
#                       scheduler, kubelet or container runtime.
#
# etcd, kube-apiserver and kube-controller-manager are built from source
# through the module proxy (versions pinned in hack/cluster/go.mod), Knative
# Serving's controller and webhook from hack/deploy (deploy.mk), Dapr's
# injector and operator from hack/dapr like daprd, once, into the
# gitignored bin/.
# Cold builds measured on two cores shared with other builds:
# kube-controller-manager 31 minutes (11 minutes of CPU), then
# kube-apiserver 11 (most packages shared, already compiled), etcd 1,
# Serving's controller about 4 minutes of CPU and its webhook seconds
# after it, the injector and the operator under 1 each after daprd and
# sentry. Warm, `make test-cluster` takes under a minute (40 seconds seen).
CLUSTER_MOD  := hack/cluster
KUBE_VERSION := $(shell awk '$$1 == "k8s.io/kubernetes" { print $$2; exit }' $(CLUSTER_MOD)/go.mod)
# Without the stamp the server reports v0.0.0-master.
KUBE_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION)

.PHONY: test-cluster

$(BIN)/etcd: $(CLUSTER_MOD)/go.mod $(CLUSTER_MOD)/go.sum $(CLUSTER_MOD)/cmd/etcd/main.go
	cd $(CLUSTER_MOD) && $(GO) build -trimpath -ldflags "-s -w" -o ../../$(BIN)/etcd ./cmd/etcd

$(BIN)/kube-apiserver $(BIN)/kube-controller-manager: $(BIN)/%: $(CLUSTER_MOD)/go.mod $(CLUSTER_MOD)/go.sum
	@echo "building $* $(KUBE_VERSION) from source (first time takes ~10 min)"
	cd $(CLUSTER_MOD) && $(GO) build -trimpath -ldflags "$(KUBE_LDFLAGS)" -o ../../$(BIN)/$* k8s.io/kubernetes/cmd/$*

# Dapr's sidecar injector and operator, from the Dapr source daprd is built from.
$(BIN)/injector $(BIN)/operator: $(BIN)/%: hack/dapr/go.mod hack/dapr/go.sum
	cd hack/dapr && $(GO) build -trimpath -ldflags "$(DAPR_LDFLAGS)" -o ../../$(BIN)/$* github.com/dapr/dapr/cmd/$*

test-cluster: $(BIN)/etcd $(BIN)/kube-apiserver $(BIN)/kube-controller-manager $(BIN)/sentry $(BIN)/operator $(BIN)/injector $(BIN)/serving-controller $(BIN)/serving-webhook ## apply the rendered deployment to a real control plane with Knative's and Dapr's CRDs, and Dapr's injector patching the pods
	CLUSTER_BIN=$(CURDIR)/$(BIN) $(GO) -C $(DEPLOY_MOD) test -count=1 -tags cluster ./cluster/
