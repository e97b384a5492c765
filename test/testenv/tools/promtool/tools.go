//go:build tools

// Package tools pins the promtool binary used by modelroute's alerting-rule tests.
package tools

import _ "github.com/prometheus/prometheus/cmd/promtool"
