package parse

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds the nesting of JSON values, so hostile input cannot
// exhaust the stack.
const maxDepth = 128

// Value kinds returned by scanValue.
const (
	kindString byte = 's'
	kindNumber byte = 'n'
	kindTrue   byte = 't'
	kindFalse  byte = 'f'
	kindNull   byte = 'z'
	kindObject byte = 'o'
	kindArray  byte = 'a'
)

// syntaxError describes invalid JSON input; its text goes into the record's
// parse_error.
type syntaxError struct {
	msg    string
	offset int
}

func (e *syntaxError) Error() string { return fmt.Sprintf("json: %s at offset %d", e.msg, e.offset) }

var errTooDeep = errors.New("nesting too deep")

// scanner validates JSON and finds value boundaries without decoding.
// The zero value is ready; it keeps no state between calls apart from the
// error, which is reused to avoid allocating on the common failure paths,
// and big.
type scanner struct {
	err syntaxError
	// big is set when a number scanned is outside float64's range (such
	// as 1e400), which common JSON decoders refuse; the caller resets it.
	big bool
}

func (s *scanner) fail(msg string, off int) error {
	s.err = syntaxError{msg: msg, offset: off}
	return &s.err
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// value scans the value starting at b[i] (no leading space) and returns its
// end and kind.
func (s *scanner) value(b []byte, i, depth int) (int, byte, error) {
	if i >= len(b) {
		return i, 0, s.fail("unexpected end of input", i)
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := s.str(b, i)
		return end, kindString, err
	case c == '{':
		end, err := s.object(b, i, depth+1)
		return end, kindObject, err
	case c == '[':
		end, err := s.array(b, i, depth+1)
		return end, kindArray, err
	case c == '-' || isDigit(c):
		end, _, err := s.number(b, i)
		return end, kindNumber, err
	case c == 't':
		return s.literal(b, i, "true", kindTrue)
	case c == 'f':
		return s.literal(b, i, "false", kindFalse)
	case c == 'n':
		return s.literal(b, i, "null", kindNull)
	default:
		return i, 0, s.fail(fmt.Sprintf("invalid character %q looking for a value", c), i)
	}
}

func (s *scanner) literal(b []byte, i int, lit string, kind byte) (int, byte, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, 0, s.fail("invalid literal", i)
	}
	return i + len(lit), kind, nil
}

// str scans a string starting at its opening quote; it returns the index
// after the closing quote and whether the string has escapes.
func (s *scanner) str(b []byte, i int) (int, bool, error) {
	start := i
	i++
	escaped := false
	for i < len(b) {
		i = skipPlain(b, i)
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return i, false, s.fail("unterminated escape", i)
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return i, false, s.fail("invalid \\u escape", i)
				}
				i += 6
			default:
				return i, false, s.fail("invalid escape", i)
			}
		case c < 0x20:
			return i, false, s.fail(fmt.Sprintf("control character %#02x in string", c), i)
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return i, false, s.fail("invalid UTF-8", i)
			}
			i += size
		}
	}
	return start, false, s.fail("unterminated string", start)
}

// number scans a JSON number; integer reports whether it has no fraction and
// no exponent.
func (s *scanner) number(b []byte, i int) (end int, integer bool, err error) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return start, false, s.fail("invalid number", start)
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return start, false, s.fail("invalid number", start)
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	expDigits := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return start, false, s.fail("invalid number", start)
		}
		exp := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		expDigits = i - exp
	}
	if (expDigits > 2 || i-start > 200) && outOfRange(b[start:i]) {
		s.big = true
	}
	return i, integer, nil
}

// outOfRange reports whether the JSON number b is beyond float64's range.
// Only a number with an exponent of three digits or more, or with over 200
// characters (1e99 needs 210 more digits to overflow), can be: number calls
// it for those alone, so the common numbers cost no conversion.
func outOfRange(b []byte) bool {
	f, err := strconv.ParseFloat(string(b), 64)
	return err != nil && math.IsInf(f, 0)
}

func (s *scanner) object(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, s.fail(errTooDeep.Error(), i)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, s.fail("expected string key", i)
		}
		end, _, err := s.str(b, i)
		if err != nil {
			return i, err
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return i, s.fail("expected ':' after key", i)
		}
		i = skipSpace(b, i+1)
		if i, _, err = s.value(b, i, depth); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return i, s.fail("unexpected end of object", i)
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return i, s.fail("expected ',' or '}'", i)
		}
	}
}

func (s *scanner) array(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, s.fail(errTooDeep.Error(), i)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, _, err = s.value(b, i, depth); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return i, s.fail("unexpected end of array", i)
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return i, s.fail("expected ',' or ']'", i)
		}
	}
}

// skipPlain returns the index of the first byte from b[i] on that is not
// plainASCII, or len(b). Most of a string is plain: it tests eight bytes at
// a time, then finishes with the table.
func skipPlain(b []byte, i int) int {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(lsb*'"'), x^(lsb*'\\')
		// A byte's high bit is set in m when it is below 0x20, is a quote or a
		// backslash (zero after the xor), or is not ASCII. Borrows can set
		// bits above the first such byte, never below it.
		m := ((x-lsb*0x20)&^x | (q-lsb)&^q | (bs-lsb)&^bs | x) & msb
		if m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(b) && plainASCII[b[i]] {
		i++
	}
	return i
}

// plainASCII marks the bytes a JSON string holds as they are: printable
// ASCII but the quote and the backslash.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
