package parse

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Type is a field type that LOGLET_FIELD_TYPES can pin.
type Type uint8

// The pinnable types.
const (
	TypeString Type = iota + 1
	TypeInt
	TypeFloat
	TypeBool
)

var typeNames = map[string]Type{
	"string": TypeString, "int": TypeInt, "integer": TypeInt, "long": TypeInt,
	"float": TypeFloat, "double": TypeFloat, "bool": TypeBool, "boolean": TypeBool,
}

// String returns the type's name as LOGLET_FIELD_TYPES spells it.
func (t Type) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeFloat:
		return "float"
	case TypeBool:
		return "bool"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// ErrFieldTypes is wrapped by every error ParseFieldTypes returns.
var ErrFieldTypes = errors.New("bad field types")

// ParseFieldTypes parses a LOGLET_FIELD_TYPES value such as
// "count=int,latency_ms=float,ok=bool,user=string". Empty means no pins.
func ParseFieldTypes(spec string) (map[string]Type, error) {
	m := make(map[string]Type)
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, typ, ok := strings.Cut(item, "=")
		name, typ = strings.TrimSpace(name), strings.TrimSpace(typ)
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: %q is not name=type", ErrFieldTypes, item)
		}
		t, ok := typeNames[strings.ToLower(typ)]
		if !ok {
			return nil, fmt.Errorf("%w: %q: unknown type %q (want string, int, float or bool)", ErrFieldTypes, item, typ)
		}
		if prev, dup := m[name]; dup && prev != t {
			return nil, fmt.Errorf("%w: %q pinned twice", ErrFieldTypes, name)
		}
		m[name] = t
	}
	return m, nil
}

// value is one field value: either JSON text ready to copy (text is JSON) or
// string content still to be escaped (kind == kindString and !isJSON).
type value struct {
	kind    byte
	text    []byte
	isJSON  bool
	escaped bool // a JSON string with escape sequences
	// big marks a number outside float64's range, or an object or array
	// holding one: valid JSON that common decoders refuse, so it is
	// shipped as a string, in type_errors.
	big bool
}

// content returns a string value's characters without quotes, when that can
// be had without decoding escapes.
func (v value) content() ([]byte, bool) {
	if v.kind != kindString {
		return v.text, true
	}
	if !v.isJSON {
		return v.text, true
	}
	if v.escaped {
		return nil, false
	}
	return v.text[1 : len(v.text)-1], true
}

// appendValue appends v as JSON.
func appendValue(dst []byte, v value) []byte {
	if v.isJSON {
		return append(dst, v.text...)
	}
	return appendJSONString(dst, v.text)
}

// appendAsString appends v's text as a JSON string: strings as they are,
// anything else quoted.
func appendAsString(dst []byte, v value) []byte {
	if v.kind == kindString {
		return appendValue(dst, v)
	}
	return appendJSONString(dst, v.text)
}

// convert appends v converted to t. It reports false, appending nothing,
// when v cannot be converted without losing information.
func convert(dst []byte, t Type, v value) ([]byte, bool) {
	if v.kind == kindNull {
		return append(dst, "null"...), true
	}
	if v.big {
		if t == TypeString {
			return appendAsString(dst, v), true
		}
		return dst, false
	}
	switch t {
	case TypeString:
		return appendAsString(dst, v), true
	case TypeInt:
		switch v.kind {
		case kindNumber:
			if isIntegerText(v.text) {
				return append(dst, v.text...), true
			}
			f, err := strconv.ParseFloat(string(v.text), 64)
			if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				return strconv.AppendInt(dst, int64(f), 10), true
			}
		case kindString:
			c, ok := v.content()
			if !ok {
				return dst, false
			}
			if n, err := strconv.ParseInt(string(bytes.TrimSpace(c)), 10, 64); err == nil {
				return strconv.AppendInt(dst, n, 10), true
			}
		}
	case TypeFloat:
		switch v.kind {
		case kindNumber:
			dst = append(dst, v.text...)
			if isIntegerText(v.text) {
				dst = append(dst, ".0"...)
			}
			return dst, true
		case kindString:
			c, ok := v.content()
			if !ok {
				return dst, false
			}
			f, err := strconv.ParseFloat(string(bytes.TrimSpace(c)), 64)
			if err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				n := len(dst)
				dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
				if bytes.IndexAny(dst[n:], ".eE") < 0 {
					dst = append(dst, ".0"...)
				}
				return dst, true
			}
		}
	case TypeBool:
		switch v.kind {
		case kindTrue, kindFalse:
			return append(dst, v.text...), true
		case kindString, kindNumber:
			c, ok := v.content()
			if !ok {
				return dst, false
			}
			if b, err := strconv.ParseBool(string(bytes.TrimSpace(c))); err == nil {
				return strconv.AppendBool(dst, b), true
			}
		}
	}
	return dst, false
}

// isIntegerText reports whether b is a JSON integer (optional minus, digits,
// no leading zero).
func isIntegerText(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || (b[0] == '0' && len(b) > 1) {
		return false
	}
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// isNumberText reports whether b is a JSON number, and whether that number
// is outside float64's range.
func isNumberText(b []byte) (ok, big bool) {
	var s scanner
	end, _, err := s.number(b, 0)
	return err == nil && end == len(b), s.big
}
