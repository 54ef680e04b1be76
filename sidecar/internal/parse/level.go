package parse

import "bytes"

// The normalised levels, from the least to the most severe.
var Levels = []string{"trace", "debug", "info", "warn", "error", "fatal"}

// NormalizeLevel maps a lower-cased level name to one of [Levels]: the
// names of logrus, zap, slog, log4j/logback, java.util.logging, Python,
// .NET (Microsoft.Extensions.Logging, Serilog) and syslog. It reports false
// for a name it does not know.
//
//	trace: trace trc trce vrb verbose finer finest
//	debug: debug dbg dbug fine
//	info:  info inf information informational notice
//	warn:  warn warning wrn
//	error: error err eror fail severe dpanic
//	fatal: fatal ftl critical crit panic alert emerg emergency
func NormalizeLevel(lower []byte) (string, bool) {
	switch string(lower) {
	case "trace", "trc", "trce", "vrb", "verbose", "finer", "finest":
		return "trace", true
	case "debug", "dbg", "dbug", "fine":
		return "debug", true
	case "info", "inf", "information", "informational", "notice":
		return "info", true
	case "warn", "warning", "wrn":
		return "warn", true
	case "error", "err", "eror", "fail", "severe", "dpanic":
		return "error", true
	case "fatal", "ftl", "critical", "crit", "panic", "alert", "emerg", "emergency":
		return "fatal", true
	}
	return "", false
}

// plainLevel finds the level in the first line of a plain-text record,
// where it is unambiguous: an upper-case level word (ERROR, WARN, INFO,
// WARNING, Serilog's ERR, ...; bare, in brackets or before a colon) as the
// first token of the line, or within the four tokens after its leading
// timestamp (logback, log4j2, Spring Boot, Python logging, Serilog); a
// lower-case level word and a colon right after the timestamp (winston's
// "error: "); or .NET's console prefix ("fail: ", "warn: ", ...) opening
// the line. afterTime tells that b
// follows a timestamp. It returns the word as written.
func plainLevel(b []byte, afterTime bool) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if !afterTime && len(b) > 5 && b[4] == ':' && b[5] == ' ' {
		switch string(b[:4]) {
		case "trce", "dbug", "info", "warn", "fail", "crit":
			return b[:4]
		}
	}
	tokens := 1
	if afterTime {
		tokens = 4
	}
	for i := range tokens {
		for len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
		if len(b) == 0 {
			return nil
		}
		end := bytes.IndexByte(b, ' ')
		if end < 0 {
			end = len(b)
		}
		tok := b[:end]
		b = b[end:]
		if i == 0 && afterTime && isLowerLevelColon(tok) {
			return tok[:len(tok)-1]
		}
		if len(tok) > 2 && tok[0] == '[' && tok[len(tok)-1] == ']' {
			tok = tok[1 : len(tok)-1]
		}
		if i := bytes.IndexByte(tok, ':'); i > 0 {
			tok = tok[:i] // Python's default ERROR:root:message
		}
		if isUpperLevel(tok) {
			return tok
		}
	}
	return nil
}

func isUpperLevel(tok []byte) bool {
	switch string(tok) {
	case "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "FATAL", "CRITICAL", "SEVERE",
		"FINE", "FINER", "FINEST", "PANIC", "VERBOSE",
		"VRB", "DBG", "INF", "WRN", "ERR", "FTL": // Serilog's [ERR]
		return true
	}
	return false
}

// isLowerLevelColon matches a lower-case level word and a colon, as
// winston's default format writes it after the time ("error: ...").
func isLowerLevelColon(tok []byte) bool {
	switch string(tok) {
	case "trace:", "debug:", "info:", "warn:", "warning:", "error:", "fatal:", "critical:":
		return true
	}
	return false
}
