package tail

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/loglet/loglet/sidecar/internal/checkpoint"
)

func TestFileIDText(t *testing.T) {
	tests := []struct {
		name string
		id   FileID
		text string
	}{
		// The header text of the existing state files and records: it must not change.
		{"v1 state", FileID{Identity{Dev: 1, Ino: 2}, 0xff}, "1:2:00000000000000ff"},
		{"zero", FileID{}, "0:0:0000000000000000"},
		{"max", FileID{Identity{Dev: math.MaxUint64, Ino: math.MaxUint64}, math.MaxUint64},
			"18446744073709551615:18446744073709551615:ffffffffffffffff"},
		{"typical", FileID{Identity{Dev: 2049, Ino: 1311301}, 0xcbf29ce484222325}, "2049:1311301:cbf29ce484222325"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.id.String(); got != tt.text {
				t.Errorf("String() = %q, want %q", got, tt.text)
			}
			got, err := ParseFileID(tt.text)
			if err != nil {
				t.Fatalf("ParseFileID(%q): %v", tt.text, err)
			}
			if diff := cmp.Diff(tt.id, got); diff != "" {
				t.Errorf("ParseFileID(%q) (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestNewFileIDKeepsOnlyTheHash(t *testing.T) {
	fp := FingerprintOf([]byte("first line\n"))
	got := NewFileID(Identity{Dev: 3, Ino: 4}, fp)
	if want := (FileID{Identity{Dev: 3, Ino: 4}, fp.Sum}); got != want {
		t.Fatalf("NewFileID = %+v, want %+v", got, want)
	}
	if want := "3:4:" + fp.String(); got.String() != want {
		t.Errorf("String() = %q, want %q", got.String(), want)
	}
}

func TestParseFileIDRefuses(t *testing.T) {
	for _, s := range []string{
		"",
		"1:2",
		"1:2:3:4",
		"1:2:ff",                // short hash
		"1:2:00000000000000FF",  // upper case: not what String makes
		"1:2:000000000000000ff", // 17 digits
		"01:2:00000000000000ff", // leading zero
		"+1:2:00000000000000ff", // sign
		"-1:2:00000000000000ff", //
		"1::00000000000000ff",   // empty inode
		"1:2: 0000000000000ff",  // space
		"18446744073709551616:2:00000000000000ff", // overflows uint64
		"1:12:none",
		"1:2:0x000000000000ff",
	} {
		if id, err := ParseFileID(s); !errors.Is(err, ErrBadFileID) {
			t.Errorf("ParseFileID(%q) = %+v, %v; want an error matching ErrBadFileID", s, id, err)
		}
	}
}

func TestFileIDEntryRoundTrip(t *testing.T) {
	id := FileID{Identity{Dev: 1, Ino: 2}, 0xff}
	head := Fingerprint{Len: 1024, Sum: 0xabc}
	e := id.Entry(head)
	want := checkpoint.Entry{ID: "1:2:00000000000000ff", Dev: 1, Ino: 2, FPLen: 1024, FP: "0000000000000abc"}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Fatalf("Entry (-want +got):\n%s", diff)
	}
	e.Offset, e.Path = 42, "app.log" // the caller's fields do not disturb the identity
	gotID, gotHead, err := FromEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	if gotID != id || gotHead != head {
		t.Errorf("FromEntry = %+v, %+v; want %+v, %+v", gotID, gotHead, id, head)
	}
}

func TestFromEntryRefuses(t *testing.T) {
	good := checkpoint.Entry{ID: "1:2:00000000000000ff", Dev: 1, Ino: 2, FPLen: 10, FP: "00000000000000ff"}
	tests := map[string]func(e *checkpoint.Entry){
		"id not an identity":     func(e *checkpoint.Entry) { e.ID = "x" },
		"id names another inode": func(e *checkpoint.Entry) { e.Ino = 3 },
		"id names another dev":   func(e *checkpoint.Entry) { e.Dev = 7 },
		"fp not hex":             func(e *checkpoint.Entry) { e.FP = "zz" },
		"fp missing":             func(e *checkpoint.Entry) { e.FP = "" },
		"fp too long":            func(e *checkpoint.Entry) { e.FP = "00000000000000ff0" },
		"negative fp_len":        func(e *checkpoint.Entry) { e.FPLen = -1 },
	}
	if _, _, err := FromEntry(good); err != nil {
		t.Fatalf("FromEntry(good): %v", err)
	}
	for name, spoil := range tests {
		t.Run(name, func(t *testing.T) {
			e := good
			spoil(&e)
			if _, _, err := FromEntry(e); !errors.Is(err, ErrBadFileID) {
				t.Errorf("FromEntry(%+v) = %v, want an error matching ErrBadFileID", e, err)
			}
		})
	}
}

// FuzzParseFileID: no text panics the parser, and what it accepts formats
// back to the same text (records are matched by that text).
func FuzzParseFileID(f *testing.F) {
	for _, s := range []string{"1:2:00000000000000ff", "0:0:0000000000000000", "1:12:none", "01:2:00000000000000ff",
		"18446744073709551615:18446744073709551615:ffffffffffffffff", "::", "1:2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseFileID(s)
		if err != nil {
			if !errors.Is(err, ErrBadFileID) {
				t.Fatalf("ParseFileID(%q) error %v does not match ErrBadFileID", s, err)
			}
			return
		}
		if got := id.String(); got != s {
			t.Fatalf("ParseFileID(%q).String() = %q", s, got)
		}
	})
}
