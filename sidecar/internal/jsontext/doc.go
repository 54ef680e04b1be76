// Package jsontext appends JSON text to byte slices without reflection.
//
// The record encoder and the pod metadata encoder build their output by
// appending to reused buffers, so the per-line path allocates nothing. Every
// function here produces valid JSON whatever its input: invalid UTF-8 becomes
// U+FFFD and control characters are escaped.
package jsontext
