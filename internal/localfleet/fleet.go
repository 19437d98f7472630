package localfleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/install"
	"github.com/flotilla-io/flotilla/internal/membership"
)

// DefaultMembers are the clusters of the seed's first case: two cloud
// members and one edge cluster.
func DefaultMembers() []MemberSpec {
	return []MemberSpec{
		{Name: "member-cluster-1", Nodes: 3, Provider: "cloud-a", Region: "cloud-a", Zone: "cloud-a-1",
			Labels: map[string]string{"environment": "production"}},
		{Name: "member-cluster-2", Nodes: 3, Provider: "cloud-b", Region: "cloud-b", Zone: "cloud-b-1",
			Labels: map[string]string{"environment": "production"}},
		{Name: "edge-cluster", Nodes: 2, Provider: "edge", Region: "edge-1", Zone: "edge-1-a",
			Labels: map[string]string{"environment": "edge"}, Pull: true},
	}
}

// FleetOptions configure a local fleet.
type FleetOptions struct {
	// Home is the state directory ($FLOTILLA_HOME).
	Home     string
	Binaries Binaries
	Members  []MemberSpec
	// FlotillaBinary, when set, is started as `flotilla hub` against the
	// hub. Tests that run the hub controllers in-process leave it empty.
	FlotillaBinary string
	// HubArgs are extra arguments for `flotilla hub`.
	HubArgs []string
	// Detach lets every process outlive the caller (flotilla up).
	Detach bool
	// UnsafeFastEtcd disables fsync in the hub's etcd, for tests.
	UnsafeFastEtcd bool
	// SkipJoin starts the members without joining them to the hub.
	SkipJoin bool
	// Progress receives progress lines; may be nil.
	Progress io.Writer
}

// Fleet is a running local fleet.
type Fleet struct {
	Home    string
	Hub     *Hub
	Members map[string]*Member
	// HubProcess is the `flotilla hub` process, when one was started.
	hubProc *process
	opts    FleetOptions
}

func (o *FleetOptions) logf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format+"\n", args...)
	}
}

// homeMarker marks a directory as a fleet's home, so that Down never
// deletes a directory that `up` did not make.
const homeMarker = ".flotilla-home"

// KubeconfigDir is where the fleet's kubeconfigs are written.
func KubeconfigDir(home string) string { return filepath.Join(home, "kubeconfig") }

// HubKubeconfig is the path of the hub's admin kubeconfig in home.
func HubKubeconfig(home string) string { return filepath.Join(KubeconfigDir(home), "hub.yaml") }

// Up brings up the fleet, reusing whatever part of it already runs: the hub,
// the hub controller, each member, and each member's membership.
func Up(ctx context.Context, o FleetOptions) (*Fleet, error) {
	if o.Home == "" {
		return nil, errors.New("no home directory for the fleet")
	}
	home, err := filepath.Abs(o.Home)
	if err != nil {
		return nil, err
	}
	o.Home = home
	if err := os.MkdirAll(KubeconfigDir(home), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(home, homeMarker), []byte("flotilla local fleet\n"), 0o600); err != nil {
		return nil, err
	}
	f := &Fleet{Home: home, Members: map[string]*Member{}, opts: o}

	start := time.Now()
	o.logf("starting the hub (etcd, kube-apiserver, kube-controller-manager)")
	f.Hub, err = StartHub(ctx, HubOptions{
		Dir: filepath.Join(home, "hub"), Binaries: o.Binaries, Detach: o.Detach, UnsafeFastEtcd: o.UnsafeFastEtcd,
		Log: func(format string, args ...any) { o.logf("  "+format, args...) },
	})
	if err != nil {
		return f, fmt.Errorf("start hub: %w", err)
	}
	if err := copyFile(f.Hub.AdminKubeconfig, HubKubeconfig(home)); err != nil {
		return f, err
	}
	cfg, err := f.Hub.RESTConfig()
	if err != nil {
		return f, err
	}
	o.logf("hub ready at %s (%.1fs); installing Flotilla's API", f.Hub.URL, time.Since(start).Seconds())
	if err := install.Install(ctx, cfg, nil); err != nil {
		return f, fmt.Errorf("install on hub: %w", err)
	}
	if o.FlotillaBinary != "" {
		if err := f.startHubController(); err != nil {
			return f, err
		}
	}

	o.logf("starting %d member clusters", len(o.Members))
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(o.Members))
	mo := MemberOptions{Workdir: filepath.Join(home, "members"), Binaries: o.Binaries}
	for i, s := range o.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			m, err := StartMember(ctx, mo, s)
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			f.Members[s.Name] = m
			mu.Unlock()
			o.logf("  member %s ready (%.1fs)", s.Name, time.Since(t).Seconds())
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return f, err
	}

	hubClient, err := client.New(cfg, client.Options{Scheme: api.Scheme})
	if err != nil {
		return f, err
	}
	for _, s := range o.Members {
		m := f.Members[s.Name]
		if err := copyFile(m.Kubeconfig, filepath.Join(KubeconfigDir(home), s.Name+".yaml")); err != nil {
			return f, err
		}
		if o.SkipJoin {
			continue
		}
		if s.Pull && o.FlotillaBinary != "" {
			if err := f.registerPull(ctx, cfg, s); err != nil {
				return f, err
			}
			continue
		}
		var c clusterv1alpha1.Cluster
		err := hubClient.Get(ctx, client.ObjectKey{Name: s.Name}, &c)
		if err == nil {
			continue
		}
		if !apierrors.IsNotFound(err) {
			return f, err
		}
		o.logf("joining %s", s.Name)
		if _, err := membership.Join(ctx, hubClient, membership.JoinOptions{
			Name: s.Name, KubeconfigPath: m.Kubeconfig, Labels: s.Labels,
			Provider: s.Provider, Region: s.Region, Zone: s.Zone,
		}); err != nil {
			return f, err
		}
	}
	o.logf("fleet up in %.1fs", time.Since(start).Seconds())
	return f, nil
}

