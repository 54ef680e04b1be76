package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is a running program whose stdout and stderr go to files.
//
// Concurrency: methods are called from the test's goroutine.
type Process struct {
	Cmd    *exec.Cmd
	Stdout string // path of the file holding its stdout
	Stderr string // path of the file holding its stderr
	done   chan struct{}
	err    error
}

// Start starts path with args and exactly the environment env, writing its
// output to stdout and stderr (file paths, appended to).
func Start(path string, args, env []string, stdout, stderr string) (*Process, error) {
	open := func(p string) (*os.File, error) {
		return os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	}
	so, err := open(stdout)
	if err != nil {
		return nil, err
	}
	se, err := open(stderr)
	if err != nil {
		so.Close()
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = so, se
	if err := cmd.Start(); err != nil {
		so.Close()
		se.Close()
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	p := &Process{Cmd: cmd, Stdout: stdout, Stderr: stderr, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		so.Close()
		se.Close()
		close(p.done)
	}()
	return p, nil
}

// Signal sends sig.
func (p *Process) Signal(sig syscall.Signal) error { return p.Cmd.Process.Signal(sig) }

// Kill sends SIGKILL and waits for the process to end.
func (p *Process) Kill() {
	p.Cmd.Process.Kill()
	<-p.done
}

// Wait waits for the process to end, up to ctx, and returns its exit code.
func (p *Process) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), nil
	}
	if p.err != nil {
		return -1, p.err
	}
	return 0, nil
}

// Stop sends SIGTERM and waits up to timeout for the exit code.
func (p *Process) Stop(timeout time.Duration) (int, error) {
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return -1, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code, err := p.Wait(ctx)
	if err != nil {
		p.Kill()
	}
	return code, err
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}
