package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

var (
	buildOnce sync.Once
	builtPath string
	buildErr  error
)

// Loglet returns the path of the loglet binary: $LOGLET_BIN when set (the
// Makefile sets it to bin/loglet after building), otherwise a binary built
// once per test process into a temporary directory.
func Loglet() (string, error) {
	if p := os.Getenv("LOGLET_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("LOGLET_BIN: %w", err)
		}
		return p, nil
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "loglet-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtPath = filepath.Join(dir, "loglet")
		cmd := exec.Command("go", "build", "-o", builtPath, "./sidecar/cmd/loglet")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build loglet: %v\n%s", err, out)
		}
	})
	return builtPath, buildErr
}

// RepoRoot is the repository's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}
