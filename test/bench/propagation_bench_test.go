package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/hub/propagation"
	"github.com/flotilla-io/flotilla/internal/localfleet"
)

// Settings of BenchmarkPropagation.
const (
	// createWorkers create objects at once, per cluster.
	createWorkers = 32
	// latencyObjects are created one at a time, every latencyInterval.
	latencyObjects  = 100
	latencyInterval = 500 * time.Millisecond
	// pollInterval is how often the members are listed in the bulk phase.
	pollInterval = 500 * time.Millisecond
	// memberControllerQPS is the members' kube-controller-manager and
	// kube-scheduler client QPS: at their defaults (20 and 50) the pods of
	// 5,000 Deployments take most of an hour.
	memberControllerQPS = 1000

	existsTimeout  = 30 * time.Minute
	readyTimeout   = 15 * time.Minute
	cleanTimeout   = 15 * time.Minute
	restartTimeout = 10 * time.Minute
	// quietAfterRestart is how long writes are still counted after the
	// restarted hub reached steady state.
	quietAfterRestart = 15 * time.Second
)

var benchMembers = []string{"member-cluster-1", "member-cluster-2"}

var (
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	bindingsGVR    = workv1alpha1.GroupVersion.WithResource("resourcebindings")
)

// BenchmarkPropagation measures the propagation pipeline with the hub's
// controllers in a `flotilla hub` process of their own, on a hub with two
// kwok members, against lower bounds measured in the same run:
//
//   - bulk: N one-replica Deployments duplicated to both members, until
//     every member object exists (against creating them straight into the
//     members), and until every template shows the members' ready replicas;
//   - latency: one Deployment at a time at 2/s, until it exists in both
//     members (against the hub create itself);
//   - restart: the hub process killed and started again with the largest N
//     propagated, until it is steady, and the member writes it made.
//
// It reports the hub process's peak RSS and CPU time per phase. Sizes come
// from FLOTILLA_BENCH_SIZES (default "2000,5000"); FLOTILLA_BENCH_HUB_ARGS
// adds arguments to `flotilla hub` (e.g. "--detector-workers=32"), for
// experiments.
func BenchmarkPropagation(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runPropagation(b)
	}
}

// benchEnv is the running fleet and clients of one run.
type benchEnv struct {
	home     string
	bin      string
	hubKC    string
	hubCS    kubernetes.Interface
	hubMeta  metadata.Interface
	hubCtrl  client.Client
	hubDyn   dynamic.Interface
	hubExt   apiextensionsclient.Interface
	root     string
	members  map[string]kubernetes.Interface
	memMeta  map[string]metadata.Interface
	hub      *hubProcess
	hubLog   string
	progress func(format string, args ...any)
	// cpuGroups are the fleet's processes, by group, for the CPU figures.
	cpuGroups map[string][]string
}

// phaseMeter measures the hub process and the fleet over one phase.
type phaseMeter struct {
	h    *hubProcess
	cpu0 time.Duration
	snap cpuSnapshot
	g    map[string][]string
}

// meter starts a phase.
func (e *benchEnv) meter() *phaseMeter {
	e.hub.resetPeak()
	cpu, _ := e.hub.cpuTime()
	return &phaseMeter{h: e.hub, cpu0: cpu, snap: takeCPU(e.cpuGroups), g: e.cpuGroups}
}

// stop ends the phase.
func (m *phaseMeter) stop() usage {
	cpu, _ := m.h.cpuTime()
	rss, _ := m.h.peakRSS()
	return usage{PeakRSS: rss, CPU: cpu - m.cpu0, Fleet: takeCPU(m.g).since(m.snap)}
}

// phaseUsage is the hub process's usage in one phase.
type phaseUsage struct {
	Phase string
	// Key names the phase in the benchmark's metrics.
	Key string
	usage
}

