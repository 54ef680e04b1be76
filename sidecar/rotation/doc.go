// Package rotation is the one definition of a rotated log file's name, shared
// by the loglet sidecar (which reads rotations, deletes them once shipped with
// LOGLET_DELETE_SHIPPED, and decides which files on a shared hostPath belong
// to its pod) and by applib (which names its own rotations).
//
// It is a public package, not an internal one, because applib, outside
// sidecar/, imports it.
//
// A rotation of the active file "<stem><ext>" (for example "web-1.log") is
// one of:
//
//	<active><sep><tag>[.<compression>]   web-1.log.1, web-1.log-20261121, web-1.log.1.gz
//	<stem><sep><tag><ext>[.<compression>] web-1-20261121T000000.000000000Z.log, web-1-3.log, web-1_3.log
//
// where <sep> is '.', '-' or '_', and <tag> is either an index (one to six
// digits) or a time stamp (at least eight digits, starting with four, and
// otherwise only the characters "-_.:+TZ"). Index and time stamp are what
// logrotate, applib, lumberjack, logback, log4j and Python's handlers write.
//
// The tag is deliberately narrow, so that a pod's name followed by a separator
// and an ordinal is not taken for another pod's rotation: "web-12.log" is no
// rotation of "web-1.log" ('2' is no separator), and
// "web-1-20261121T000000.000000000Z.log" is no rotation of "web.log" ("1-2026…"
// is neither an index nor a time stamp). One ambiguity is left: on a shared
// directory, "web-1.log" is both pod web-1's active file and index rotation 1 of
// a pod named exactly "web". Give such pods their own directories.
package rotation
