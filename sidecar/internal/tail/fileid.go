package tail

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/loglet/loglet/sidecar/internal/checkpoint"
)

// FileID is the identity of one content of one file as it is named outside
// the process: the file's device and inode numbers, and the hash (the Sum
// of a [Fingerprint]) of the bytes it began with when its first record was
// read. Every record of that content carries its String as the loglet-file
// header, and the content's checkpoint entry carries it as its id; both are
// derived from a FileID and from nothing else.
//
// The hash is fixed when it is taken: the fingerprint that later grows with
// the file up to [FingerprintSize] (the entry's fp) is kept beside it, not
// in it, so that a record read at any time names its content the same way.
type FileID struct {
	Identity
	// Head is the Sum of the fingerprint of the content's first bytes,
	// taken at its first record.
	Head uint64
}

// NewFileID returns the identity of the content of the file id whose first
// bytes, when its first record was read, had fingerprint first.
func NewFileID(id Identity, first Fingerprint) FileID {
	return FileID{Identity: id, Head: first.Sum}
}

// String formats the identity as "dev:inode:fingerprint": the device and
// inode numbers in decimal and the hash as 16 lower-case hex digits, the
// loglet-file header's text.
func (id FileID) String() string {
	return id.Identity.String() + ":" + Fingerprint{Sum: id.Head}.String()
}

// ErrBadFileID is matched (with errors.Is) by the error of [ParseFileID]
// and [FromEntry] for text that is not a file identity.
var ErrBadFileID = errors.New("not a loglet file identity")

// ParseFileID parses the text [FileID.String] makes. Only that text is
// accepted (decimal numbers without a sign or leading zeros, exactly 16
// lower-case hex digits), so that a parsed identity formats back to the
// same bytes, which is what records are matched by.
func ParseFileID(s string) (FileID, error) {
	dev, rest, ok1 := strings.Cut(s, ":")
	ino, fp, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return FileID{}, fmt.Errorf("%w: %q: want dev:inode:fingerprint", ErrBadFileID, s)
	}
	d, err := parseDecimal(dev)
	if err != nil {
		return FileID{}, fmt.Errorf("%w: %q: device: %w", ErrBadFileID, s, err)
	}
	i, err := parseDecimal(ino)
	if err != nil {
		return FileID{}, fmt.Errorf("%w: %q: inode: %w", ErrBadFileID, s, err)
	}
	if len(fp) != 16 {
		return FileID{}, fmt.Errorf("%w: %q: fingerprint is not 16 hex digits", ErrBadFileID, s)
	}
	h, err := ParseFingerprint(len(fp), fp)
	if err != nil {
		return FileID{}, fmt.Errorf("%w: %q: %w", ErrBadFileID, s, err)
	}
	return FileID{Identity: Identity{Dev: d, Ino: i}, Head: h.Sum}, nil
}

// parseDecimal parses an unsigned decimal number written as strconv
// formats it: no sign, no leading zero (but "0" itself).
func parseDecimal(s string) (uint64, error) {
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", s)
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	return strconv.ParseUint(s, 10, 64)
}

// ParseFingerprint returns the fingerprint of n bytes whose hash is hex,
// as [Fingerprint.String] formats it (at most 16 lower-case hex digits; the
// checkpoint's own fields are read leniently about leading zeros).
func ParseFingerprint(n int, hex string) (Fingerprint, error) {
	if n < 0 {
		return Fingerprint{}, fmt.Errorf("fingerprint of %d bytes", n)
	}
	if hex == "" || len(hex) > 16 {
		return Fingerprint{}, fmt.Errorf("fingerprint %q is not 1 to 16 hex digits", hex)
	}
	for _, c := range []byte(hex) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return Fingerprint{}, fmt.Errorf("fingerprint %q is not lower-case hex", hex)
		}
	}
	sum, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return Fingerprint{}, fmt.Errorf("fingerprint %q: %w", hex, err)
	}
	return Fingerprint{Len: n, Sum: sum}, nil
}

// Entry returns a checkpoint entry for the content id names, whose first
// bytes now have fingerprint head (grown since the identity was taken, up
// to [FingerprintSize]): its ID, Dev, Ino, FPLen and FP are set, the
// position fields are left to the caller.
func (id FileID) Entry(head Fingerprint) checkpoint.Entry {
	return checkpoint.Entry{ID: id.String(), Dev: id.Dev, Ino: id.Ino, FPLen: head.Len, FP: head.String()}
}

// FromEntry returns the identity of the content a checkpoint entry names
// and the fingerprint of its first bytes, the inverse of [FileID.Entry].
// An entry whose id is not a file identity, names another device or inode
// than its dev and ino, or whose fp is not a hash, gives an error matching
// [ErrBadFileID]: such an entry cannot be trusted to name the file found
// under that inode.
func FromEntry(e checkpoint.Entry) (FileID, Fingerprint, error) {
	id, err := ParseFileID(e.ID)
	if err != nil {
		return FileID{}, Fingerprint{}, err
	}
	if id.Dev != e.Dev || id.Ino != e.Ino {
		return FileID{}, Fingerprint{}, fmt.Errorf("%w: id %q names another file than dev %d, ino %d", ErrBadFileID, e.ID, e.Dev, e.Ino)
	}
	head, err := ParseFingerprint(e.FPLen, e.FP)
	if err != nil {
		return FileID{}, Fingerprint{}, fmt.Errorf("%w: entry %q: %w", ErrBadFileID, e.ID, err)
	}
	return id, head, nil
}