// bulkResult is one size's bulk phase and its lower bound.
type bulkResult struct {
	N int
	// LowerBound is the time to create N Deployments straight into each
	// member; LowerBoundClean the time to delete them again.
	LowerBound, LowerBoundClean time.Duration
	// Floor is the time to create N Deployments straight into each member
	// while N templates are created on the hub (no policy selects them);
	// FloorHub the time until the templates were all created too.
	Floor, FloorHub time.Duration
	// FloorBindings is the same with a binding created on the hub for each
	// template as it is created (floorWithBindings); FloorBindingsHub the
	// time until the templates and bindings were all created.
	FloorBindings, FloorBindingsHub time.Duration
	// HubCreates is the time to create the N templates on the hub.
	HubCreates time.Duration
	// Exists is the time until every member object exists, per member and
	// for both: when a watch of each member delivered the last of them.
	// Listed is when a list of each member, every pollInterval, first
	// counted them all: the measure before the watch, late by up to the
	// interval plus a list's time on a busy member.
	Exists    time.Duration
	PerMember map[string]time.Duration
	Listed    time.Duration
	// Ready is the time until every template shows the summed ready
	// replicas of both members; negative when it was not reached.
	Ready time.Duration
	// MembersReady is the time until every member object is ready in its
	// member, which the template's status cannot beat.
	MembersReady time.Duration
	// Deleted is the time from deleting the hub namespace until the member
	// objects are gone (zero when the size was kept).
	Deleted time.Duration
	// Reconciles, Writes and Retries are the hub's metrics over the phase.
	Reconciles map[string]float64
	Writes     map[string]float64
	Retries    float64
	// Audit summarizes the hub process's writes to the hub in the phase.
	Audit string
}

// latencyResult is the single-object latency phase.
type latencyResult struct {
	P50, P99, Max        time.Duration
	CreateP50, CreateP99 time.Duration
	// Slowest shows the hub writes about the slowest objects.
	Slowest string
	// Histograms are the hub's own latency histograms over the phase.
	Histograms string
	// Stages breaks the latency into the pipeline's steps.
	Stages string
}

// restartResult is the hub restart phase.
type restartResult struct {
	Templates   int
	Bindings    int
	Steady      time.Duration
	Writes      float64
	WritesLater float64
	Reconciles  float64
	// Requeues are the execution reconciles that asked to look again
	// later (member caches not synced yet) until steady.
	Requeues   float64
	WritesByOp string
}

