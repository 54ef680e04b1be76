package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sys/unix"
)

// peerWakeFloor names the wake-up floor, the low-rate rows' reference: a
// plain Go program that does at each wake-up what loglet must do and
// nothing else, on loglet's schedule. At the first write to the log
// directory after a rest (inotify, waited for outside Go's poller), it
// reads what the file gained, checks each line with json.Valid, and sends
// the lines in one kafka-go produce request (acks=all, lz4, with loglet's
// metadata and idle-connection settings), each record the line with the
// @timestamp the benchmark's consumer reads. Then it pauses for
// wakeFloorPause (loglet's LOGLET_READ_COALESCE, timed with a timerfd as
// loglet times it) and looks at the inotify queue again: written to
// meanwhile, it reads again; empty, it waits. No pod metadata, parsing,
// checkpoints, metrics or health checks.
//
// It costs what the machine and the Go runtime charge for the wake-ups, a
// file read and a produce round trip: loglet's low-rate rows divided by it
// are what loglet adds, and a target below it cannot be met by a Go
// process waking as often on that machine.
const peerWakeFloor = "wake-up floor"

// wakeFloorPause is loglet's default LOGLET_READ_COALESCE.
const wakeFloorPause = 300 * time.Millisecond

// wakeFloorEnv, set to 1 in its environment, makes the benchmark's own
// binary (or its test binary) the wake-up floor's process; it reads
// loglet's LOGLET_LOG_DIR, LOGLET_KAFKA_BROKERS and LOGLET_HTTP_ADDR.
const wakeFloorEnv = "LOGLET_BENCH_WAKE_FLOOR"

// wakeFloorCommand returns how to run the wake-up floor as a process.
func wakeFloorCommand() (bin string, env []string, err error) {
	bin, err = os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("wake-up floor: %w", err)
	}
	return bin, []string{wakeFloorEnv + "=1"}, nil
}

// wakeFloorMain runs the wake-up floor and returns the exit status: 0 at
// SIGTERM (it holds nothing to flush: what it read is in Kafka or was
// never acknowledged), 1 on an error.
func wakeFloorMain() int {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, os.Interrupt)
	failed := make(chan error, 1)
	go func() {
		failed <- runWakeFloor(context.Background(), os.Getenv("LOGLET_LOG_DIR"), os.Getenv("LOGLET_KAFKA_BROKERS"), os.Getenv("LOGLET_HTTP_ADDR"))
	}()
	select {
	case <-term:
		return 0
	case err := <-failed:
		fmt.Fprintf(os.Stderr, "wake-up floor: %v\n", err)
		return 1
	}
}

// runWakeFloor is the wake-up floor's loop; it returns only on an error.
func runWakeFloor(ctx context.Context, logDir, brokers, httpAddr string) error {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, logDir, unix.IN_MODIFY|unix.IN_CREATE); err != nil {
		unix.Close(fd)
		return fmt.Errorf("watch %s: %w", logDir, err)
	}
	defer unix.Close(fd)
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("timerfd: %w", err)
	}
	timer := os.NewFile(uintptr(tfd), "timerfd")
	defer timer.Close()
	pause := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(wakeFloorPause))}

	// loglet's transport settings (sink/kafka): kafka-go's defaults would
	// refresh the metadata every few seconds and close the connection
	// after 30 s without a request, wake-ups loglet does not have.
	client := &kafka.Client{Addr: kafka.TCP(brokers), Timeout: 10 * time.Second,
		Transport: &kafka.Transport{MetadataTTL: 5 * time.Minute, IdleTimeout: 4 * time.Minute}}
	if _, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}}); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})} // 200: ready
	go srv.Serve(ln)
	defer srv.Close()

	path := filepath.Join(logDir, podName+".log")
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	buf := make([]byte, 64<<10)
	var pending []byte // a line not yet ended by its newline
	var records []kafka.Record
	// ship reads what the file gained and sends its lines in one request.
	ship := func() error {
		if f == nil {
			var err error
			if f, err = os.Open(path); errors.Is(err, os.ErrNotExist) {
				return nil
			} else if err != nil {
				return err
			}
		}
		for {
			n, err := f.Read(buf)
			pending = append(pending, buf[:n]...)
			if err == io.EOF || n == 0 {
				break
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
		}
		records = records[:0]
		rest := pending
		for {
			line, after, ok := bytes.Cut(rest, []byte("\n"))
			if !ok {
				break
			}
			rest = after
			if !json.Valid(line) {
				return fmt.Errorf("%s: a line is not JSON: %.80s", path, line)
			}
			v, err := floorRecord(line)
			if err != nil {
				return err
			}
			records = append(records, kafka.Record{Value: kafka.NewBytes(v)})
		}
		pending = append(pending[:0], rest...)
		if len(records) == 0 {
			return nil
		}
		res, err := client.Produce(ctx, &kafka.ProduceRequest{Topic: topic, RequiredAcks: kafka.RequireAll,
			Compression: kafka.Lz4, Records: kafka.NewRecordReader(records...)})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		return nil
	}

	if err := ship(); err != nil { // what the file holds already, as loglet reads it at its start
		return err
	}
	ev := make([]byte, 4096)
	var expiries [8]byte
	quiet := true // the queue was empty at the last look
	for {
		if quiet { // wait for the first write after a rest, outside Go's poller
			if _, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1); err != nil && err != unix.EINTR {
				return fmt.Errorf("poll inotify: %w", err)
			}
		} else { // as loglet: report, pause, then look at the queue again
			if err := unix.TimerfdSettime(tfd, 0, &pause, nil); err != nil {
				return fmt.Errorf("timerfd: %w", err)
			}
			if _, err := timer.Read(expiries[:]); err != nil {
				return fmt.Errorf("read timerfd: %w", err)
			}
		}
		n, err := unix.Read(fd, ev)
		if quiet = err == unix.EAGAIN; quiet {
			continue
		}
		if err != nil || n == 0 {
			return fmt.Errorf("read inotify: %v", err)
		}
		if err := ship(); err != nil {
			return err
		}
	}
}

// floorRecord returns line with the @timestamp of its time field in front,
// as the benchmark's consumer expects a record to open.
func floorRecord(line []byte) ([]byte, error) {
	const key = `"time":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 || len(line) < 2 || line[0] != '{' {
		return nil, fmt.Errorf("no time field: %.80s", line)
	}
	t := line[i+len(key):]
	end := bytes.IndexByte(t, '"')
	if end < 0 {
		return nil, fmt.Errorf("unterminated time: %.80s", line)
	}
	v := make([]byte, 0, len(line)+len(t[:end])+20)
	v = append(v, `{"@timestamp":"`...)
	v = append(v, t[:end]...)
	v = append(v, `",`...)
	return append(v, line[1:]...), nil
}
