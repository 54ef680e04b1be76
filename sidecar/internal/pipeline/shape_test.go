package pipeline

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/loglet/loglet/sidecar/internal/shape"
	"github.com/loglet/loglet/sidecar/internal/sink"
)

// TestDroppedRecordsMoveTheCheckpoint: a record a rule drops is
// delivered as dropped: the checkpoint moves over it, also when it is the
// last line of the file, and a restart never reads it again.
func TestDroppedRecordsMoveTheCheckpoint(t *testing.T) {
	conds, err := shape.ParseConditions(`msg~[13579]$`)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := shape.New(shape.Spec{DropIf: conds}, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "", func(c *Config) { c.Parse.Shape = sh })
	e.write("app.log", jsonLines(0, 100)) // ends with "line 99", dropped
	e.start()
	e.waitRecords(50)
	fi, _ := os.Stat(e.path("app.log"))
	eventually(t, "the checkpoint at the end of the file", func() bool {
		cps := e.checkpoints()
		return len(cps) == 1 && cps[0].Offset == fi.Size()
	})
	e.stop()
	var want []string
	for i := 0; i < 100; i += 2 {
		want = append(want, lineMsgs(i, 1)...)
	}
	if diff := cmp.Diff(want, msgs(t, e.out.String())); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	if n := strings.Count(e.out.String(), "\n"); n != 50 {
		t.Errorf("the sink got %d records, want 50 (no empty ones)", n)
	}
	if got := testutil.ToFloat64(e.p.m.dropped); got != 50 {
		t.Errorf("loglet_records_dropped_total = %v, want 50", got)
	}

	e.write("app.log", jsonLines(100, 2))
	e.out = &syncBuffer{}
	e.sink = sink.NewWriter(e.out)
	e.start()
	e.waitRecords(1)
	e.stop()
	if diff := cmp.Diff(lineMsgs(100, 1), msgs(t, e.out.String())); diff != "" {
		t.Fatalf("after restart (-want +got):\n%s", diff)
	}
}
