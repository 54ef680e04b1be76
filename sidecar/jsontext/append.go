package jsontext

import (
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// safe[b] is true for ASCII bytes that need no escaping inside a JSON string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// AppendString appends s, a string or a byte slice, as a quoted JSON string.
func AppendString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// AppendStringBytes is AppendString for a byte slice.
func AppendStringBytes(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// AppendEscaped appends s, a string or a byte slice, escaped for use inside
// a JSON string, without quotes.
func AppendEscaped[T string | []byte](dst []byte, s T) []byte { return appendEscaped(dst, s) }

func appendEscaped[T string | []byte](dst []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript consumers.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// decodeRune decodes the UTF-8 sequence at the start of s the way
// utf8.DecodeRune does, for strings and byte slices alike without converting.
func decodeRune[T string | []byte](s T) (rune, int) {
	b0 := s[0]
	var need int
	var r, lowest rune
	switch {
	case b0&0xE0 == 0xC0:
		need, r, lowest = 2, rune(b0&0x1F), 0x80
	case b0&0xF0 == 0xE0:
		need, r, lowest = 3, rune(b0&0x0F), 0x800
	case b0&0xF8 == 0xF0:
		need, r, lowest = 4, rune(b0&0x07), 0x10000
	default:
		return utf8.RuneError, 1
	}
	if len(s) < need {
		return utf8.RuneError, 1
	}
	for i := 1; i < need; i++ {
		c := s[i]
		if c&0xC0 != 0x80 {
			return utf8.RuneError, 1
		}
		r = r<<6 | rune(c&0x3F)
	}
	if r < lowest || r > utf8.MaxRune || (r >= 0xD800 && r <= 0xDFFF) {
		return utf8.RuneError, 1
	}
	return r, need
}
