package buildinfo

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollector(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(Read("0.2.0", "abc123").Collector())
	want := `# HELP loglet_build_info Always 1; the labels say which loglet build runs: version, the Go version that built it and the source revision.
# TYPE loglet_build_info gauge
loglet_build_info{goversion="` + runtime.Version() + `",revision="abc123",version="0.2.0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "loglet_build_info"); err != nil {
		t.Error(err)
	}
}

func TestReadWithoutRevision(t *testing.T) {
	// A test binary carries no VCS stamp.
	if got := Read("0.2.0", "").Revision; got == "" {
		t.Error("empty revision; want the VCS revision or unknown")
	}
}
