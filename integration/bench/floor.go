package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// floorName is the floor row's name. The floor is "read the lines and
// json.Valid each, nothing else" (0.74 CPU-s per million lines, 3 MB, on
// the reference machine where Fluent Bit was measured at 4.7 and loglet's
// target set at 2.0): measured in the same run, it says how fast this
// machine is at that moment, so loglet's CPU time can be compared with the
// reference figures and targets whatever else the machine does.
const floorName = "floor: read the lines, json.Valid each (no forwarder)"

// referenceFloor is the floor's CPU-s per million lines on the reference
// machine.
const referenceFloor = 0.74

// runFloor reads every file of dir line by line, checks each line with
// json.Valid, and returns the CPU time this process spent and the time it
// took. The benchmark process does nothing else meanwhile.
func runFloor(dir string) (cpu, elapsed time.Duration, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	before, err := processCPU()
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	for _, e := range entries {
		if err := validLines(filepath.Join(dir, e.Name())); err != nil {
			return 0, 0, err
		}
	}
	elapsed = time.Since(start)
	after, err := processCPU()
	if err != nil {
		return 0, 0, err
	}
	return after - before, elapsed, nil
}

func validLines(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		line, err := r.ReadSlice('\n')
		if err == io.EOF && len(line) == 0 {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if !json.Valid(line) {
			return fmt.Errorf("%s line %d is not JSON", path, n)
		}
	}
}

// processCPU returns this process's user and system time.
func processCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
