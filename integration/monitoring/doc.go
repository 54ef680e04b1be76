// Package monitoring tests manifests/monitoring: the alert rules, the
// PodMonitor and the Grafana dashboard. It parses every rule with
// Prometheus' rule parser (model/rulefmt) and every expression with its
// PromQL parser, decodes the Prometheus Operator objects strictly into the
// Operator's Go types, and checks that every metric and label the rules
// and the dashboard name is one the real loglet binary serves on /metrics.
//
// It is a module of its own so that the Prometheus server and Operator
// modules, which only these tests need, stay out of loglet's go.mod. `make
// test` runs it with LOGLET_BIN set to bin/loglet.
package monitoring
