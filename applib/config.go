package applib

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/loglet/loglet/sidecar/bytesize"
)

// The environment variables OpenEnv reads.
const (
	envLogDir       = "LOGLET_LOG_DIR"        // directory of <pod>.log; unset: stdout
	envPodName      = "POD_NAME"              // the pod's name, from the Downward API
	envHostname     = "HOSTNAME"              // used when POD_NAME is unset
	envMaxFileBytes = "LOGLET_MAX_FILE_BYTES" // rotate <pod>.log past this size
	envMaxFiles     = "LOGLET_MAX_FILES"      // rotated files kept
	envStateDir     = "LOGLET_STATE_DIR"      // loglet's checkpoint state, as the sidecar names it
)

// Defaults for the zero fields of a Config.
const (
	DefaultMaxFileBytes = 100 << 20 // 100 MiB
	DefaultMaxFiles     = 5
)

// Config says where an Output writes. Its zero value writes to os.Stdout.
type Config struct {
	// Dir is the directory of the log file <Dir>/<Pod>.log, created if
	// missing: the volume shared with the loglet sidecar. Empty means no
	// file: records go to Stdout.
	Dir string
	// Pod names the files: <Pod>.log and, rotated, <Pod>-<UTC time>.log.
	// Required when Dir is set.
	Pod string
	// MaxFileBytes is the size past which <Pod>.log is rotated: a record that
	// would take the file past it goes to a fresh file. Zero or less means
	// DefaultMaxFileBytes (100 MiB).
	MaxFileBytes int64
	// MaxFiles is how many rotated files are kept. Open and each rotation
	// delete the oldest beyond it that loglet has shipped; a file loglet
	// has not shipped is never deleted. When MaxFiles rotated files all
	// wait for loglet (Kafka is down), records that do not fit in
	// <Pod>.log are dropped and counted (see Output) until loglet ships
	// one. Only when StateDir does not exist (no sidecar reads Dir) are the
	// oldest deleted unshipped, each reported on Stderr. Either way the
	// disk used is at most about (MaxFiles+1) × MaxFileBytes. Zero or less
	// means DefaultMaxFiles (5).
	MaxFiles int
	// StateDir is loglet's checkpoint state directory, read to tell which
	// rotated files are shipped: the sidecar's LOGLET_STATE_DIR. Empty
	// means <Dir>/.loglet, the sidecar's default.
	StateDir string
	// Stdout receives the records when Dir is empty. Nil means os.Stdout.
	// It must be safe for concurrent use if it is shared with other writers.
	Stdout io.Writer
	// Stderr receives applib's own reports: records dropped (at most one
	// line every 10 s) and rotated files deleted unshipped. Nil means
	// os.Stderr.
	Stderr io.Writer
}

// configFromEnv reads the Config from the environment through lookup (os.LookupEnv).
func configFromEnv(lookup func(string) (string, bool)) (Config, error) {
	var c Config
	c.Dir, _ = lookup(envLogDir)
	c.StateDir, _ = lookup(envStateDir)
	if pod, _ := lookup(envPodName); pod != "" {
		c.Pod = pod
	} else {
		c.Pod, _ = lookup(envHostname)
	}
	var err error
	if c.MaxFileBytes, err = sizeEnv(lookup, envMaxFileBytes); err != nil {
		return Config{}, err
	}
	n, err := positiveEnv(lookup, envMaxFiles)
	if err != nil {
		return Config{}, err
	}
	if int64(int(n)) != n {
		return Config{}, fmt.Errorf("applib: %s=%d: too large", envMaxFiles, n)
	}
	c.MaxFiles = int(n)
	return c, nil
}

// positiveEnv reads a positive integer variable; unset or empty gives 0.
func positiveEnv(lookup func(string) (string, bool), name string) (int64, error) {
	s, _ := lookup(name)
	if s = strings.TrimSpace(s); s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("applib: %s=%q: want a positive whole number", name, s)
	}
	return n, nil
}

// sizeEnv reads a positive size variable in the size syntax the sidecar
// also takes (package bytesize: 1048576, 512KiB, 100MiB, 1GB); unset or
// empty gives 0.
func sizeEnv(lookup func(string) (string, bool), name string) (int64, error) {
	s, _ := lookup(name)
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	n, err := bytesize.Parse(s)
	if err != nil {
		return 0, fmt.Errorf("applib: %s: %w", name, err)
	}
	if n <= 0 {
		return 0, fmt.Errorf("applib: %s=%q: want a positive size (%s)", name, s, bytesize.Forms)
	}
	return int64(n), nil
}

// validate checks the fields Open cannot default.
func (c Config) validate() error {
	if c.Dir == "" {
		return nil
	}
	switch {
	case c.Pod == "":
		return fmt.Errorf("applib: log directory %s set but no pod name: set %s (Downward API metadata.name) or %s", c.Dir, envPodName, envHostname)
	case c.Pod == "." || c.Pod == ".." || strings.ContainsAny(c.Pod, "/\\\x00"):
		return fmt.Errorf("applib: pod name %q cannot name a file", c.Pod)
	}
	return nil
}

// OpenEnv opens the Output the environment describes: <LOGLET_LOG_DIR>/<pod>.log
// with the pod name from POD_NAME, else HOSTNAME, rotated past
// LOGLET_MAX_FILE_BYTES (default 100 MiB) keeping LOGLET_MAX_FILES rotated
// files (default 5), with loglet's state in LOGLET_STATE_DIR (default
// <LOGLET_LOG_DIR>/.loglet). When LOGLET_LOG_DIR is unset or empty it writes to
// os.Stdout and creates no file. A malformed variable is an error.
func OpenEnv() (*Output, error) {
	c, err := configFromEnv(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	return Open(c)
}
