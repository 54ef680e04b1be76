package parse

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Builtin is a set of built-in multi-line joiners (LOGLET_MULTILINE).
type Builtin uint8

// The built-in joiners. Each recognises only lines that a runtime writes
// inside a trace, so none of them joins unrelated records.
const (
	// JoinJava joins Java (and other JVM) exceptions: "Caused by:",
	// "Suppressed:", "... N more", and an unindented exception line
	// (java.lang.IllegalStateException: boom) right after a timestamped
	// header line such as logback's or log4j2's.
	JoinJava Builtin = 1 << iota
	// JoinPython joins Python tracebacks through their exception line
	// (ValueError: boom), chained tracebacks ("During handling of the above
	// exception, another exception occurred:") included, and a traceback
	// right after a timestamped header (logging.exception).
	JoinPython
	// JoinGo joins Go panics, fatal errors and goroutine dumps (goroutine N
	// [...]:, frames, "created by", blank lines between goroutines), up to
	// their last frame: a following line that is no part of a trace starts
	// a new record. A goroutine dump right after a timestamped header
	// (net/http's "http: panic serving") joins it.
	JoinGo
	// JoinNode joins Node.js Error stacks: an unindented Error line right
	// after a timestamped header, and the "{ ... }" block of the error's
	// properties that util.inspect prints after the frames.
	JoinNode
	// JoinDotNet joins .NET exceptions: "Unhandled exception." and an
	// unindented exception line (System.InvalidOperationException: boom)
	// right after a timestamped header. The frames ("   at ...", "--- End of
	// inner exception stack trace ---") are indented.
	JoinDotNet

	// JoinAll is every built-in joiner, the default.
	JoinAll = JoinJava | JoinPython | JoinGo | JoinNode | JoinDotNet
)

var builtinNames = []struct {
	name string
	b    Builtin
}{{"java", JoinJava}, {"python", JoinPython}, {"go", JoinGo}, {"node", JoinNode}, {"dotnet", JoinDotNet}}

// ErrMultiline is wrapped by every error ParseBuiltins and NewMultiline return.
var ErrMultiline = errors.New("bad multiline rule")

