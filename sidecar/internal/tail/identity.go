package tail

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"syscall"
)

// FingerprintSize is how many leading bytes a full fingerprint covers.
const FingerprintSize = 1024

// Identity is a file's device and inode numbers.
type Identity struct {
	Dev, Ino uint64
}

// String formats the identity as "dev:inode".
func (id Identity) String() string { return fmt.Sprintf("%d:%d", id.Dev, id.Ino) }

// IdentityOf returns the identity of the file fi describes.
func IdentityOf(fi os.FileInfo) (Identity, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Identity{}, false
	}
	return Identity{Dev: uint64(st.Dev), Ino: st.Ino}, true
}

// Links returns the number of hard links of the file fi describes; zero
// means the file was deleted while open.
func Links(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// Fingerprint is a hash of a file's first Len bytes.
type Fingerprint struct {
	Len int
	Sum uint64
}

// String formats the hash as 16 hex digits.
func (fp Fingerprint) String() string { return fmt.Sprintf("%016x", fp.Sum) }

// TailSize is how many bytes before a read position a tail fingerprint
// covers: enough to tell a file rewritten in place (truncated and refilled
// past the old position between two reads) from the one that was read.
const TailSize = 64

// ReadFingerprint hashes the first min(n, size) bytes of f, reading with
// ReadAt so f's offset is untouched.
func ReadFingerprint(f io.ReaderAt, n int) (Fingerprint, error) {
	return HashRange(f, 0, n)
}

// HashRange hashes up to n bytes of f from offset off (fewer where the file
// ends first), reading with ReadAt.
func HashRange(f io.ReaderAt, off int64, n int) (Fingerprint, error) {
	var small [TailSize]byte
	buf := small[:]
	if n > len(small) {
		buf = make([]byte, n)
	}
	got, err := f.ReadAt(buf[:n], off)
	if err != nil && !errors.Is(err, io.EOF) {
		return Fingerprint{}, fmt.Errorf("read fingerprint: %w", err)
	}
	h := fnv.New64a()
	h.Write(buf[:got])
	return Fingerprint{Len: got, Sum: h.Sum64()}, nil
}

// FingerprintOf hashes b, bytes already read.
func FingerprintOf(b []byte) Fingerprint {
	h := fnv.New64a()
	h.Write(b)
	return Fingerprint{Len: len(b), Sum: h.Sum64()}
}

// Matches reports whether f still begins with the bytes fp was taken from:
// the comparison is of a prefix, so a file that grew still matches.
func (fp Fingerprint) Matches(f io.ReaderAt) (bool, error) {
	return fp.MatchesAt(f, 0)
}

// MatchesAt reports whether the fp.Len bytes of f from off are the bytes fp
// was taken from.
func (fp Fingerprint) MatchesAt(f io.ReaderAt, off int64) (bool, error) {
	got, err := HashRange(f, off, fp.Len)
	if err != nil {
		return false, err
	}
	return got == fp, nil
}

// TailAt returns the tail fingerprint of the bytes just before end: the
// last min(TailSize, end) of them.
func TailAt(f io.ReaderAt, end int64) (Fingerprint, error) {
	n := int(min(int64(TailSize), end))
	return HashRange(f, end-int64(n), n)
}
