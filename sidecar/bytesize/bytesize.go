// Package bytesize is the one definition of the size syntax every loglet
// setting takes: the sidecar's LOGLET_*_BYTES variables and applib's
// LOGLET_MAX_FILE_BYTES.
//
// A size is a whole number of bytes, optionally followed by a unit: B, KB,
// MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024). Units are
// matched without regard to case and may be separated from the number by
// blanks: 1048576, 512KiB, 8 MiB, 1GB. Fractions, signs and the one-letter
// units K, M and G are refused: whether K means 1000 or 1024 differs between
// tools, and a size is not worth a guess.
package bytesize

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes. Its text form is the package's size syntax.
type Size int64

// Forms describes the accepted forms, for error messages and help texts.
const Forms = "a whole number of bytes, optionally with a unit: B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), e.g. 1048576, 512KiB, 8MiB"

// ErrSyntax is wrapped by every error [Parse] returns.
var ErrSyntax = errors.New("not a size")

// The units, longest first so that "KiB" is not read as "B".
var units = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"b", 1},
}

// Parse reads a size written in the package's syntax. The error wraps
// [ErrSyntax] and quotes s; it does not name a variable (the caller does).
func Parse(s string) (Size, error) {
	num := strings.TrimSpace(s)
	mult := int64(1)
	lower := strings.ToLower(num)
	for _, u := range units {
		if strings.HasSuffix(lower, u.suffix) {
			num = strings.TrimSpace(num[:len(num)-len(u.suffix)])
			mult = u.mult
			break
		}
	}
	bad := func(why string) (Size, error) {
		return 0, fmt.Errorf("%w: %q %s; want %s", ErrSyntax, s, why, Forms)
	}
	if num == "" {
		return bad("has no number")
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return bad("is not a whole number with a known unit")
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return bad("is too large")
	}
	return Size(n * mult), nil
}

// UnmarshalText parses text with [Parse].
func (z *Size) UnmarshalText(text []byte) error {
	n, err := Parse(string(text))
	if err != nil {
		return err
	}
	*z = n
	return nil
}

// MarshalText returns the form [Size.String] gives.
func (z Size) MarshalText() ([]byte, error) { return []byte(z.String()), nil }

// String gives the size in the largest binary unit that holds it exactly
// (8MiB, 512KiB), else in bytes; Parse reads it back.
func (z Size) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if z != 0 && int64(z)%u.mult == 0 {
			return strconv.FormatInt(int64(z)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(z), 10)
}