func runPropagation(b *testing.B) {
	sizes, err := benchSizes()
	if err != nil {
		b.Fatal(err)
	}
	var specs []localfleet.MemberSpec
	for _, name := range benchMembers {
		specs = append(specs, localfleet.MemberSpec{Name: name, Nodes: 3, NodePods: "5000", ControllerQPS: memberControllerQPS})
	}
	start := time.Now()
	e, f, root, done := startBench(b, specs)
	defer done()
	ctx := context.Background()
	rev := revision(root)
	e.progress("fleet up after %.1fs; building flotilla at %s", time.Since(start).Seconds(), rev)
	e.cpuGroups = cpuGroups(e.home, benchMembers)
	e.startHub(b, f, root)
	if err := e.ensureFloorCRD(ctx); err != nil {
		b.Fatal(err)
	}

	var usages []phaseUsage
	var bulks []bulkResult
	for i, n := range sizes {
		r := bulkResult{N: n}
		meter := e.meter()
		if err := e.lowerBound(ctx, n, &r); err != nil {
			b.Fatal(err)
		}
		usages = append(usages, phaseUsage{fmt.Sprintf("lower bound %d (hub idle)", n), fmt.Sprintf("lowerbound%d", n), meter.stop()})
		meter = e.meter()
		if err := e.floor(ctx, n, &r); err != nil {
			b.Fatal(err)
		}
		usages = append(usages, phaseUsage{fmt.Sprintf("floor %d (templates, no policy)", n), fmt.Sprintf("floor%d", n), meter.stop()})
		meter = e.meter()
		if err := e.floorWithBindings(ctx, n, &r); err != nil {
			b.Fatal(err)
		}
		usages = append(usages, phaseUsage{fmt.Sprintf("floor %d with bindings", n), fmt.Sprintf("floorb%d", n), meter.stop()})
		meter = e.meter()
		if err := e.bulk(ctx, n, &r); err != nil {
			b.Fatal(err)
		}
		usages = append(usages, phaseUsage{fmt.Sprintf("bulk %d", n), fmt.Sprintf("bulk%d", n), meter.stop()})
		if i < len(sizes)-1 {
			// Keep only the largest size for the later phases.
			meter = e.meter()
			if err := e.deleteBulk(ctx, n, &r); err != nil {
				b.Fatal(err)
			}
			usages = append(usages, phaseUsage{fmt.Sprintf("delete %d", n), fmt.Sprintf("delete%d", n), meter.stop()})
		}
		bulks = append(bulks, r)
	}

	// Latency is measured in steady state: after the last bulk's pods.
	e.settle(ctx, 5*time.Minute)
	meter := e.meter()
	lat, err := e.latency(ctx)
	if err != nil {
		b.Fatal(err)
	}
	usages = append(usages, phaseUsage{"latency", "latency", meter.stop()})

	snap := takeCPU(e.cpuGroups)
	rs, restartUsage, err := e.restart(ctx, sizes[len(sizes)-1])
	restartUsage.Fleet = takeCPU(e.cpuGroups).since(snap)
	if err != nil {
		b.Fatal(err)
	}
	usages = append(usages, phaseUsage{"restart (new process, start to steady)", "restart", restartUsage})

	fmt.Printf("\nflotilla built at %s; `flotilla hub` extra arguments: %q\n", rev, hubArgs())
	report(b, bulks, lat, rs, usages)
	if lines := grepLines(e.hubLog, "client-side throttling", 8); len(lines) > 0 {
		fmt.Printf("\nflotilla hub log, client-side throttling (client-go logs such a wait over 1 s at most every 10 s):\n  %s\n", strings.Join(lines, "\n  "))
	}
}

// startBench brings up a fleet with the members specs, as the benchmarks
// share it, and returns the bench environment, the fleet, the repository
// root, and the function that tears it all down.
func startBench(b *testing.B, specs []localfleet.MemberSpec) (*benchEnv, *localfleet.Fleet, string, func()) {
	root, bins, home := benchPrereqs(b)
	e := &benchEnv{home: home, hubLog: filepath.Join(home, "flotilla-hub.log"),
		members: map[string]kubernetes.Interface{}, memMeta: map[string]metadata.Interface{},
		progress: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
		}}
	done := func() {
		e.hub.kill()
		keepLog(e.hubLog)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := localfleet.Down(ctx, home, bins, nil); err != nil {
			fmt.Fprintf(os.Stderr, "bench: fleet down: %v\n", err)
		}
		_ = os.RemoveAll(home)
	}
	f, err := localfleet.Up(context.Background(), localfleet.FleetOptions{Home: home, Binaries: bins, Members: specs,
		Progress: progressWriter{e.progress}})
	if err != nil {
		done()
		b.Fatal(err)
	}
	return e, f, root, done
}

// startHub builds flotilla, makes the clients, starts `flotilla hub` with
// extra arguments and waits until the members are Ready.
func (e *benchEnv) startHub(b *testing.B, f *localfleet.Fleet, root string, extra ...string) {
	ctx := context.Background()
	var err error
	if e.bin, err = buildFlotilla(root, e.home); err != nil {
		b.Fatal(err)
	}
	e.hubKC = f.Hub.ControllerKubeconfig
	e.root = root
	if err := e.clients(f); err != nil {
		b.Fatal(err)
	}
	if e.hub, err = startHubProcess(ctx, e.bin, e.hubKC, e.hubLog, extra...); err != nil {
		b.Fatal(err)
	}
	if err := e.waitClustersReady(ctx, 2*time.Minute); err != nil {
		b.Fatal(err)
	}
}

