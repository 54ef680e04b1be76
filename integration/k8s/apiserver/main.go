// Command kube-apiserver is Kubernetes' API server, built from the
// k8s.io/kubernetes module of the release named in go.mod, for the loglet
// end-to-end test (no Kubernetes binaries can be downloaded where it runs).
// It is cmd/kube-apiserver of that release, unchanged.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics, as upstream
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, as upstream
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
