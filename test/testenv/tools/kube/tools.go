//go:build tools

// Package tools pins the Kubernetes test binaries (kube-apiserver, kubectl,
// etcd, and the node components kubelet, kube-scheduler,
// kube-controller-manager, kube-proxy) that modelroute's control-plane and
// real-node tests run. Nothing here ships in the product; see
// hack/update-testenv-gomod.sh and test/testenv/build.ts.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
