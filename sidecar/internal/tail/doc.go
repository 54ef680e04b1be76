// Package tail finds log files and reads complete lines from them.
//
// A file is identified by its (device, inode) pair plus a [Fingerprint] of
// its first bytes, so a renamed file is recognised as the same file and a
// reused inode, or a file truncated and rewritten, as a different one. A
// [FileID] is that identity as records and checkpoints carry it: its String
// is the loglet-file header, and it makes and reads the identity fields of a
// checkpoint entry.
//
// [Scan] lists the files of a directory that match the include pattern and
// not the exclude pattern; [Watch] runs github.com/radovskyb/watcher over the
// directory and signals when files appear, vanish or are renamed, so the
// caller rescans. A [Reader] reads one open file from an offset; it is
// pulled ([Reader.Fill] reads, [Reader.Next] returns the complete lines with
// their byte ranges), and waiting for more is left to the caller. A last
// line with no newline yet is held back, and a line longer than the limit
// is cut and marked.
//
// See sidecar/internal/pipeline/DESIGN.md for how rotation, truncation and
// deletion are handled on top of these parts.
package tail
