package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flotilla-io/flotilla/internal/localfleet"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
const clockTicks = 100

// hubProcess is `flotilla hub` running as a process of its own, so that its
// memory and CPU can be read from /proc and its metrics scraped.
type hubProcess struct {
	cmd        *exec.Cmd
	pid        int
	metricsURL string
	healthURL  string
	exited     chan struct{}
	log        *os.File
}

// startHubProcess runs `bin hub` against the hub with a kubeconfig, on
// fresh loopback ports, with extra arguments, and waits until it is ready.
func startHubProcess(ctx context.Context, bin, kubeconfig, logPath string, extra ...string) (*hubProcess, error) {
	mport, err := localfleet.FreePort()
	if err != nil {
		return nil, err
	}
	hport, err := localfleet.FreePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "hub",
		"--kubeconfig", kubeconfig,
		"--leader-elect=false",
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", mport),
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", hport),
	)
	cmd.Args = append(cmd.Args, extra...)
	cmd.Args = append(cmd.Args, hubArgs()...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C meant for `go test` does not reach it
	// before the benchmark's cleanup does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	h := &hubProcess{
		cmd:        cmd,
		pid:        cmd.Process.Pid,
		metricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", mport),
		healthURL:  fmt.Sprintf("http://127.0.0.1:%d/readyz", hport),
		exited:     make(chan struct{}),
		log:        logf,
	}
	go func() {
		_ = cmd.Wait()
		close(h.exited)
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-h.exited:
			logf.Close()
			return nil, fmt.Errorf("flotilla hub exited at start; log in %s", logPath)
		default:
		}
		if err := ctx.Err(); err != nil {
			h.kill()
			return nil, err
		}
		if resp, err := http.Get(h.healthURL); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h, nil
			}
		}
		if time.Now().After(deadline) {
			h.kill()
			return nil, fmt.Errorf("flotilla hub not ready after a minute; log in %s", logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (h *hubProcess) kill() {
	if h == nil {
		return
	}
	select {
	case <-h.exited:
	default:
		_ = h.cmd.Process.Signal(syscall.SIGKILL)
		<-h.exited
	}
	_ = h.log.Close()
}

// usage is what the process used in one phase.
type usage struct {
	// PeakRSS is the highest resident set (VmHWM) in the phase, in bytes.
	PeakRSS int64
	// CPU is user plus system time in the phase.
	CPU time.Duration
	// Fleet is the CPU time of the other processes in the phase.
	Fleet cpuDelta
}

// resetPeak makes the process's peak RSS its current RSS (clear_refs 5),
// so that VmHWM tells the peak of the phase that starts.
func (h *hubProcess) resetPeak() {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", h.pid), []byte("5"), 0o200)
}

func (h *hubProcess) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) < 2 {
				break
			}
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

func (h *hubProcess) cpuTime() (time.Duration, error) { return procCPU(h.pid) }

// scrape reads the process's Prometheus metrics.
func (h *hubProcess) scrape() (metricSet, error) {
	resp, err := http.Get(h.metricsURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", h.metricsURL, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// sample is one series of the text exposition format.
type sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// metricSet is one scrape.
type metricSet []sample

// sum adds the series of name whose labels include every pair of match.
func (s metricSet) sum(name string, match ...string) float64 {
	var total float64
	for _, x := range s {
		if x.Name != name || !hasLabels(x.Labels, match) {
			continue
		}
		total += x.Value
	}
	return total
}

// has reports whether a series of name with the labels exists.
func (s metricSet) has(name string, match ...string) bool {
	for _, x := range s {
		if x.Name == name && hasLabels(x.Labels, match) {
			return true
		}
	}
	return false
}

// byLabel sums the series of name by the value of one label.
func (s metricSet) byLabel(name, label string, match ...string) map[string]float64 {
	out := map[string]float64{}
	for _, x := range s {
		if x.Name == name && hasLabels(x.Labels, match) {
			out[x.Labels[label]] += x.Value
		}
	}
	return out
}

func hasLabels(l map[string]string, match []string) bool {
	for i := 0; i+1 < len(match); i += 2 {
		if l[match[i]] != match[i+1] {
			return false
		}
	}
	return true
}

// parseMetrics reads the Prometheus text format: `name{k="v",...} value`.
func parseMetrics(r io.Reader) (metricSet, error) {
	var out metricSet
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		x := sample{Labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(line, "{ "); i >= 0 && line[i] == '{' {
			x.Name = line[:i]
			var err error
			if rest, err = parseLabels(line[i+1:], x.Labels); err != nil {
				return nil, fmt.Errorf("metrics line %q: %w", line, err)
			}
		} else if i >= 0 {
			x.Name, rest = line[:i], line[i:]
		} else {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		x.Value = v
		out = append(out, x)
	}
	return out, sc.Err()
}

// parseLabels reads `k="v",...}` into l and returns what follows the brace.
func parseLabels(s string, l map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " ,")
		if strings.HasPrefix(s, "}") {
			return s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return "", errors.New("malformed label")
		}
		key := strings.TrimSpace(s[:eq])
		var val strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[i])
				}
				continue
			}
			val.WriteByte(s[i])
		}
		if i >= len(s) {
			return "", errors.New("unterminated label value")
		}
		l[key] = val.String()
		s = s[i+1:]
	}
}

// buildFlotilla builds ./cmd/flotilla into dir.
func buildFlotilla(root, dir string) (string, error) {
	bin := filepath.Join(dir, "flotilla")
	build := exec.Command("go", "build", "-o", bin, "./cmd/flotilla")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build flotilla: %v\n%s", err, out)
	}
	return bin, nil
}

// histogramQuantile returns the upper bound of the bucket that holds
// quantile q of the observations a histogram gained between two scrapes.
func histogramQuantile(before, after metricSet, name string, q float64, match ...string) (float64, bool) {
	delta := diff(after.byLabel(name+"_bucket", "le", match...), before.byLabel(name+"_bucket", "le", match...))
	type bucket struct{ le, n float64 }
	var bs []bucket
	for le, n := range delta {
		v, err := strconv.ParseFloat(le, 64)
		if err != nil {
			continue
		}
		bs = append(bs, bucket{v, n})
	}
	if len(bs) == 0 {
		return 0, false
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	total := bs[len(bs)-1].n // the +Inf bucket counts every observation
	if total == 0 {
		return 0, false
	}
	for _, b := range bs {
		if b.n >= q*total {
			return b.le, true
		}
	}
	return math.Inf(1), true
}
