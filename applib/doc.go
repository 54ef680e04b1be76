// Package applib gives a Go service a logger whose records the loglet
// sidecar ships to Kafka with typed fields: logrus or log/slog, one JSON
// line per record, written to <LOGLET_LOG_DIR>/<pod>.log in the volume the
// sidecar reads, rotated by size so the volume stays bounded.
//
// # Setup
//
// In main:
//
//	out, err := applib.OpenEnv() // <LOGLET_LOG_DIR>/<pod>.log, or stdout
//	if err != nil { ... }
//	defer out.Close()
//	log := applib.New(out)       // *logrus.Logger; or applib.NewSlog(out)
//
// OpenEnv reads LOGLET_LOG_DIR (unset: write to stdout and create no file,
// as on a laptop or in a unit test), POD_NAME (else HOSTNAME) for the file
// name, LOGLET_MAX_FILE_BYTES (default 100 MiB) and LOGLET_MAX_FILES
// (rotated files kept, default 5), and LOGLET_STATE_DIR (the sidecar's
// checkpoint state, default <LOGLET_LOG_DIR>/.loglet). Open takes the same
// settings as a Config. A logrus logger and a slog logger may share one
// Output.
//
// # Retention and a full volume
//
// A rotated file is deleted only once the loglet sidecar's checkpoint
// state says every byte of it is shipped; with no state directory (no
// sidecar) the oldest beyond LOGLET_MAX_FILES are deleted and each deletion
// is reported on stderr. When LOGLET_MAX_FILES rotated files all wait for
// loglet and the active file is full, or the kernel refuses a write
// (ENOSPC), records are dropped: never blocking or failing the caller,
// counted in [Output.Stats], reported on stderr at most every 10 s, and
// summed up in one record in the log once writing works again. See
// [Output] and README.md for the emptyDir sizeLimit to set.
//
// # Records
//
// Each record is one line holding one JSON object, written with a single
// write: the keys time, level, msg, file and func come first in that order,
// then the fields sorted by key:
//
//	{"time":"2020-03-02T09:22:24.000000000Z","level":"info","msg":"sample log","file":"main.go:16","func":"main.main","count":0,"latency_ms":12.5,"text_sample":"fooooo"}
//
// time is RFC 3339 in UTC with nine fractional digits, whatever the local
// time zone. level is named as logrus names it (debug, info, warning,
// error, fatal, panic; slog levels are mapped to these). file is the
// caller's file base name and line, func the caller's function. A field
// whose key is one of these five is written as "fields.<key>", as logrus
// does. This is plain logrus JSON: any reader of logrus' JSONFormatter
// output reads it.
//
// # Field types
//
// A field's JSON type depends only on its Go type, never on its value, so a
// metric keeps its type in the search index from one record to the next:
//
//	integers (int, uint8, named types...)  integer          42
//	float32, float64                       number with a    2.0, 0.25, 1e-07
//	                                       fraction or an
//	                                       exponent; NaN and
//	                                       ±Inf are null
//	time.Duration                          float ms         1.5 (for 1500µs)
//	time.Time                              UTC string       "2020-03-02T09:22:24.000000000Z"
//	string, bool                           string, boolean
//	error                                  its message
//	anything else                          as encoding/json writes it
//
// The helpers Int, Float, Duration and String make typed fields that serve
// both APIs: pass them to a slog logger directly, or to logrus through Fields.
package applib
