package rotation

import "testing"

func TestOf(t *testing.T) {
	tests := []struct {
		active, name string
		want         bool
	}{
		{"web-1.log", "web-1.log.1", true},
		{"web-1.log", "web-1.log.12", true},
		{"web-1.log", "web-1.log.1.gz", true},
		{"web-1.log", "web-1.log-20261121", true},
		{"web-1.log", "web-1.log.2026-11-21", true},
		{"web-1.log", "web-1-20261121T000000.000000000Z.log", true}, // applib
		{"web-1.log", "web-1-2026-11-21T00-00-00.000.log", true},    // lumberjack
		{"web-1.log", "web-1-3.log", true},                          // log4j %i
		{"web-1.log", "web-1_3.log", true},
		{"web-1.log", "web-1.3.log", true}, // logback %i
		{"web-1.log", "web-1.log", false},
		{"web-1.log", "web-12.log", false},
		{"web-1.log", "web-12.log.1", false},
		{"web-1.log", "web-12-20261121T000000.000000000Z.log", false},
		{"web.log", "web-1-20261121T000000.000000000Z.log", false},
		{"web.log", "web-1-0.log", false},
		{"web-1.log", "web-1.log.old", false},
		{"web-1.log", "web-1-debug.log", false},
		{"web-1.log", "web-1.log.", false},
		{"web-1.log", "web-1-.log", false},
		{"web-1.log", "web-1-1234567.log", false}, // seven digits: neither index nor date
		{"web-1.log", "other.log.1", false},
		{"web-1.log", "sub/web-1.log.1", false},
		{"", "x.log.1", false},
		{"app", "app.1", true},
		{"app", "app-20261121", true},
	}
	for _, tt := range tests {
		if got := Of(tt.active, tt.name); got != tt.want {
			t.Errorf("Of(%q, %q) = %v, want %v", tt.active, tt.name, got, tt.want)
		}
	}
}

func TestOwned(t *testing.T) {
	for name, want := range map[string]bool{
		"web-1.log": true, "web-1.log.1": true, "web-1-20261121T000000.000000000Z.log": true,
		"web-12.log": false, "web-12-20261121T000000.000000000Z.log": false, "web-1x.log": false,
	} {
		if got := Owned("web-1.log", name); got != want {
			t.Errorf("Owned(web-1.log, %q) = %v, want %v", name, got, want)
		}
	}
}

func FuzzOf(f *testing.F) {
	f.Add("web-1.log", "web-1.log.1")
	f.Add("web-1.log", "web-1-20261121T000000.000000000Z.log")
	f.Fuzz(func(t *testing.T, active, name string) {
		if Of(active, name) && name == active {
			t.Fatal("a name is a rotation of itself")
		}
	})
}
