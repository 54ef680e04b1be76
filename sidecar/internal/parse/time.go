package parse

import "time"

// parseTimestamp parses an RFC 3339 timestamp in any of its common forms
// ("2006-01-02T15:04:05Z", "+09:00" or "+0900" offsets, 'T' or ' ' between
// date and time, 0-9 fraction digits, with '.' or ','), or Go's log prefix
// form "2006/01/02 15:04:05.000000". A time with no zone is read in loc.
// It returns the number of bytes consumed; n == 0 means s does not start with
// a timestamp. It does not allocate.
func parseTimestamp(s []byte, loc *time.Location) (t time.Time, n int) {
	// Date: YYYY-MM-DD or YYYY/MM/DD.
	if len(s) < 19 {
		return time.Time{}, 0
	}
	sep := s[4]
	if sep != '-' && sep != '/' || s[7] != sep {
		return time.Time{}, 0
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, 0
	}
	if s[10] != 'T' && s[10] != ' ' && s[10] != 't' {
		return time.Time{}, 0
	}
	hour, ok1 := digits(s[11:13])
	minute, ok2 := digits(s[14:16])
	sec, ok3 := digits(s[17:19])
	if !ok1 || !ok2 || !ok3 || s[13] != ':' || s[16] != ':' {
		return time.Time{}, 0
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, 0
	}
	if sec == 60 { // leap second: clamp, as time.Parse would reject it
		sec = 59
	}
	nsec, i := fraction(s, 19)
	zoned := false
	offset := 0
	if i+6 <= len(s) && s[i] == ' ' && (s[i+1] == '+' || s[i+1] == '-') && isDigit(s[i+2]) {
		// A zone after a space, as Serilog writes it: "... 18:22:24.123 +00:00".
		j := i + 1
		if oh, om, n, ok := zoneOffset(s[j:]); ok && (j+n == len(s) || s[j+n] == ' ') {
			zoned, i = true, j+n
			offset = oh*3600 + om*60
			if s[j] == '-' {
				offset = -offset
			}
		}
	}
	if i < len(s) && !zoned {
		switch c := s[i]; {
		case c == 'Z' || c == 'z':
			zoned = true
			i++
		case c == '+' || c == '-':
			if oh, om, n, ok := zoneDigits(s[i:]); ok {
				if oh > 23 || om > 59 {
					return time.Time{}, 0
				}
				zoned, i = true, i+n
				offset = oh*3600 + om*60
				if c == '-' {
					offset = -offset
				}
			}
		}
	}
	if zoned {
		t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC).Add(-time.Duration(offset) * time.Second)
	} else {
		if loc == nil {
			loc = time.UTC
		}
		t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
	}
	if t.IsZero() {
		// 0001-01-01T00:00:00Z is Go's zero time, which stands for "no
		// time" in a Result: the record takes the read time instead.
		return time.Time{}, 0
	}
	return t.UTC(), i
}

// zoneOffset reads a valid "+HH:MM" or "+HHMM" (either sign) at the start
// of s.
func zoneOffset(s []byte) (oh, om, n int, ok bool) {
	if oh, om, n, ok = zoneDigits(s); !ok || oh > 23 || om > 59 {
		return 0, 0, 0, false
	}
	return oh, om, n, true
}

// zoneDigits reads the digits of "+HH:MM" or "+HHMM" (either sign) at the
// start of s, without checking their range.
func zoneDigits(s []byte) (oh, om, n int, ok bool) {
	var ok1, ok2 bool
	switch {
	case len(s) >= 6 && s[3] == ':':
		oh, ok1 = digits(s[1:3])
		om, ok2 = digits(s[4:6])
		n = 6
	case len(s) >= 5:
		oh, ok1 = digits(s[1:3])
		om, ok2 = digits(s[3:5])
		n = 5
	}
	return oh, om, n, ok1 && ok2
}

// parseEpoch reads a JSON number as a Unix time in seconds, milliseconds,
// microseconds or nanoseconds, chosen by its magnitude (zap's "ts").
func parseEpoch(num []byte) (time.Time, bool) {
	var ip int64
	var frac float64
	i := 0
	if len(num) == 0 || num[0] == '-' {
		return time.Time{}, false
	}
	for ; i < len(num) && isDigit(num[i]); i++ {
		if ip > (1<<62)/10 {
			return time.Time{}, false
		}
		ip = ip*10 + int64(num[i]-'0')
	}
	if i < len(num) && num[i] == '.' {
		scale := 0.1
		for i++; i < len(num) && isDigit(num[i]); i++ {
			frac += float64(num[i]-'0') * scale
			scale /= 10
		}
	}
	if i != len(num) || ip == 0 {
		return time.Time{}, false
	}
	switch {
	case ip < 1e11:
		return time.Unix(ip, int64(frac*1e9)).UTC(), true
	case ip < 1e14:
		return time.UnixMilli(ip).Add(time.Duration(frac * 1e6)).UTC(), true
	case ip < 1e17:
		return time.UnixMicro(ip).UTC(), true
	default:
		return time.Unix(0, ip).UTC(), true
	}
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// appendTimestamp appends t as UTC RFC 3339 with nanosecond precision,
// exactly as t.UTC().AppendFormat(dst, time.RFC3339Nano) does (the fraction
// without trailing zeros, none when it is zero), at a third of the cost:
// every record has one.
func appendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(dst, time.RFC3339Nano)
	}
	hour, minute, sec := t.Clock()
	dst = append(dst,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		dst = append(dst, frac[:n]...)
	}
	return append(dst, 'Z')
}

// fraction parses an optional fraction of a second at s[i:]: '.' or ','
// and at least one digit, of which the first nine count. It returns the
// nanoseconds and the index after the fraction (i when there is none).
func fraction(s []byte, i int) (nsec, next int) {
	if i+1 >= len(s) || (s[i] != '.' && s[i] != ',') || !isDigit(s[i+1]) {
		return 0, i
	}
	i++
	for scale := 100000000; i < len(s) && isDigit(s[i]); i++ {
		if scale > 0 {
			nsec += int(s[i]-'0') * scale
			scale /= 10
		}
	}
	return nsec, i
}

// parseClock parses a time of day at the start of s, "15:04:05" with an
// optional fraction after '.' or ',' (logback's and log4j2's default
// HH:mm:ss.SSS), followed by the end of s or a space. It returns the time
// since midnight and the bytes consumed; n == 0 means s does not start
// with one.
func parseClock(s []byte) (d time.Duration, n int) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, 0
	}
	hour, ok1 := digits(s[0:2])
	minute, ok2 := digits(s[3:5])
	sec, ok3 := digits(s[6:8])
	if !ok1 || !ok2 || !ok3 || hour > 23 || minute > 59 || sec > 59 {
		return 0, 0
	}
	nsec, i := fraction(s, 8)
	if i < len(s) && s[i] != ' ' {
		return 0, 0
	}
	return time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute + time.Duration(sec)*time.Second + time.Duration(nsec), i
}

// onReadDay places a time of day on the day the record was read, in loc;
// a time more than an hour after the read time is taken from the day
// before (a record written just before midnight, read just after).
func onReadDay(clock time.Duration, read time.Time, loc *time.Location) time.Time {
	r := read.In(loc)
	t := time.Date(r.Year(), r.Month(), r.Day(), 0, 0, 0, 0, loc).Add(clock)
	if t.Sub(read) > time.Hour {
		t = t.AddDate(0, 0, -1)
	}
	return t.UTC()
}
