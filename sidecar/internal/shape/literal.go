package shape

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// pattern is an RE2 pattern with a literal every match must contain, when
// it has one: a text without that literal is passed over without running
// the regular expression, which is most texts for a redaction pattern
// ('@' for an e-mail address, "Bearer " for a token).
type pattern struct {
	*regexp.Regexp
	lit []byte
}

func newPattern(re *regexp.Regexp) pattern {
	return pattern{Regexp: re, lit: requiredLiteral(re.String())}
}

// Match reports whether b holds a match.
func (p pattern) Match(b []byte) bool {
	if p.lit != nil && !bytes.Contains(b, p.lit) {
		return false
	}
	return p.Regexp.Match(b)
}

// requiredLiteral returns the longest case-sensitive literal that a top-level
// concatenation of expr holds, or nil.
func requiredLiteral(expr string) []byte {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	var best []byte
	consider := func(r *syntax.Regexp) {
		if r.Op != syntax.OpLiteral || r.Flags&syntax.FoldCase != 0 {
			return
		}
		var b []byte
		for _, c := range r.Rune {
			b = utf8.AppendRune(b, c)
		}
		if len(b) > len(best) {
			best = b
		}
	}
	switch re.Op {
	case syntax.OpLiteral:
		consider(re)
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			consider(sub)
		}
	}
	return best
}
