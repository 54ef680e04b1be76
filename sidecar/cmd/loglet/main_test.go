package main

import "testing"

func TestLookup(t *testing.T) {
	get := lookup([]string{"GOMEMLIMIT=64MiB", "EMPTY=", "A=b=c", "BROKEN", "GOMEMLIMIT=1GiB"})
	for name, want := range map[string]string{"GOMEMLIMIT": "64MiB", "EMPTY": "", "A": "b=c", "BROKEN": "", "MISSING": ""} {
		if got := get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}
