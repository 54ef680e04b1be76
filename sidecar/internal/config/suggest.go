package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// appVariables are applib's variables, read by the app container. A shared
// envFrom (one ConfigMap for the app and its sidecar) puts them in the
// sidecar's environment too, so the sidecar accepts and ignores them.
var appVariables = []string{"LOGLET_MAX_FILE_BYTES", "LOGLET_MAX_FILES"}

// unknownVariables returns a problem for each LOGLET_* variable in env that
// neither the sidecar nor applib reads, with a suggestion when a known name
// is close. Vector and Fluent Bit refuse unknown keys for the same reason: a
// misspelt setting silently keeps its default.
func unknownVariables(env environment) []error {
	known := map[string]bool{}
	for _, v := range Variables() {
		known[v.Name] = true
	}
	for _, n := range appVariables {
		known[n] = true
	}
	var names []string
	for name := range env {
		if strings.HasPrefix(name, "LOGLET_") && !known[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		msg := "unknown variable; `loglet -h` lists the variables loglet reads"
		if s := suggest(name, known); s != "" {
			msg = fmt.Sprintf("unknown variable; did you mean %s?", s)
		}
		errs = append(errs, fmt.Errorf("%s: %s", name, msg))
	}
	return errs
}

// suggest returns the known name closest to name, or "" when none is close:
// at most 3 edits away, or the same setting without the KAFKA_ in its
// name.
func suggest(name string, known map[string]bool) string {
	if k := "LOGLET_KAFKA_" + strings.TrimPrefix(name, "LOGLET_"); known[k] {
		return k
	}
	best, bestDist := "", 4
	for _, k := range slices.Sorted(maps.Keys(known)) {
		if d := editDistance(strings.ToUpper(name), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
