package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs are the processes and commands of one experiment.
type procs struct {
	dir, tmp, smp string
	mu            sync.Mutex
	running       []*proc
}

type proc struct {
	name, log string
	cmd       *exec.Cmd
	done      chan struct{}
	err       error
}

func (p *procs) expand(command string) string {
	return strings.NewReplacer("{smp}", p.smp, "{dir}", p.dir, "{tmp}", p.tmp).Replace(command)
}

func (p *procs) command(ctx context.Context, name, command string) (*exec.Cmd, string, error) {
	log := filepath.Join(p.tmp, name+".log")
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, "", err
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", p.expand(command))
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so that stopping it stops what it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd, log, nil
}

// start starts a long-running command, kept until stopAll.
func (p *procs) start(name, command string) error {
	cmd, log, err := p.command(context.Background(), name, command)
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s (%s): %w", name, command, err)
	}
	pr := &proc{name: name, log: log, cmd: cmd, done: make(chan struct{})}
	go func() {
		pr.err = cmd.Wait()
		close(pr.done)
	}()
	p.mu.Lock()
	p.running = append(p.running, pr)
	p.mu.Unlock()
	return nil
}

// exited returns an error for a started process that has already ended:
// a proxy that could not bind its port must not pass for ready.
func (p *procs) exited() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.running {
		select {
		case <-pr.done:
			return fmt.Errorf("%s exited (%v) before the experiment ended:\n%s", pr.name, pr.err, tail(pr.log))
		default:
		}
	}
	return nil
}

// run runs a one-shot command to its end.
func (p *procs) run(ctx context.Context, name, command string) error {
	cmd, log, err := p.command(ctx, name, command)
	if err != nil {
		return err
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s (%s): %w\n%s", name, command, err, tail(log))
	}
	return nil
}

// stopAll stops every started process: SIGTERM to its group, SIGKILL
// after 3 s.
func (p *procs) stopAll() {
	p.mu.Lock()
	running := p.running
	p.running = nil
	p.mu.Unlock()
	for _, pr := range running {
		syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGTERM)
	}
	for _, pr := range running {
		select {
		case <-pr.done:
		case <-time.After(3 * time.Second):
			syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
			<-pr.done
		}
	}
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// waitReady polls target (a URL, answered with any HTTP status, or a
// host:port that accepts a connection) until it answers, a started
// process exits, or the timeout passes.
func (p *procs) waitReady(ctx context.Context, target string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	u, err := url.Parse(target)
	isHTTP := err == nil && (u.Scheme == "http" || u.Scheme == "https")
	var last error
	for i := 0; time.Now().Before(deadline); i++ {
		if err := p.exited(); err != nil {
			return err
		}
		if isHTTP {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				return nil
			}
			last = err
		} else {
			host := target
			if err == nil && u.Host != "" {
				host = u.Host
			}
			c, err := net.DialTimeout("tcp", host, time.Second)
			if err == nil {
				c.Close()
				return nil
			}
			last = err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %v: %v", target, timeout, last)
}

var errStopped = errors.New("experiment stopped")
