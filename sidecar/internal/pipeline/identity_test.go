package pipeline

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/loglet/loglet/sidecar/internal/checkpoint"
	"github.com/loglet/loglet/sidecar/internal/sink"
	"github.com/loglet/loglet/sidecar/internal/tail"
)

// A checkpoint entry whose id does not name the inode it is filed under (or
// is not an identity at all) is not trusted: its offset would skip bytes of
// whatever file now has that inode, and its records would carry another
// file's identity. The file is read as one the state does not know, from 0.
func TestEntryWithInconsistentIdentityIsNotTrusted(t *testing.T) {
	for name, spoil := range map[string]func(e *checkpoint.Entry){
		"id names another inode": func(e *checkpoint.Entry) {
			e.ID = tail.FileID{Identity: tail.Identity{Dev: e.Dev, Ino: e.Ino + 1}}.String()
		},
		"id is not an identity": func(e *checkpoint.Entry) { e.ID = "garbage" },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, "", nil)
			e.write("app.log", jsonLines(0, 5))
			e.start()
			e.waitRecords(5)
			e.stop()
			st := &checkpoint.Store{Dir: e.cfg.StateDir}
			entries := e.checkpoints()
			if len(entries) != 1 || entries[0].Offset == 0 {
				t.Fatalf("checkpoints after the first run: %+v", entries)
			}
			spoil(&entries[0])
			if err := st.Save(entries); err != nil {
				t.Fatal(err)
			}

			e.out = &syncBuffer{}
			e.sink = sink.NewWriter(e.out)
			e.start()
			e.write("app.log", jsonLines(5, 1))
			eventually(t, "the new line", func() bool { return strings.Contains(e.out.String(), `"line 5"`) })
			e.stop()
			if diff := cmp.Diff(lineMsgs(0, 6), msgs(t, e.out.String())); diff != "" {
				t.Fatalf("records after the restart (-want +got):\n%s", diff)
			}
			for _, got := range e.checkpoints() {
				if _, _, err := tail.FromEntry(got); err != nil {
					t.Errorf("saved entry %+v: %v", got, err)
				}
			}
		})
	}
}
