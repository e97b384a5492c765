//go:build tools

// Package tools pins the Kubernetes test binaries (kube-apiserver, kubectl,
// etcd) that modelroute's control-plane tests run. Nothing here ships in the
// product; see hack/update-testenv-gomod.sh and test/testenv/build.ts.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
