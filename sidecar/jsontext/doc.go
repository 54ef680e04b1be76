// Package jsontext appends JSON text to byte slices without reflection.
//
// The record encoder, the pod metadata encoder and applib's log encoder
// build their output by appending to reused buffers, so the per-line path
// allocates nothing. It is the one definition of loglet's JSON string
// escaping, outside sidecar/internal so that applib, which apps import, can
// use it; it imports only the standard library. Every
// function here produces valid JSON whatever its input: invalid UTF-8 becomes
// U+FFFD and control characters are escaped.
package jsontext
