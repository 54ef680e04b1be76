// Package buildinfo describes the running loglet build: its version, the Go
// version it was built with and the source revision, for `-version`, the
// start log line and the loglet_build_info metric.
package buildinfo

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Info is a build's description.
type Info struct {
	// Version is loglet's semantic version, e.g. 0.2.0, or what the
	// build set with -ldflags "-X main.version=..." (git describe).
	Version string
	// GoVersion is the Go release that built the binary, e.g. go1.26.8.
	GoVersion string
	// Revision is the source revision: the one the build set, else the
	// VCS revision Go stamped into the binary (with "-dirty" when the
	// work tree had changes), else "unknown".
	Revision string
}

// Read returns the running binary's Info for version and revision, the
// values main holds (revision may be empty).
func Read(version, revision string) Info {
	info := Info{Version: version, GoVersion: runtime.Version(), Revision: revision}
	if bi, ok := debug.ReadBuildInfo(); ok && info.Revision == "" {
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if info.Revision != "" && modified {
			info.Revision += "-dirty"
		}
	}
	if info.Revision == "" {
		info.Revision = "unknown"
	}
	return info
}

// Collector returns the gauge loglet_build_info{version,goversion,revision},
// always 1, the way Prometheus' own *_build_info metrics are: join on it to
// see which version each pod runs.
func (i Info) Collector() prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "loglet_build_info",
		Help:        "Always 1; the labels say which loglet build runs: version, the Go version that built it and the source revision.",
		ConstLabels: prometheus.Labels{"version": i.Version, "goversion": i.GoVersion, "revision": i.Revision},
	})
	g.Set(1)
	return g
}
