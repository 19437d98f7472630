package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/flotilla-io/flotilla/internal/agent/identity"
)

// agentProc is one `flotilla agent --dir DIR` process of the benchmark.
type agentProc struct {
	name   string
	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
	// err is the process's exit, once exited is closed.
	err error
}

func (a *agentProc) logPath() string { return filepath.Join(a.dir, "agent.log") }

// startAgent runs `bin agent --dir dir` with its output in dir/agent.log.
// The process dies with the benchmark (Pdeathsig) and has a process group
// of its own, so that a Ctrl-C meant for `go test` does not reach it before
// the cleanup does.
func startAgent(bin, name, dir string) (*agentProc, error) {
	logf, err := os.OpenFile(filepath.Join(dir, "agent.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "agent", "--dir", dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the agent of %s: %w", name, err)
	}
	a := &agentProc{name: name, dir: dir, cmd: cmd, exited: make(chan struct{})}
	go func() {
		a.err = cmd.Wait()
		close(a.exited)
	}()
	return a, nil
}

func (a *agentProc) pid() int { return a.cmd.Process.Pid }

func (a *agentProc) alive() bool {
	select {
	case <-a.exited:
		return false
	default:
		return true
	}
}

// stop ends the agent: SIGTERM, then SIGKILL after grace.
func (a *agentProc) stop(grace time.Duration) {
	if !a.alive() {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(grace):
		_ = a.cmd.Process.Signal(syscall.SIGKILL)
		<-a.exited
	}
}

// stopAgents stops agents in parallel.
func stopAgents(agents []*agentProc) {
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Go(func() { a.stop(10 * time.Second) })
	}
	wg.Wait()
}

// procMem is a process's memory from /proc/PID/status, in bytes.
type procMem struct {
	// RSS is VmRSS: resident now, shared pages (the binary's text)
	// included.
	RSS int64
	// HWM is VmHWM: the highest RSS since the start (or clear_refs 5).
	HWM int64
	// Anon is RssAnon: resident anonymous memory, the process's own (heap,
	// stacks), without the shared binary.
	Anon int64
}

func readProcMem(pid int) (procMem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, err
	}
	var m procMem
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			m.RSS = kb << 10
		case "VmHWM:":
			m.HWM = kb << 10
		case "RssAnon:":
			m.Anon = kb << 10
		}
	}
	if m.RSS == 0 {
		return m, errors.New("no VmRSS in /proc status")
	}
	return m, nil
}

// spread is the minimum, median and maximum of a set of values, and their
// sum.
type spread struct {
	N                      int
	Min, Median, Max, Mean float64
	Sum                    float64
}

func spreadOf(v []float64) spread {
	if len(v) == 0 {
		return spread{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{N: len(s), Min: s[0], Median: med, Max: s[len(s)-1], Mean: sum / float64(len(s)), Sum: sum}
}

// agentMem is the memory of a set of agent processes at one moment.
type agentMem struct {
	When           string
	RSS, HWM, Anon spread
	Missing        int
}

func measureAgents(when string, agents []*agentProc) agentMem {
	var rss, hwm, anon []float64
	out := agentMem{When: when}
	for _, a := range agents {
		if !a.alive() {
			out.Missing++
			continue
		}
		m, err := readProcMem(a.pid())
		if err != nil {
			out.Missing++
			continue
		}
		rss = append(rss, float64(m.RSS))
		hwm = append(hwm, float64(m.HWM))
		anon = append(anon, float64(m.Anon))
	}
	out.RSS, out.HWM, out.Anon = spreadOf(rss), spreadOf(hwm), spreadOf(anon)
	return out
}

// pointAgentAt makes the agent in dir reach the hub at hub (a URL) instead
// of the one it registered with. The agent takes the hub's URL from its
// configuration (agent.yaml); the kubeconfig beside it, for kubectl, gets
// the same server so that both agree.
func pointAgentAt(dir, hub string) error {
	cfg, err := identity.LoadConfig(dir)
	if err != nil {
		return err
	}
	cfg.Hub = hub
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, identity.ConfigFile), b, 0o600); err != nil {
		return err
	}
	kcPath := filepath.Join(dir, identity.KubeconfigFile)
	kc, err := clientcmd.LoadFromFile(kcPath)
	if err != nil {
		return err
	}
	for _, c := range kc.Clusters {
		c.Server = hub
	}
	return clientcmd.WriteToFile(*kc, kcPath)
}

// hostOf is the host:port of a URL.
func hostOf(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	return p.Host, nil
}

// countInFile counts the lines of a file that contain s.
func countInFile(path, s string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			n++
		}
	}
	return n
}

var (
	klogError = regexp.MustCompile(`^E\d{4} \d\d:\d\d:\d\d\.\d+\s+\d+ [^\]]+\] `)
	// edgeNames and loopbackPorts vary between otherwise equal messages.
	edgeNames     = regexp.MustCompile(`edge-\d{3}`)
	loopbackPorts = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// logErrors counts the error lines of logs by message: zap JSON lines of
// level error, zap console lines with ERROR, and klog's E lines.
func logErrors(paths ...string) map[string]int {
	out := map[string]int{}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			if msg, ok := errorMessage(line); ok {
				out[msg]++
			}
		}
		f.Close()
	}
	return out
}

func errorMessage(line string) (string, bool) {
	trim := func(s string) string {
		s = strings.Join(strings.Fields(s), " ")
		s = edgeNames.ReplaceAllString(s, "edge-NNN")
		s = loopbackPorts.ReplaceAllString(s, "127.0.0.1:PORT")
		if len(s) > 160 {
			s = s[:160] + "…"
		}
		return s
	}
	if strings.HasPrefix(line, "{") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil || l["level"] != "error" {
			return "", false
		}
		msg, _ := l["msg"].(string)
		if e, ok := l["error"].(string); ok {
			msg += ": " + e
		} else if e, ok := l["err"].(string); ok {
			msg += ": " + e
		}
		return trim(msg), true
	}
	if loc := klogError.FindStringIndex(line); loc != nil {
		return trim(line[loc[1]:]), true
	}
	if i := strings.Index(line, "\tERROR\t"); i >= 0 {
		return trim(line[i+len("\tERROR\t"):]), true
	}
	return "", false
}

// topErrors formats the n most frequent messages of logErrors.
func topErrors(m map[string]int, n int) string {
	type kv struct {
		msg string
		n   int
	}
	var all []kv
	total := 0
	for k, v := range m {
		all = append(all, kv{k, v})
		total += v
	}
	if total == 0 {
		return "none"
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].msg < all[j].msg })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d lines, %d distinct", total, len(all))
	for i, x := range all {
		if i == n {
			fmt.Fprintf(&sb, "\n      … and %d more distinct messages", len(all)-n)
			break
		}
		fmt.Fprintf(&sb, "\n      %5d × %s", x.n, x.msg)
	}
	return sb.String()
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func mibf(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// pidFileAlive reports whether the process a pid file names runs (a
// zombie counts as gone).
func pidFileAlive(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}