// revision names the commit the benchmark built, and whether the code
// outside the tests differed from it.
func revision(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown revision"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--", "cmd", "internal", "api").Output(); err == nil && len(st) > 0 {
		rev += " with local changes: " + strings.Join(strings.Fields(strings.ReplaceAll(string(st), "\n", " ")), " ")
	}
	return rev
}

// hubArgs are the extra arguments of `flotilla hub`.
func hubArgs() []string { return strings.Fields(os.Getenv("FLOTILLA_BENCH_HUB_ARGS")) }

// grepLines returns up to n lines of a file that contain s.
func grepLines(path, s string, n int) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = append(out[:n/2], out[len(out)-n/2:]...)
	}
	return out
}

func benchSizes() ([]int, error) {
	v := os.Getenv("FLOTILLA_BENCH_SIZES")
	if v == "" {
		v = "2000,5000"
	}
	var out []int
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("FLOTILLA_BENCH_SIZES=%q: want a comma-separated list of positive numbers", v)
		}
		out = append(out, n)
	}
	return out, nil
}

type progressWriter struct{ f func(string, ...any) }

func (p progressWriter) Write(b []byte) (int, error) {
	p.f("%s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// keepLog copies the hub process's log where a failed run can be read.
func keepLog(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	dst := filepath.Join(os.TempDir(), fmt.Sprintf("flotilla-bench-hub-%s.log", time.Now().Format("20060102-150405")))
	if os.WriteFile(dst, data, 0o644) == nil {
		fmt.Fprintf(os.Stderr, "bench: flotilla hub log kept in %s\n", dst)
	}
}

// clients makes the admin clients of the hub and the members. The member
// clients have the pipeline's member QPS, so the lower bound is what the
// pipeline could do with its own rate limits.
func (e *benchEnv) clients(f *localfleet.Fleet) error {
	hubCfg, err := f.Hub.RESTConfig()
	if err != nil {
		return err
	}
	hubCfg.QPS, hubCfg.Burst = 5000, 10000
	if e.hubCS, err = kubernetes.NewForConfig(hubCfg); err != nil {
		return err
	}
	if e.hubMeta, err = metadata.NewForConfig(hubCfg); err != nil {
		return err
	}
	if e.hubCtrl, err = client.New(hubCfg, client.Options{Scheme: api.Scheme}); err != nil {
		return err
	}
	if e.hubDyn, err = dynamic.NewForConfig(hubCfg); err != nil {
		return err
	}
	if e.hubExt, err = apiextensionsclient.NewForConfig(hubCfg); err != nil {
		return err
	}
	opts := propagation.DefaultOptions()
	for _, name := range benchMembers {
		m, ok := f.Members[name]
		if !ok {
			return fmt.Errorf("member %s did not start", name)
		}
		cfg, err := m.RESTConfig()
		if err != nil {
			return err
		}
		cfg.QPS, cfg.Burst = opts.MemberQPS, opts.MemberBurst
		if e.members[name], err = kubernetes.NewForConfig(cfg); err != nil {
			return err
		}
		if e.memMeta[name], err = metadata.NewForConfig(rest.CopyConfig(cfg)); err != nil {
			return err
		}
	}
	return nil
}

func (e *benchEnv) waitClustersReady(ctx context.Context, timeout time.Duration) error {
	return poll(ctx, time.Second, timeout, func() (bool, error) {
		for _, name := range benchMembers {
			var c clusterv1alpha1.Cluster
			if err := e.hubCtrl.Get(ctx, client.ObjectKey{Name: name}, &c); err != nil {
				return false, nil
			}
			if !meta.IsStatusConditionTrue(c.Status.Conditions, clusterv1alpha1.ConditionReady) {
				return false, nil
			}
		}
		return true, nil
	})
}
