package applib

import (
	"bytes"
	"io"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
)

// New returns a logrus logger at level Info that writes each record to w
// as one JSON line (see the package documentation for the record), with
// the caller's file and function. w is usually an *Output; nil means
// os.Stdout. Other writers must be safe for concurrent use if they are
// shared with other loggers.
//
// The logger's formatter is applib's own; replacing it with SetFormatter
// gives up the record shape and the stable field types.
func New(w io.Writer) *logrus.Logger {
	if w == nil {
		w = os.Stdout
	}
	l := logrus.New()
	l.Out = w
	l.Formatter = formatter{}
	l.ReportCaller = true
	return l
}

// formatter is a logrus.Formatter writing applib's record. It is stateless
// and safe for concurrent use.
type formatter struct{}

// Format implements logrus.Formatter.
func (formatter) Format(entry *logrus.Entry) ([]byte, error) {
	e := getEncoder()
	defer putEncoder(e)
	for k, v := range entry.Data {
		e.addAny(k, v)
	}
	var file, fn string
	var line int
	if c := entry.Caller; c != nil {
		file, line, fn = baseName(c.File), c.Line, c.Function
	}
	b := entry.Buffer
	if b == nil {
		b = new(bytes.Buffer)
	}
	// Encode straight into the buffer's free space; Write then copies in place.
	b.Write(e.appendRecord(b.AvailableBuffer(), entry.Time, entry.Level.String(), entry.Message, file, line, fn))
	return b.Bytes(), nil
}

// baseName is the last element of a slash-separated path, as runtime
// reports source files on every platform.
func baseName(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}
