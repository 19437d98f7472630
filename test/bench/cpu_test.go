package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuGroups are the fleet's processes whose CPU time a phase reports, by
// group, as pid files relative to the fleet's home.
func cpuGroups(home string, members []string) map[string][]string {
	hub := func(n string) string { return filepath.Join(home, "hub", "run", n+".pid") }
	g := map[string][]string{
		"hub k8s": {hub("kube-apiserver"), hub("etcd"), hub("kube-controller-manager")},
	}
	for _, m := range members {
		for _, n := range []string{"kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kwok-controller"} {
			g["members"] = append(g["members"], filepath.Join(home, "members", "clusters", m, "pids", n+".pid"))
		}
	}
	return g
}

// cpuSnapshot is the CPU time of each group, of this process and of the
// whole machine at one moment.
type cpuSnapshot struct {
	at      time.Time
	groups  map[string]time.Duration
	self    time.Duration
	busy    time.Duration
	elapsed time.Duration
}

func takeCPU(groups map[string][]string) cpuSnapshot {
	s := cpuSnapshot{at: time.Now(), groups: map[string]time.Duration{}}
	for g, files := range groups {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				continue
			}
			d, _ := procCPU(pid)
			s.groups[g] += d
		}
	}
	s.self, _ = procCPU(os.Getpid())
	s.busy, s.elapsed, _ = machineCPU()
	return s
}

// cpuDelta is what each group used between two snapshots.
type cpuDelta struct {
	Wall   time.Duration
	Groups map[string]time.Duration
	Bench  time.Duration
	// Busy is the machine's busy CPU time (every process, ours or not).
	Busy time.Duration
}

func (s cpuSnapshot) since(old cpuSnapshot) cpuDelta {
	d := cpuDelta{Wall: s.at.Sub(old.at), Groups: map[string]time.Duration{}, Bench: s.self - old.self, Busy: s.busy - old.busy}
	for g, v := range s.groups {
		d.Groups[g] = v - old.groups[g]
	}
	return d
}

// procCPU is the user plus system time of a process.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it do not.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// machineCPU reads the busy and the total CPU time of the machine, summed
// over its cores, from /proc/stat.
func machineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, errors.New("malformed /proc/stat")
	}
	var ticks, idle int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if i >= 8 {
			break // guest time is already in user time
		}
		ticks += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return time.Duration(ticks-idle) * time.Second / clockTicks, time.Duration(ticks) * time.Second / clockTicks, nil
}
