package bytesize

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]Size{
		"0": 0, "1048576": 1 << 20, "512KiB": 512 << 10, "8MiB": 8 << 20, "1GiB": 1 << 30,
		"1KB": 1000, "1MB": 1e6, "1GB": 1e9, "10B": 10, "64 KiB": 64 << 10, " 2mib ": 2 << 20, "3kb": 3000,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", " ", "-1", "+1", "1.5MiB", "8XB", "MiB", "1K", "1M", "0x10", "1e6", "99999999999999999999", "9999999999GiB"} {
		got, err := Parse(in)
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %d, %v; want ErrSyntax", in, got, err)
			continue
		}
		if !strings.Contains(err.Error(), "KiB") || !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("Parse(%q) error does not quote the input and name the forms: %v", in, err)
		}
	}
}

func TestString(t *testing.T) {
	for z, want := range map[Size]string{0: "0", 1: "1", 1000: "1000", 1 << 10: "1KiB", 1536: "1536", 8 << 20: "8MiB", 3 << 30: "3GiB"} {
		if got := z.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(z), got, want)
		}
	}
}

// FuzzParse checks that Parse never panics, refuses negatives, and reads
// back what String writes.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1", "8MiB", "512 kib", "1GB", "-1", "1.5MB", "B", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		z, err := Parse(s)
		if err != nil {
			return
		}
		if z < 0 {
			t.Fatalf("Parse(%q) = %d", s, z)
		}
		back, err := Parse(z.String())
		if err != nil || back != z {
			t.Fatalf("Parse(%q) = %d; String %q reads back as %d, %v", s, z, z.String(), back, err)
		}
	})
}
