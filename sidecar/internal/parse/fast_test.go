package parse

import (
	"math/rand/v2"
	"testing"
	"time"
)

// appendTimestamp must write exactly what the standard library writes.
func TestAppendTimestampMatchesRFC3339Nano(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("JST", 9*3600), time.FixedZone("X", -(3*3600 + 30*60))}
	times := []time.Time{
		{},
		time.Date(2020, 3, 2, 9, 22, 24, 0, time.UTC),
		time.Date(2020, 3, 2, 9, 22, 24, 100000000, time.UTC),
		time.Date(2020, 3, 2, 9, 22, 24, 123456789, time.UTC),
		time.Date(2020, 3, 2, 9, 22, 24, 1, time.UTC),
		time.Date(2020, 3, 2, 9, 22, 24, 120, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 5, time.UTC),
		time.Date(-1, 12, 31, 23, 0, 0, 0, time.UTC),
		time.Date(2000, 1, 1, 0, 30, 0, 0, time.FixedZone("X", 3600)), // the previous day in UTC
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		sec := r.Int64N(400*365*86400) - 200*365*86400 + 1583020944 // 1820 to 2220
		ns := r.Int64N(1e9)
		switch r.IntN(4) {
		case 0:
			ns = 0
		case 1:
			ns -= ns % 1000000
		}
		times = append(times, time.Unix(sec, ns).In(zones[r.IntN(len(zones))]))
	}
	for _, tm := range times {
		want := tm.UTC().AppendFormat([]byte("x"), time.RFC3339Nano)
		if got := appendTimestamp([]byte("x"), tm); string(got) != string(want) {
			t.Fatalf("%v: %s, want %s", tm, got, want)
		}
	}
}

// skipPlain must stop where a byte-by-byte scan stops.
func TestSkipPlainMatchesByteScan(t *testing.T) {
	ref := func(b []byte, i int) int {
		for i < len(b) && b[i] >= 0x20 && b[i] < 0x80 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		return i
	}
	check := func(b []byte, i int) {
		t.Helper()
		if got, want := skipPlain(b, i), ref(b, i); got != want {
			t.Fatalf("skipPlain(%q, %d) = %d, want %d", b, i, got, want)
		}
	}
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := make([]byte, n)
				for k := range b {
					b[k] = 'a' + byte(k%26)
				}
				b[pos] = byte(c)
				for start := 0; start <= min(pos+1, n); start++ {
					check(b, start)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte("ab \"\\\x00\x1f\x7f\x80\xe3\xff~ ")
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for k := range b {
			if r.IntN(6) == 0 {
				b[k] = alphabet[r.IntN(len(alphabet))]
			} else {
				b[k] = byte(0x20 + r.IntN(0x5f))
			}
		}
		check(b, r.IntN(len(b)+1))
	}
}
