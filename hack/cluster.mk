# A real API server for the deployment, included by the main Makefile.
#
#   make test-cluster   apply the chart's render to etcd + kube-apiserver
#                       with the CRDs of Knative Serving, Eventing and Dapr
#
# etcd and kube-apiserver are built from source through the module proxy
# (versions pinned in hack/cluster/go.mod), once, into the gitignored bin/;
# the first build takes a quarter of an hour on two cores.

CLUSTER_MOD  := hack/cluster
KUBE_VERSION := $(shell awk '$$1 == "k8s.io/kubernetes" { print $$2; exit }' $(CLUSTER_MOD)/go.mod)
# Without the stamp the server reports v0.0.0-master.
KUBE_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION)

.PHONY: test-cluster

$(BIN)/etcd: $(CLUSTER_MOD)/go.mod $(CLUSTER_MOD)/go.sum $(CLUSTER_MOD)/cmd/etcd/main.go
	cd $(CLUSTER_MOD) && $(GO) build -trimpath -ldflags "-s -w" -o ../../$(BIN)/etcd ./cmd/etcd

$(BIN)/kube-apiserver: $(CLUSTER_MOD)/go.mod $(CLUSTER_MOD)/go.sum
	@echo "building kube-apiserver $(KUBE_VERSION) from source (first time takes ~10 min)"
	cd $(CLUSTER_MOD) && $(GO) build -trimpath -ldflags "$(KUBE_LDFLAGS)" -o ../../$(BIN)/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver

test-cluster: $(BIN)/etcd $(BIN)/kube-apiserver ## apply the rendered deployment to a real kube-apiserver with Knative's and Dapr's CRDs
	CLUSTER_BIN=$(CURDIR)/$(BIN) $(GO) -C $(DEPLOY_MOD) test -count=1 -tags cluster ./cluster/
