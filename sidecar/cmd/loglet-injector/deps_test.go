package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// goListDeps returns the packages pkg links, as `go list -deps` reports
// them for the build the Makefile makes (CGO_ENABLED=0).
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func kubernetesPackages(deps []string) []string {
	var k8s []string
	for _, d := range deps {
		if strings.HasPrefix(d, "k8s.io/") || strings.HasPrefix(d, "sigs.k8s.io/") {
			k8s = append(k8s, d)
		}
	}
	return k8s
}

// TestSidecarLinksNoKubernetes keeps the sidecar small: the Kubernetes API
// types belong to the injector only.
func TestSidecarLinksNoKubernetes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped with -short")
	}
	// The check itself must see Kubernetes packages where they are.
	if k8s := kubernetesPackages(goListDeps(t, "github.com/loglet/loglet/sidecar/cmd/loglet-injector")); len(k8s) == 0 {
		t.Fatal("go list found no k8s.io package in loglet-injector; the check below would be blind")
	}
	if _, err := os.Stat("../loglet"); errors.Is(err, os.ErrNotExist) {
		t.Skip("sidecar/cmd/loglet does not exist yet")
	}
	if k8s := kubernetesPackages(goListDeps(t, "github.com/loglet/loglet/sidecar/cmd/loglet")); len(k8s) > 0 {
		t.Errorf("the loglet sidecar links Kubernetes packages (keep them in the injector):\n%s", strings.Join(k8s, "\n"))
	}
}
