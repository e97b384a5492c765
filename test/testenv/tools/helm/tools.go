//go:build tools

// Package tools pins the helm binary used by modelroute's chart tests.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
