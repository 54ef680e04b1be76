// Package pipeline is the loglet forwarder's core: it discovers the log
// files of a directory, reads each from its checkpoint, turns lines into
// records (package parse), hands them in batches to a sink, and advances each
// file's checkpoint only over what the sink has acknowledged.
//
// DESIGN.md beside this file describes the tailing and checkpoint semantics.
package pipeline
