// Package topicname is the one definition of a legal Kafka topic name, for
// the sidecar, which checks the topic a template expanded to, and for the
// injector, which checks the templates it is given before a pod runs with
// them, so that a template the injector accepts never gives the sidecar a
// topic it refuses for its literal text.
//
// Kafka's rule: 1 to 249 characters from a-z A-Z 0-9 . _ -, and neither
// "." nor "..".
package topicname

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/loglet/loglet/sidecar/internal/podinfo"
)

// MaxLen is Kafka's limit on a topic name's length.
const MaxLen = 249

// ErrIllegal is wrapped by every error of this package.
var ErrIllegal = errors.New("illegal topic name")

// legal reports whether c may appear in a topic name.
func legal(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// Check returns an error wrapping [ErrIllegal] when name is not a legal
// Kafka topic name.
func Check(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrIllegal)
	case name == "." || name == "..":
		return fmt.Errorf("%w %q", ErrIllegal, name)
	case len(name) > MaxLen:
		return fmt.Errorf("%w: %d characters, at most %d allowed", ErrIllegal, len(name), MaxLen)
	}
	if i := badChar(name); i >= 0 {
		return fmt.Errorf("%w %q: character %q at %d (allowed: a-z A-Z 0-9 . _ -)", ErrIllegal, name, runeAt(name, i), i)
	}
	return nil
}

// CheckPrefix returns an error wrapping [ErrIllegal] when no legal topic
// name begins with p, or p is empty.
func CheckPrefix(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: empty prefix", ErrIllegal)
	case len(p) > MaxLen:
		return fmt.Errorf("%w: prefix of %d characters, at most %d allowed", ErrIllegal, len(p), MaxLen)
	}
	if i := badChar(p); i >= 0 {
		return fmt.Errorf("%w: %q: %q cannot be in a Kafka topic name (allowed: a-z A-Z 0-9 . _ -)", ErrIllegal, p, runeAt(p, i))
	}
	return nil
}

// CheckTemplate returns an error wrapping [ErrIllegal] when no expansion
// of the topic template tmpl can be a legal topic name: a placeholder
// package podinfo does not know or an unclosed "{" (the error wraps
// [podinfo.ErrTemplate] as well), a character a topic cannot hold in the
// literal text outside the {placeholders}, more literal text than a topic
// can be long (each placeholder adds at least one character, since the
// sidecar refuses one that expands to nothing), or, for a template without
// placeholders, any reason [Check] gives. The placeholders are read by
// [podinfo.Pod.Expand], the sidecar's own expansion, so the two cannot
// disagree on a template; the sidecar checks the expansion with [Check].
func CheckTemplate(tmpl string) error {
	// An empty pod expands every placeholder to nothing, which leaves the
	// literal text; each "{" of a template it accepts opens a placeholder.
	lit, err := new(podinfo.Pod).Expand(tmpl)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrIllegal, err)
	}
	placeholders := strings.Count(tmpl, "{")
	if placeholders == 0 {
		if err := Check(tmpl); err != nil {
			return fmt.Errorf("topic template %q: %w", tmpl, err)
		}
		return nil
	}
	if i := badChar(lit); i >= 0 {
		return fmt.Errorf("%w: %q: %q cannot be in a Kafka topic name (allowed: a-z A-Z 0-9 . _ -)", ErrIllegal, tmpl, runeAt(lit, i))
	}
	if n := len(lit) + placeholders; n > MaxLen {
		return fmt.Errorf("%w: %q expands to at least %d characters, at most %d allowed", ErrIllegal, tmpl, n, MaxLen)
	}
	return nil
}

// badChar returns the index of the first byte of s a topic name cannot
// hold, or -1.
func badChar(s string) int {
	for i := 0; i < len(s); i++ {
		if !legal(s[i]) {
			return i
		}
	}
	return -1
}

// runeAt returns the character that begins at s[i], for messages.
func runeAt(s string, i int) rune {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}
