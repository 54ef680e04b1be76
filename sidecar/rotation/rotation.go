package rotation

import (
	"path/filepath"
	"strings"
)

// Compressed lists the suffixes of compressed rotations (logrotate's
// compress, lumberjack's compress): never text to ship.
var Compressed = []string{".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".snappy", ".Z"}

// IsCompressed reports whether name ends in one of Compressed.
func IsCompressed(name string) bool {
	for _, s := range Compressed {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// Of reports whether name is a rotation of the active file's name active (see
// the package comment). The active name itself is not a rotation of itself.
func Of(active, name string) bool {
	if active == "" || name == active || strings.ContainsRune(name, '/') {
		return false
	}
	for _, c := range Compressed {
		if n, ok := strings.CutSuffix(name, c); ok {
			name = n
			break
		}
	}
	// <active><sep><tag>
	if rest, ok := strings.CutPrefix(name, active); ok && len(rest) > 1 && isSep(rest[0]) && isTag(rest[1:]) {
		return true
	}
	// <stem><sep><tag><ext>
	ext := filepath.Ext(active)
	stem := strings.TrimSuffix(active, ext)
	if stem == "" {
		return false
	}
	rest, ok := strings.CutPrefix(name, stem)
	if !ok || len(rest) < 2 || !isSep(rest[0]) {
		return false
	}
	tag, ok := strings.CutSuffix(rest[1:], ext)
	return ok && isTag(tag)
}

// Owned reports whether a file named name belongs to the pod whose active
// file is active: it is the active file or one of its rotations. On a
// directory shared by several pods (a hostPath), this keeps pod web-1 from
// shipping web-12.log.
func Owned(active, name string) bool {
	return name == active || Of(active, name)
}

func isSep(c byte) bool { return c == '.' || c == '-' || c == '_' }

// isTag reports whether s is an index (1–6 digits) or a time stamp.
func isTag(s string) bool {
	if s == "" {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case strings.IndexByte("-_.:+TZ", c) >= 0:
			if i < 4 {
				return false // a time stamp starts with a four-digit year
			}
		default:
			return false
		}
	}
	if digits == len(s) {
		return len(s) <= 6 || len(s) >= 8 // an index, or a compact date (20261121)
	}
	return digits >= 8
}