func (f *Fleet) hubControllerProcess() (*process, error) {
	portsPath := filepath.Join(f.Home, "hub", "controller-ports.json")
	ports := map[string]int{}
	if b, err := os.ReadFile(portsPath); err == nil {
		_ = json.Unmarshal(b, &ports)
	}
	if ports["metrics"] == 0 {
		var err error
		if ports["metrics"], err = FreePort(); err != nil {
			return nil, err
		}
		if ports["health"], err = FreePort(); err != nil {
			return nil, err
		}
		b, _ := json.Marshal(ports)
		if err := os.WriteFile(portsPath, b, 0o600); err != nil {
			return nil, err
		}
	}
	args := append([]string{"hub",
		"--kubeconfig=" + f.Hub.ControllerKubeconfig,
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(ports["metrics"]),
		"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(ports["health"]),
	}, f.opts.HubArgs...)
	return &process{name: "flotilla-hub", binary: f.opts.FlotillaBinary, args: args,
		dir: filepath.Join(f.Home, "hub", "run"), detach: f.opts.Detach}, nil
}

func (f *Fleet) startHubController() error {
	p, err := f.hubControllerProcess()
	if err != nil {
		return err
	}
	f.hubProc = p
	started, err := p.start()
	if err != nil {
		return err
	}
	if started {
		f.opts.logf("  started flotilla hub (log: %s)", p.logPath())
	}
	time.Sleep(300 * time.Millisecond)
	if !p.running() {
		return fmt.Errorf("flotilla hub exited at start; its log %s ends with:\n%s", p.logPath(), p.tail(2000))
	}
	return nil
}

// LogFiles lists every component log of the fleet.
func (f *Fleet) LogFiles() []string {
	var out []string
	if f.Hub != nil {
		out = append(out, f.Hub.LogFiles()...)
	}
	if f.hubProc != nil {
		out = append(out, f.hubProc.logPath())
	}
	names := make([]string, 0, len(f.Members))
	for n := range f.Members {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		logs, _ := filepath.Glob(filepath.Join(f.Members[n].LogDir(), "*.log"))
		out = append(out, logs...)
	}
	return out
}

// Down stops every process of the fleet in home and removes its state. It
// works from what is on disk, so it also cleans up after a crash or an
// interrupted `up`.
func Down(ctx context.Context, home string, bins Binaries, progress io.Writer) error {
	say := func(format string, args ...any) {
		if progress != nil {
			fmt.Fprintf(progress, format+"\n", args...)
		}
	}
	home, err := filepath.Abs(home)
	if err != nil {
		return err
	}
	if _, err := os.Stat(home); errors.Is(err, os.ErrNotExist) {
		say("nothing to do: %s does not exist", home)
		return nil
	}
	if _, err := os.Stat(filepath.Join(home, homeMarker)); err != nil {
		return fmt.Errorf("%s does not look like a Flotilla home (it has no %s file); refusing to stop processes or delete files there", home, homeMarker)
	}
	// Hub processes first, in reverse order of start.
	run := filepath.Join(home, "hub", "run")
	for _, name := range []string{"flotilla-hub", ComponentKubeControllerManager, ComponentKubeAPIServer, ComponentEtcd} {
		p := &process{name: name, dir: run}
		if p.running() {
			say("stopping %s", name)
		}
		_ = p.stop(10 * time.Second)
	}
	// Members through kwokctl when it is there; the sweep below catches
	// the rest.
	workdir := filepath.Join(home, "members")
	if entries, err := os.ReadDir(filepath.Join(workdir, "clusters")); err == nil && bins.Kwokctl != "" {
		mo := MemberOptions{Workdir: workdir, Binaries: bins}
		for _, e := range entries {
			say("deleting member %s", e.Name())
			if err := DeleteMember(ctx, mo, e.Name()); err != nil {
				say("  kwokctl could not delete %s (%v); stopping its processes directly", e.Name(), err)
			}
		}
	}
	if n := KillReferencing(home, 10*time.Second); n > 0 {
		say("stopped %d leftover processes", n)
	}
	if err := os.RemoveAll(home); err != nil {
		return fmt.Errorf("remove %s: %w", home, err)
	}
	say("removed %s", home)
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}
