// Package checkpoint persists how far each file has been delivered.
//
// The state is one JSON document, versioned, in the state directory
// (LOGLET_STATE_DIR, on the shared volume so it survives a restart of the
// sidecar container). It is written atomically: to a temporary file, fsynced,
// renamed over the old one, and the directory fsynced. A reader therefore
// sees the old state or the new one, never a torn one.
//
// An offset in the state is a promise that every record before it was
// acknowledged by the sink: the pipeline only ever saves the end of the
// longest acknowledged prefix of a file's records. See the design note in
// sidecar/internal/pipeline/DESIGN.md.
package checkpoint
