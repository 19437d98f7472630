package localfleet

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one long-running component that localfleet starts and stops.
type process struct {
	name   string
	binary string
	args   []string
	env    []string
	dir    string // its run directory: <name>.pid and <name>.log live here
	// detach puts the process in a session of its own so that it outlives
	// the command that started it (flotilla up). Without it the process is
	// killed when the starting process dies (the test harness).
	detach bool
}

func (p *process) pidPath() string { return filepath.Join(p.dir, p.name+".pid") }

// LogPath is where the component's output goes.
func (p *process) logPath() string { return filepath.Join(p.dir, p.name+".log") }

// start launches the process unless one started earlier with the same
// pid file is still alive. It reports whether it started a new one.
func (p *process) start() (bool, error) {
	if _, ok := alivePid(p.pidPath()); ok {
		return false, nil
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return false, err
	}
	logf, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return false, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n=== %s starting %s at %s\n", p.name, p.binary, time.Now().Format(time.RFC3339))
	cmd := exec.Command(p.binary, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = p.dir
	if p.detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start %s: %w", p.name, err)
	}
	if err := os.WriteFile(p.pidPath(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return false, err
	}
	// Reap the child when it exits so it does not linger as a zombie and
	// alivePid sees it gone.
	go func() { _ = cmd.Wait() }()
	return true, nil
}

// running reports whether the process is alive.
func (p *process) running() bool {
	_, ok := alivePid(p.pidPath())
	return ok
}

// stop terminates the process: SIGTERM, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) error {
	pid, ok := alivePid(p.pidPath())
	if ok {
		terminate(pid, grace)
	}
	if err := os.Remove(p.pidPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// tail returns the last n bytes of the process log, for error messages.
func (p *process) tail(n int) string { return tailFile(p.logPath(), n) }

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// alivePid reads a pid file and reports whether that process still runs (a
// zombie counts as gone).
func alivePid(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, pidAlive(pid)
}

func pidAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}

// terminate sends SIGTERM to pid and its process group, then SIGKILL if it is
// still alive after grace.
func terminate(pid int, grace time.Duration) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !pidAlive(pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && pidAlive(pid); i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

// KillReferencing terminates every process whose command line mentions dir.
// Every component localfleet starts, directly or through kwokctl, names its
// state directory on its command line, so this finds them all even when the
// pid files are gone (a crash, an interrupted test). It returns how many it
// stopped.
func KillReferencing(dir string, grace time.Duration) int {
	if dir == "" || dir == "/" {
		return 0
	}
	self := os.Getpid()
	// Match paths inside dir, so that /x/fleet-1 never matches /x/fleet-12.
	needle := []byte(strings.TrimSuffix(dir, "/") + "/")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var victims []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		if bytes.Contains(cmdline, needle) && pidAlive(pid) {
			victims = append(victims, pid)
		}
	}
	for _, pid := range victims {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for _, pid := range victims {
		for pidAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if pidAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return len(victims)
}

// FreePort asks the kernel for a free TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