// ParseBuiltins parses a LOGLET_MULTILINE value: a comma-separated list of
// java, python, go, node and dotnet, "all", or "none".
func ParseBuiltins(list string) (Builtin, error) {
	var b Builtin
	for item := range strings.SplitSeq(list, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		switch item {
		case "":
			continue
		case "all":
			b |= JoinAll
			continue
		case "none":
			continue
		}
		found := false
		for _, n := range builtinNames {
			if n.name == item {
				b |= n.b
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("%w: unknown joiner %q (want java, python, go, node, dotnet, all or none)", ErrMultiline, item)
		}
	}
	return b, nil
}

// String lists the joiners in b as ParseBuiltins reads them.
func (b Builtin) String() string {
	var names []string
	for _, n := range builtinNames {
		if b&n.b != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

// Multiline is the rule set of a Joiner.
type Multiline struct {
	// Builtins are the built-in joiners that are on.
	Builtins Builtin
	// Start and Continue are the user's rule (LOGLET_MULTILINE_START and
	// LOGLET_MULTILINE_CONTINUE), both set or both nil: a line matching
	// Start begins a record, and the lines after it that match Continue
	// join it. A line matching Start always begins a record, whatever the
	// built-in joiners would do with it.
	Start, Continue *regexp.Regexp
}

// DefaultMultiline is the rule set of a Joiner whose Rules are nil: every
// built-in joiner, no user rule.
var DefaultMultiline = &Multiline{Builtins: JoinAll}

// NewMultiline compiles a rule set: builtins as ParseBuiltins reads them,
// and the user's RE2 start and continuation patterns (both or neither).
func NewMultiline(builtins, start, cont string) (*Multiline, error) {
	b, err := ParseBuiltins(builtins)
	if err != nil {
		return nil, err
	}
	m := &Multiline{Builtins: b}
	if (start == "") != (cont == "") {
		return nil, fmt.Errorf("%w: a start pattern and a continuation pattern go together", ErrMultiline)
	}
	if start == "" {
		return m, nil
	}
	if m.Start, err = regexp.Compile(start); err != nil {
		return nil, fmt.Errorf("%w: start pattern: %w", ErrMultiline, err)
	}
	if m.Continue, err = regexp.Compile(cont); err != nil {
		return nil, fmt.Errorf("%w: continuation pattern: %w", ErrMultiline, err)
	}
	return m, nil
}

// Joiner groups lines into records: a plain-text line followed by its
// continuation lines becomes one record. Indented lines always continue the
// record before them; the built-in joiners (see [Builtin]) and the user's
// rule (see [Multiline]) add the unindented lines of the traces they know.
// JSON lines are never joined: they are records on their own, and so is
// every line of any format that no continuation follows.
//
// Blank lines inside a trace (between a Go panic and its goroutines, before
// a chained Python traceback) are held until the next line shows whether
// the trace goes on; when it does not, they are consumed on their own, as
// every blank line is.
//
// The Joiner only holds a plain-text record back until the next line shows
// whether it continues; the caller releases it when no line arrives within
// its flush timeout, and at the end of a file.
//
// It is pulled: [Joiner.Push] feeds a line, and [Joiner.Next] then returns,
// one at a time, the records that line finished (none, one, or a few: the
// record held back, the blank lines held after it, and the line itself
// when it is a record on its own) until it returns nil.
// [Joiner.Release] lets the held-back record go, to be returned by Next.
// ([Joiner.Add] and [Joiner.Flush] are the same with every record handed
// to a function.)
//
// Concurrency: not safe for concurrent use; one per file, used by one
// goroutine.
type Joiner struct {
	// MaxBytes caps a joined record; a continuation line that would pass it
	// starts a new record instead. Zero means no cap.
	MaxBytes int
	// Rules are the joining rules; nil means DefaultMultiline.
	Rules *Multiline

	buf       []byte
	start     int64
	end       int64
	lines     int
	truncated bool
	pending   bool

	header bool      // the first line starts with a timestamp or a level (a log line's header)
	mode   traceMode // the trace the record holds, if any
	brace  bool      // the last line opened a "{" block (Node.js error properties)

	blanks               int    // blank lines held after the record
	held                 []byte // their text, each after a '\n'
	blankStart, blankEnd int64

	// Finished records Next has yet to return, in order: ready[readyAt:n],
	// then more[moreAt:] (used only when ready is full: a caller that
	// pushes without taking every record first).
	ready      [4]Joined
	n, readyAt int
	more       []Joined
	moreAt     int
	spare      []byte // the other text buffer: a released record's text stays here while buf takes the next
}

// Joined is a record the Joiner finished: its text, the offset of its first
// byte, the offset just past its last line's newline, its line count and
// whether a line of it was truncated. A Joined with zero Lines and nil Text
// is a run of blank lines, consumed without a record. Next returns it in
// the Joiner's memory: it and its Text are valid until the next Push or
// Release, and its Text no longer than the line it came from.
type Joined struct {
	Text       []byte
	Start, End int64
	Lines      int
	Truncated  bool
}

type traceMode uint8

const (
	modeNone        traceMode = iota
	modeUser                  // started by the user's start pattern
	modeGo                    // inside a Go panic or goroutine dump
	modePython                // inside a Python traceback, before its exception line
	modePythonEnd             // after a Python exception line: a chained traceback may follow
	modePythonChain           // after "During handling ...": its traceback follows
	modeJava                  // inside a Java or .NET exception
)

// Emit receives a finished record: its text, the offset of its first byte,
// the offset just past its last line's newline, its line count and whether a
// line of it was truncated. text is only valid during the call. A call with
// zero lines and nil text is a run of blank lines, consumed without a record.
type Emit func(text []byte, start, end int64, lines int, truncated bool)

func (j *Joiner) rules() *Multiline {
	if j.Rules == nil {
		return DefaultMultiline
	}
	return j.Rules
}

// Add feeds one line (without its newline) that spans [start, end) of the
// file, emitting the records it completes: Push, then Next until it returns
// nil.
func (j *Joiner) Add(line []byte, start, end int64, truncated bool, emit Emit) {
	j.Push(line, start, end, truncated)
	j.drain(emit)
}

// drain hands every finished record to emit.
func (j *Joiner) drain(emit Emit) {
	for r := j.Next(); r != nil; r = j.Next() {
		emit(r.Text, r.Start, r.End, r.Lines, r.Truncated)
	}
}

// Next returns the next record finished by the last Push or Release, and
// nil when there is none left.
func (j *Joiner) Next() *Joined {
	if j.readyAt < j.n {
		j.readyAt++
		return &j.ready[j.readyAt-1]
	}
	if j.moreAt < len(j.more) {
		j.moreAt++
		return &j.more[j.moreAt-1]
	}
	j.n, j.readyAt, j.more, j.moreAt = 0, 0, j.more[:0], 0
	return nil
}

// finished queues a record for Next.
func (j *Joiner) finished(text []byte, start, end int64, lines int, truncated bool) {
	if j.n < len(j.ready) {
		r := &j.ready[j.n]
		r.Text, r.Start, r.End, r.Lines, r.Truncated = text, start, end, lines, truncated
		j.n++
		return
	}
	j.more = append(j.more, Joined{Text: text, Start: start, End: end, Lines: lines, Truncated: truncated})
}

// Push feeds one line (without its newline) that spans [start, end) of the
// file; Next then returns the records it finished. Take them (Next until it
// returns nil) before the next Push or Release: their text may live in a
// buffer the Joiner reuses.
func (j *Joiner) Push(line []byte, start, end int64, truncated bool) {
	blank := len(bytes.TrimSpace(line)) == 0
	if j.pending {
		switch {
		case blank && j.holdsBlanks() && j.fits(j.heldLen()+len(line)+1):
			if j.blanks == 0 {
				j.blankStart = start
				j.held = j.held[:0]
			}
			j.held = append(j.held, '\n')
			j.held = append(j.held, line...)
			j.blanks++
			j.blankEnd = end
			j.truncated = j.truncated || truncated
			return
		case !blank && j.continues(line) && j.fits(j.heldLen()+len(line)+1):
			if j.blanks > 0 {
				j.buf = append(j.buf, j.held...)
			}
			j.buf = append(j.buf, '\n')
			j.buf = append(j.buf, line...)
			j.end = end
			j.lines += j.blanks + 1
			j.blanks = 0
			j.truncated = j.truncated || truncated
			if j.rules().Builtins&JoinNode != 0 && isIndented(line) && line[len(line)-1] == '{' {
				j.brace = true
			}
			return
		}
	}
	if j.pending {
		j.Release()
	}
	if blank {
		// A blank line is no record; it is consumed with its neighbours.
		j.finished(nil, start, end, 0, false)
		return
	}
	if firstNonSpace(line) == '{' {
		j.finished(line, start, end, 1, truncated)
		return
	}
	j.buf = append(j.buf[:0], line...)
	j.start, j.end, j.lines, j.truncated, j.pending = start, end, 1, truncated, true
	j.brace = false
	j.header = startsWithTime(line) || plainLevel(line, false) != nil
	j.mode = j.startMode(line)
}

// heldLen is the length of the blank lines held after the record.
func (j *Joiner) heldLen() int {
	if j.blanks == 0 {
		return 0
	}
	return len(j.held)
}

func (j *Joiner) fits(extra int) bool {
	return j.MaxBytes == 0 || len(j.buf)+extra <= j.MaxBytes
}

// Pending reports whether a record is held back, and where it starts.
func (j *Joiner) Pending() (start int64, ok bool) { return j.start, j.pending }

// Flush emits the held-back record, if any, and the blank lines held after
// it: Release, then Next until it returns nil.
func (j *Joiner) Flush(emit Emit) {
	j.Release()
	j.drain(emit)
}

// Release lets the held-back record go, if there is one, and the blank
// lines held after it: Next returns them.
func (j *Joiner) Release() {
	if !j.pending {
		return
	}
	j.pending = false
	j.finished(j.buf, j.start, j.end, j.lines, j.truncated)
	j.buf, j.spare = j.spare[:0], j.buf // the next record must not overwrite this one's text
	if j.blanks > 0 {
		j.blanks = 0
		j.finished(nil, j.blankStart, j.blankEnd, 0, false)
	}
}

// startMode is the trace a record's first line begins.
func (j *Joiner) startMode(line []byte) traceMode {
	r := j.rules()
	switch {
	case r.Start != nil && r.Start.Match(line):
		return modeUser
	case r.Builtins&JoinGo != 0 && (hasPrefix(line, "panic: ") || hasPrefix(line, "fatal error: ") ||
		isGoroutineHeader(line) || isGoSignalDump(line)):
		return modeGo
	case r.Builtins&JoinPython != 0 && isPythonTraceback(line):
		return modePython
	}
	return modeNone
}

// holdsBlanks reports whether a blank line may belong to the held record:
// Go dumps separate goroutines by blank lines, and chained Python
// tracebacks are separated from each other by them.
func (j *Joiner) holdsBlanks() bool {
	switch j.mode {
	case modeGo, modePythonEnd, modePythonChain:
		return true
	}
	return false
}

// continues reports whether line (not blank) joins the held record, and
// updates the trace state when it does.
func (j *Joiner) continues(line []byte) bool {
	r := j.rules()
	if j.mode == modeUser {
		return r.Continue.Match(line)
	}
	if r.Start != nil && r.Start.Match(line) {
		return false
	}
	afterBlank := j.blanks > 0
	switch j.mode {
	case modeGo:
		if afterBlank {
			return isGoroutineHeader(line) || hasPrefix(line, "runtime stack:")
		}
		return isIndented(line) || isGoTraceLine(line)
	case modePython:
		if isIndented(line) {
			return true
		}
		if isPythonExceptionLine(line) {
			j.mode = modePythonEnd
			return true
		}
		return false
	case modePythonEnd:
		if !afterBlank && isIndented(line) {
			return true
		}
		if hasPrefix(line, "During handling of the above exception, another exception occurred:") ||
			hasPrefix(line, "The above exception was the direct cause of the following exception:") {
			j.mode = modePythonChain
			return true
		}
		return false
	case modePythonChain:
		if isPythonTraceback(line) {
			j.mode = modePython
			return true
		}
		return false
	}
	if afterBlank {
		return false
	}
	if isIndented(line) {
		return true
	}
	if j.brace && len(line) > 0 && line[0] == '}' {
		j.brace = false
		return true
	}
	if r.Builtins&JoinJava != 0 && (hasPrefix(line, "Caused by: ") || hasPrefix(line, "Suppressed: ") ||
		hasPrefix(line, "Wrapped by: ") || hasPrefix(line, "... ") && bytes.HasSuffix(line, []byte(" more"))) {
		return true
	}
	// What follows applies only to the line right after a header (a line
	// that starts with a timestamp or a level, such as Python's
	// ERROR:root:...): the exception or trace the header announces.
	if j.lines != 1 || !j.header {
		return false
	}
	switch {
	case r.Builtins&(JoinJava|JoinDotNet) != 0 && isClassException(line):
		j.mode = modeJava
		return true
	case r.Builtins&JoinJava != 0 && hasPrefix(line, `Exception in thread "`):
		j.mode = modeJava
		return true
	case r.Builtins&JoinDotNet != 0 && hasPrefix(line, "Unhandled exception. "):
		j.mode = modeJava
		return true
	case r.Builtins&JoinNode != 0 && isNodeError(line):
		return true
	case r.Builtins&JoinPython != 0 && isPythonTraceback(line):
		j.mode = modePython
		return true
	case r.Builtins&JoinGo != 0 && isGoroutineHeader(line):
		j.mode = modeGo
		return true
	}
	return false
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

func isIndented(line []byte) bool { return len(line) > 0 && (line[0] == ' ' || line[0] == '\t') }

// startsWithTime reports whether line begins with a date and time, or a
// time of day (logback's and log4j2's default HH:mm:ss.SSS).
func startsWithTime(line []byte) bool {
	if _, n := parseTimestamp(line, nil); n > 0 {
		return true
	}
	_, n := parseClock(line)
	return n > 0
}

// isGoroutineHeader matches "goroutine 1 [running]:" and the longer form
// of newer runtimes ("goroutine 1 gp=0x... m=0 mp=0x... [running]:").
func isGoroutineHeader(line []byte) bool {
	const p = "goroutine "
	if !hasPrefix(line, p) || len(line) <= len(p) || !isDigit(line[len(p)]) {
		return false
	}
	return bytes.HasSuffix(line, []byte("]:")) && bytes.IndexByte(line, '[') > 0
}

// isGoSignalDump matches the first line of a dump on a signal (SIGQUIT: quit).
func isGoSignalDump(line []byte) bool {
	if !hasPrefix(line, "SIG") {
		return false
	}
	i := 3
	for i < len(line) && line[i] >= 'A' && line[i] <= 'Z' {
		i++
	}
	return i > 3 && hasPrefix(line[i:], ": ")
}

// isGoTraceLine matches the unindented lines of a Go trace other than a
// goroutine header: frames (main.main(), net/http.(*conn).serve(0xc0...),
// panic({...})), "created by ...", "[signal ...", "runtime stack:", the
// register dump after a signal (PC=..., rax 0x...) and "...additional
// frames elided...". A nested panic is indented ("\tpanic: "); an
// unindented "panic: " is the next crash, a record of its own.
func isGoTraceLine(line []byte) bool {
	switch {
	case hasPrefix(line, "created by "), hasPrefix(line, "[signal "), hasPrefix(line, "runtime stack:"),
		hasPrefix(line, "...additional frames elided..."), hasPrefix(line, "PC="),
		hasPrefix(line, "goroutine ") && isGoroutineHeader(line):
		return true
	}
	if isGoRegister(line) {
		return true
	}
	// A frame: a function name without spaces, then its arguments.
	open := bytes.IndexByte(line, '(')
	if open <= 0 || line[len(line)-1] != ')' {
		return false
	}
	name := line[:open]
	if bytes.IndexAny(name, " \t") >= 0 {
		return false
	}
	return bytes.IndexByte(name, '.') > 0 || string(name) == "panic"
}

// isGoRegister matches a register line of a signal dump: "rax    0x0".
func isGoRegister(line []byte) bool {
	i := 0
	for i < len(line) && (line[i] >= 'a' && line[i] <= 'z' || isDigit(line[i])) {
		i++
	}
	if i == 0 || i > 4 || i >= len(line) || line[i] != ' ' {
		return false
	}
	rest := bytes.TrimLeft(line[i:], " ")
	return hasPrefix(rest, "0x") && bytes.IndexByte(rest, ' ') < 0
}

func isPythonTraceback(line []byte) bool {
	return hasPrefix(line, "Traceback (most recent call last):")
}

// isPythonExceptionLine matches a traceback's last line: an exception name,
// possibly dotted, alone or followed by ": message" (ValueError: boom,
// KeyboardInterrupt, requests.exceptions.HTTPError: 404).
func isPythonExceptionLine(line []byte) bool {
	i := 0
	for i < len(line) && (isIdentByte(line[i]) || line[i] == '.') {
		i++
	}
	if i == 0 || isDigit(line[0]) || line[0] == '.' {
		return false
	}
	return i == len(line) || line[i] == ':'
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_'
}

// isClassException matches a JVM or .NET exception line: a dotted class
// name whose last part ends in Exception, Error or Throwable, alone or
// followed by ": message" (java.lang.IllegalStateException: boom,
// System.InvalidOperationException: boom, com.example.Outer$InnerError).
func isClassException(line []byte) bool {
	i, dots, last := 0, 0, 0
	for i < len(line) && (isIdentByte(line[i]) || line[i] == '.' || line[i] == '$') {
		if line[i] == '.' {
			dots++
			last = i + 1
		}
		i++
	}
	if dots == 0 || i == 0 || !(i == len(line) || line[i] == ':') {
		return false
	}
	name := line[last:i]
	if j := bytes.LastIndexByte(name, '$'); j >= 0 {
		name = name[j+1:]
	}
	for _, s := range []string{"Exception", "Error", "Throwable"} {
		if bytes.HasSuffix(name, []byte(s)) {
			return true
		}
	}
	return false
}

// isNodeError matches the first line of a Node.js error's stack: an error
// class (Error, TypeError, AbortError, ...) and ": message", or the class
// alone.
func isNodeError(line []byte) bool {
	i := 0
	for i < len(line) && isIdentByte(line[i]) {
		i++
	}
	if i == 0 || line[0] < 'A' || line[0] > 'Z' || !bytes.HasSuffix(line[:i], []byte("Error")) {
		return false
	}
	return i == len(line) || hasPrefix(line[i:], ": ") || hasPrefix(line[i:], " [")
}
