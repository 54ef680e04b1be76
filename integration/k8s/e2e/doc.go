// Package e2e is loglet-injector's end-to-end test against a real
// kube-apiserver and etcd on 127.0.0.1, built from Go modules by ../build.sh
// (no Kubernetes binaries can be downloaded where it runs), and the Helm
// chart's tests, with a helm that ../build.sh builds from modules too. Run
// it with `make e2e`; see e2e_test.go and chart_test.go for what it checks.
//
// It is a module of its own so that its dependencies (cert-manager, for its
// API types and CustomResourceDefinitions) stay out of loglet's go.mod.
package e2e
