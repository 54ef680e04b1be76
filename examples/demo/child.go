package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// child is a program the demo runs: the app or the sidecar.
//
// Concurrency: start, stop and the fields are for the demo's goroutine;
// done may be waited on from any goroutine.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has ended and its output is copied
	err  error         // the result of Wait; read after done
}

// startChild starts path with args and exactly env, in a process group of its
// own (see procAttr), with stdin from /dev/null.
func startChild(name, path string, args, env []string, stdout, stderr io.Writer) (*child, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// pid returns the process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits for the process to end. After timeout, or at
// once when force ends, it kills the process and waits for that. It returns
// how the process ended: nil for a clean exit.
func (c *child) stop(force context.Context, timeout time.Duration) error {
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", c.name, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
		return c.err
	case <-t.C:
	case <-force.Done():
	}
	c.cmd.Process.Kill()
	<-c.done
	return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", c.name, timeout)
}
