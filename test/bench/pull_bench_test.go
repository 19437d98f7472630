package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flotilla-io/flotilla/api"
	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/agent/identity"
	"github.com/flotilla-io/flotilla/internal/localfleet"
	"github.com/flotilla-io/flotilla/internal/registration"
	"github.com/flotilla-io/flotilla/test/framework/tcpproxy"
)

// Settings of BenchmarkPullAgents.
const (
	// pullMember is the one kwok cluster every simulated Pull cluster's
	// agent applies to.
	pullMember = "pull-member"
	// pullProxyCluster reaches the hub through a proxy the benchmark cuts.
	pullProxyCluster = "edge-proxy"
	// pullProxyNamespace holds its one Deployment.
	pullProxyNamespace = "pull-bench-proxy"

	defaultPullClusters  = 100
	defaultPullWorkloads = 5
	defaultPullPartition = 30 * time.Second
	defaultPullSteady    = 60 * time.Second

	// pullRegisterWorkers register clusters at once.
	pullRegisterWorkers = 8
	// pullCreateWorkers create the clusters' workloads at once.
	pullCreateWorkers   = 8
	pullReconnectRounds = 3
	// pullPoll is how often the benchmark looks at its informers' caches;
	// pullFinePoll how often it reads the reconnect cluster's objects.
	pullPoll     = 250 * time.Millisecond
	pullFinePoll = 100 * time.Millisecond

	pullReadyTimeout     = 10 * time.Minute
	pullWorkloadsTimeout = 15 * time.Minute
	pullReconnectTimeout = 5 * time.Minute
	pullQuietTimeout     = 2 * time.Minute
	// pullNoProgress ends phase (d) early when none of its counts moved
	// for that long.
	pullNoProgress = 5 * time.Minute
)

// BenchmarkPullAgents measures what Pull-mode clusters cost the hub, what
// an agent weighs, and how fast a partitioned agent brings the hub up to
// date when its link comes back.
//
// The hub's controllers run as a `flotilla hub` process of their own. N
// Pull clusters (edge-000, edge-001, ...) are registered, each with a real
// `flotilla agent --dir DIR` process; every one of those agents applies to
// the same kwok member cluster, so they are simulated edge sites on one
// machine. Each cluster gets its own namespace (pull-bench-NNN) whose
// PropagationPolicy pins its Deployments to that cluster only, so that no
// two agents manage the same objects. Phases:
//
//	(a) steady window with no Pull cluster (the baseline);
//	(b) registration of N clusters, until all are Ready in mode Pull;
//	(c) steady window with N idle agents heartbeating;
//	(d) K one-replica Deployments per cluster, until every Work is Applied
//	    and Available on the hub and every template shows its ready replica;
//	(e) steady window with the workloads.
//
// Then one more cluster, edge-proxy, whose agent reaches the hub through a
// TCP proxy: the proxy is cut for the partition, its Deployment is scaled
// from 1 to 2 replicas on the hub meanwhile, the link is restored, and the
// clock runs until the hub shows 2 ready replicas for it (Work, binding and
// template), three times.
//
// Environment: FLOTILLA_BENCH_PULL_CLUSTERS (N, default 100),
// FLOTILLA_BENCH_PULL_WORKLOADS (K, default 5), FLOTILLA_BENCH_PULL_PARTITION
// (a Go duration, default 30s), FLOTILLA_BENCH_PULL_STEADY (the steady
// windows, default 60s), FLOTILLA_BENCH_HUB_ARGS (extra `flotilla hub`
// arguments).
func BenchmarkPullAgents(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runPullAgents(b)
	}
}

// pullSettings are one run's sizes.
type pullSettings struct {
	Clusters, Workloads int
	Partition, Steady   time.Duration
}

func pullSettingsFromEnv() (pullSettings, error) {
	s := pullSettings{Clusters: defaultPullClusters, Workloads: defaultPullWorkloads, Partition: defaultPullPartition, Steady: defaultPullSteady}
	ints := map[string]*int{"FLOTILLA_BENCH_PULL_CLUSTERS": &s.Clusters, "FLOTILLA_BENCH_PULL_WORKLOADS": &s.Workloads}
	for env, p := range ints {
		if v := os.Getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 999 {
				return s, fmt.Errorf("%s=%q: want a number from 1 to 999", env, v)
			}
			*p = n
		}
	}
	durs := map[string]*time.Duration{"FLOTILLA_BENCH_PULL_PARTITION": &s.Partition, "FLOTILLA_BENCH_PULL_STEADY": &s.Steady}
	for env, p := range durs {
		if v := os.Getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				n, aerr := strconv.Atoi(v)
				if aerr != nil {
					return s, fmt.Errorf("%s=%q: want a Go duration such as 30s", env, v)
				}
				d = time.Duration(n) * time.Second
			}
			if d <= 0 {
				return s, fmt.Errorf("%s=%q: want a positive duration", env, v)
			}
			*p = d
		}
	}
	return s, nil
}

func edgeName(i int) string      { return fmt.Sprintf("edge-%03d", i) }
func edgeNamespace(i int) string { return fmt.Sprintf("pull-bench-%03d", i) }

// pullEnv is the running fleet, clients and agents of one run.
type pullEnv struct {
	s        pullSettings
	home     string
	bin      string
	hubURL   string
	hubCfg   *rest.Config
	hubCS    kubernetes.Interface
	hubCtrl  client.Client
	memberKC string
	member   *localfleet.Member
	// hubCache and memberCache follow the hub's Clusters, Works, bindings
	// and templates, and the member's Deployments, for the bulk waits.
	hubCache    cache.Cache
	memberCache cache.Cache
	hub         *hubProcess
	hubLog      string
	groups      map[string][]string
	token       string
	hashes      []string
	proxy       *tcpproxy.Proxy
	progress    func(format string, args ...any)

	mu         sync.Mutex
	agents     []*agentProc
	proxyAgent *agentProc
	// phaseName is the phase under way, for the member watchdog's record.
	phaseName string
	// memberRestarts records the member's components that died and were
	// started again.
	memberRestarts []string
}

func (e *pullEnv) setPhase(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.phaseName = name
}

// watchMember starts again, every few seconds until ctx ends, whatever
// component of the member has died, and records it: the member must keep
// running for the agents to have anything to apply to.
func (e *pullEnv) watchMember(ctx context.Context, start time.Time) {
	pids := filepath.Join(e.home, "members", "clusters", pullMember, "pids")
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
		files, _ := filepath.Glob(filepath.Join(pids, "*.pid"))
		var dead []string
		for _, f := range files {
			if !pidFileAlive(f) {
				dead = append(dead, strings.TrimSuffix(filepath.Base(f), ".pid"))
			}
		}
		if len(dead) == 0 || ctx.Err() != nil {
			continue
		}
		e.mu.Lock()
		phase := e.phaseName
		e.mu.Unlock()
		e.progress("member %s: %s exited (phase %s); starting it again", pullMember, strings.Join(dead, ", "), phase)
		rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		err := e.member.Restart(rctx)
		cancel()
		note := fmt.Sprintf("%s exited at %s (phase %s), restarted", strings.Join(dead, ", "), time.Since(start).Round(time.Second), phase)
		if err != nil {
			note += fmt.Sprintf(" with error: %v", err)
		}
		e.mu.Lock()
		e.memberRestarts = append(e.memberRestarts, note)
		e.mu.Unlock()
	}
}

func (e *pullEnv) addAgent(a *agentProc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.agents = append(e.agents, a)
}

func (e *pullEnv) edgeAgents() []*agentProc {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*agentProc(nil), e.agents...)
}

func (e *pullEnv) allAgents() []*agentProc {
	out := e.edgeAgents()
	if e.proxyAgent != nil {
		out = append(out, e.proxyAgent)
	}
	return out
}

// pullPhase is what one phase cost.
type pullPhase struct {
	Name, Key string
	Wall      time.Duration
	// HubCPU is the `flotilla hub` process's CPU time; HubPeakRSS its
	// VmHWM in the phase, HubRSS its VmRSS at the end, HubHeap its Go heap
	// in use at the end.
	HubCPU     time.Duration
	HubPeakRSS int64
	HubRSS     int64
	HubHeap    float64
	// APIRSS and EtcdRSS are the hub's kube-apiserver and etcd resident
	// at the end.
	APIRSS, EtcdRSS int64
	// APIHeap is the hub kube-apiserver's Go heap in use at the end, and
	// APIWatches its open watches, from its /metrics.
	APIHeap    float64
	APIWatches float64
	// Fleet is the CPU time of the hub's kube-apiserver+etcd, its
	// kube-controller-manager, the member, this process and the machine.
	Fleet cpuDelta
	// Agents is the CPU time of the agent processes; AgentsAlive how many
	// ran at the end.
	Agents      time.Duration
	AgentsAlive int
	// Reconciles are the hub's reconciles by controller in the phase.
	Reconciles map[string]float64
	// AgentErrors are the error lines the agents logged in the phase.
	AgentErrors int
}

func perMinute(d, wall time.Duration) float64 { return d.Seconds() / max(wall.Minutes(), 1e-9) }

// pullMeter measures one phase.
type pullMeter struct {
	e       *pullEnv
	hubCPU0 time.Duration
	snap    cpuSnapshot
	agents  map[int]time.Duration
	m0      metricSet
	errs0   int
}

func (e *pullEnv) agentCPU() map[int]time.Duration {
	out := map[int]time.Duration{}
	for _, a := range e.allAgents() {
		if d, err := procCPU(a.pid()); err == nil {
			out[a.pid()] = d
		}
	}
	return out
}

func (e *pullEnv) meter() *pullMeter {
	m := &pullMeter{e: e}
	m.m0, _ = e.hub.scrape()
	e.hub.resetPeak()
	m.hubCPU0, _ = e.hub.cpuTime()
	m.snap = takeCPU(e.groups)
	m.agents = e.agentCPU()
	m.errs0 = e.agentErrorLines()
	return m
}

// agentErrorLines counts the error lines in every agent's log so far.
func (e *pullEnv) agentErrorLines() int {
	var paths []string
	for _, a := range e.allAgents() {
		paths = append(paths, a.logPath())
	}
	n := 0
	for _, c := range logErrors(paths...) {
		n += c
	}
	return n
}

func (m *pullMeter) stop(name, key string) pullPhase {
	e := m.e
	p := pullPhase{Name: name, Key: key}
	cpu, _ := e.hub.cpuTime()
	p.Fleet = takeCPU(e.groups).since(m.snap)
	p.Wall = p.Fleet.Wall
	p.HubCPU = cpu - m.hubCPU0
	for pid, d := range e.agentCPU() {
		p.Agents += d - m.agents[pid]
		p.AgentsAlive++
	}
	p.AgentErrors = e.agentErrorLines() - m.errs0
	p.HubPeakRSS, _ = e.hub.peakRSS()
	if mem, err := readProcMem(e.hub.pid); err == nil {
		p.HubRSS = mem.RSS
	}
	p.APIRSS = rssOf(filepath.Join(e.home, "hub", "run"), "kube-apiserver")
	p.EtcdRSS = rssOf(filepath.Join(e.home, "hub", "run"), "etcd")
	if am, err := e.apiserverMetrics(); err == nil {
		p.APIHeap = am.sum("go_memstats_heap_inuse_bytes")
		p.APIWatches = am.sum("apiserver_longrunning_requests", "verb", "WATCH")
	}
	if m1, err := e.hub.scrape(); err == nil {
		p.HubHeap = m1.sum("go_memstats_heap_inuse_bytes")
		p.Reconciles = diff(m1.byLabel("controller_runtime_reconcile_total", "controller"), m.m0.byLabel("controller_runtime_reconcile_total", "controller"))
	}
	e.progress("%s: %.0fs, flotilla hub CPU %.1fs, peak RSS %s, apiserver+etcd CPU %.1fs, agents CPU %.1fs",
		name, p.Wall.Seconds(), p.HubCPU.Seconds(), mib(p.HubPeakRSS), p.Fleet.Groups["apiserver+etcd"].Seconds(), p.Agents.Seconds())
	return p
}

// apiserverMetrics scrapes the hub's kube-apiserver.
func (e *pullEnv) apiserverMetrics() (metricSet, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := e.hubCS.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	return parseMetrics(strings.NewReader(string(raw)))
}

// steady measures a window in which nothing is done to the fleet, once
// the hub's queues are empty.
func (e *pullEnv) steady(ctx context.Context, name, key string) pullPhase {
	if err := e.waitQuiet(ctx, pullQuietTimeout); err != nil {
		e.progress("%s: %v; measuring anyway", name, err)
	}
	e.setPhase(name)
	e.progress("%s: measuring for %s", name, e.s.Steady)
	m := e.meter()
	// A fixed measurement window, not a wait for a condition.
	select {
	case <-ctx.Done():
	case <-time.After(e.s.Steady):
	}
	return m.stop(name, key)
}

// waitQuiet waits until the hub's work queues are empty.
func (e *pullEnv) waitQuiet(ctx context.Context, timeout time.Duration) error {
	err := poll(ctx, 500*time.Millisecond, timeout, func() (bool, error) {
		m, err := e.hub.scrape()
		if err != nil {
			return false, nil
		}
		return m.sum("workqueue_depth") == 0, nil
	})
	if err != nil {
		return fmt.Errorf("hub work queues not empty after %s", timeout)
	}
	return nil
}

// registerResult is phase (b).
type registerResult struct {
	// Registered is the time until every cluster was registered and its
	// agent started; Ready until every one was Ready in mode Pull.
	Registered, Ready time.Duration
	// Each is each registration's duration (discovery, CSR, approval).
	Each []time.Duration
}

// workloadResult is phase (d).
type workloadResult struct {
	Templates int
	// Created: every namespace, policy and template created on the hub.
	Created time.Duration
	// WorksExist: every Work written by the hub; WorksReady: every Work
	// Applied and Available for its current generation; Templates: every
	// template shows its ready replica; Member: every Deployment ready in
	// the member (what the hub's status cannot beat).
	WorksExist, WorksReady, TemplatesReady, MemberReady time.Duration
}

// reconnectRound is one partition of the proxy cluster.
type reconnectRound struct {
	// OfflineSeen: the hub marked the cluster Offline during the cut.
	OfflineSeen bool
	// SpecOnHub is the time from the scale until the hub rewrote the Work
	// (the agent cannot see it).
	SpecOnHub time.Duration
	// From the restore: the agent logged that it reached the hub again;
	// its lease was renewed; the Work's status shows 2 ready replicas;
	// the binding's; the template's.
	Seen, Lease, Work, Binding, Template time.Duration
	// ScaleDownOnline is the time for the scale back to 1 with the link
	// up, until the binding and the template show it: the online reference.
	ScaleDownOnline time.Duration
}

func runPullAgents(b *testing.B) {
	s, err := pullSettingsFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	crlog.SetLogger(logr.Discard())
	root, bins, home := benchPrereqs(b)
	runStart := time.Now()
	e := &pullEnv{s: s, home: home, hubLog: filepath.Join(home, "flotilla-hub.log"),
		progress: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "bench: %s "+format+"\n", append([]any{time.Since(runStart).Round(time.Second)}, args...)...)
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		e.cleanup(b, bins)
	}()

	e.progress("pull agents: %d clusters x %d Deployments, partition %s, steady windows %s", s.Clusters, s.Workloads, s.Partition, s.Steady)
	f, err := localfleet.Up(ctx, localfleet.FleetOptions{Home: home, Binaries: bins, SkipJoin: true,
		// The member's controllers keep their default client QPS: at a
		// higher one (memberControllerQPS) their burst of ReplicaSets and
		// pods, fanned out to every agent's informers, starved the
		// member's API server for long enough that its
		// kube-controller-manager lost its leader lease and exited.
		Members:  []localfleet.MemberSpec{{Name: pullMember, Nodes: 2, NodePods: "2000"}},
		Progress: progressWriter{e.progress}})
	if err != nil {
		b.Fatal(err)
	}
	rev := revision(root)
	e.progress("fleet up; building flotilla at %s", rev)
	if e.bin, err = buildFlotilla(root, home); err != nil {
		b.Fatal(err)
	}
	if err := e.setup(ctx, f); err != nil {
		b.Fatal(err)
	}
	if e.hub, err = startHubProcess(ctx, e.bin, f.Hub.ControllerKubeconfig, e.hubLog); err != nil {
		b.Fatal(err)
	}
	go e.watchMember(ctx, runStart)

	var phases []pullPhase
	phases = append(phases, e.steady(ctx, "(a) baseline, no Pull cluster", "a_baseline"))

	e.setPhase("(b) register")
	m := e.meter()
	reg, err := e.registerAll(ctx)
	if err != nil {
		b.Fatal(err)
	}
	phases = append(phases, m.stop(fmt.Sprintf("(b) register %d clusters", s.Clusters), "b_register"))

	phases = append(phases, e.steady(ctx, fmt.Sprintf("(c) %d idle agents", s.Clusters), "c_idle"))
	memIdle := measureAgents(fmt.Sprintf("end of (c), %d idle agents", s.Clusters), e.edgeAgents())

	e.setPhase("(d) workloads")
	m = e.meter()
	wl, err := e.workloads(ctx)
	if err != nil {
		b.Fatal(err)
	}
	phases = append(phases, m.stop(fmt.Sprintf("(d) %d Deployments to Ready", wl.Templates), "d_workloads"))

	phases = append(phases, e.steady(ctx, fmt.Sprintf("(e) %d agents with %d Deployments", s.Clusters, wl.Templates), "e_loaded"))
	memLoaded := measureAgents(fmt.Sprintf("end of (e), %d Deployments", wl.Templates), e.edgeAgents())

	e.setPhase("reconnect")
	if err := e.setupProxyCluster(ctx); err != nil {
		b.Fatal(err)
	}
	var rounds []reconnectRound
	for i := range pullReconnectRounds {
		r, err := e.reconnectRound(ctx, i+1)
		if err != nil {
			b.Fatal(err)
		}
		rounds = append(rounds, r)
	}

	hubErrs := logErrors(e.hubLog)
	var agentLogs []string
	for _, a := range e.allAgents() {
		agentLogs = append(agentLogs, a.logPath())
	}
	agentErrs := logErrors(agentLogs...)
	var dead []string
	for _, a := range e.allAgents() {
		if !a.alive() {
			dead = append(dead, fmt.Sprintf("%s (%v)", a.name, a.err))
		}
	}
	e.mu.Lock()
	restarts := append([]string(nil), e.memberRestarts...)
	e.mu.Unlock()
	pullReport(b, pullReportInput{s: s, rev: rev, memberRestarts: restarts, offline: e.offlineEvents(ctx), phases: phases, reg: reg, wl: wl, mem: []agentMem{memIdle, memLoaded},
		rounds: rounds, hubErrs: hubErrs, agentErrs: agentErrs, dead: dead,
		throttling: grepLines(e.hubLog, "client-side throttling", 6), took: time.Since(runStart)})
}

// setup makes the clients, the informers and the registration token.
func (e *pullEnv) setup(ctx context.Context, f *localfleet.Fleet) error {
	var err error
	if e.hubCfg, err = f.Hub.RESTConfig(); err != nil {
		return err
	}
	e.hubURL = e.hubCfg.Host
	cfg := rest.CopyConfig(e.hubCfg)
	cfg.QPS, cfg.Burst = 500, 1000
	if e.hubCS, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if e.hubCtrl, err = client.New(cfg, client.Options{Scheme: api.Scheme}); err != nil {
		return err
	}
	m, ok := f.Members[pullMember]
	if !ok {
		return fmt.Errorf("member %s did not start", pullMember)
	}
	e.memberKC, e.member = m.Kubeconfig, m
	memberCfg, err := m.RESTConfig()
	if err != nil {
		return err
	}
	memberCfg.QPS, memberCfg.Burst = 500, 1000

	run := func(n string) string { return filepath.Join(e.home, "hub", "run", n+".pid") }
	e.groups = map[string][]string{
		"apiserver+etcd": {run("kube-apiserver"), run("etcd")},
		"kcm":            {run("kube-controller-manager")},
	}
	for _, n := range []string{"kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kwok-controller"} {
		e.groups["member"] = append(e.groups["member"], filepath.Join(e.home, "members", "clusters", pullMember, "pids", n+".pid"))
	}

	// Informers, started before the baseline so that their watches are in
	// every phase alike.
	opts := cache.Options{Scheme: api.Scheme, DefaultTransform: cache.TransformStripManagedFields()}
	if e.hubCache, err = cache.New(cfg, opts); err != nil {
		return err
	}
	if e.memberCache, err = cache.New(memberCfg, opts); err != nil {
		return err
	}
	for _, o := range []client.Object{&clusterv1alpha1.Cluster{}, &workv1alpha1.Work{}, &workv1alpha1.ResourceBinding{}, &appsv1.Deployment{}} {
		if _, err := e.hubCache.GetInformer(ctx, o); err != nil {
			return err
		}
	}
	if _, err := e.memberCache.GetInformer(ctx, &appsv1.Deployment{}); err != nil {
		return err
	}
	for _, c := range []cache.Cache{e.hubCache, e.memberCache} {
		go func() { _ = c.Start(ctx) }()
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		synced := c.WaitForCacheSync(sctx)
		cancel()
		if !synced {
			return errors.New("informers did not sync")
		}
	}

	// The hub is readied for registrations, and the token made, before the
	// baseline: an administrator does that once.
	hashes, err := registration.PrepareHub(ctx, e.hubCS, e.hubCfg.Host, e.hubCfg.CAData)
	if err != nil {
		return fmt.Errorf("ready the hub for registrations: %w", err)
	}
	token, t, err := registration.CreateToken(ctx, e.hubCS, registration.TokenOptions{TTL: 3 * time.Hour,
		Description: "BenchmarkPullAgents"}, time.Now())
	if err != nil {
		return err
	}
	if err := registration.WaitSigned(ctx, e.hubCS, t.ID, time.Minute); err != nil {
		return err
	}
	e.token, e.hashes = token, hashes
	return nil
}

// cleanup stops every agent, the hub process and the fleet, even after a
// failure, and keeps the logs a failed run needs.
func (e *pullEnv) cleanup(b *testing.B, bins localfleet.Binaries) {
	agents := e.allAgents()
	if len(agents) > 0 {
		e.progress("stopping %d agents", len(agents))
	}
	if b.Failed() {
		e.keepAgentLogs(agents)
	}
	stopAgents(agents)
	if e.proxy != nil {
		e.proxy.Close()
	}
	e.hub.kill()
	keepLog(e.hubLog)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := localfleet.Down(ctx, e.home, bins, nil); err != nil {
		fmt.Fprintf(os.Stderr, "bench: fleet down: %v\n", err)
	}
	_ = os.RemoveAll(e.home)
}

// keepAgentLogs copies the agents' logs where a failed run can read them.
func (e *pullEnv) keepAgentLogs(agents []*agentProc) {
	dst := filepath.Join(os.TempDir(), "flotilla-bench-pull-agents-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return
	}
	for _, a := range agents {
		if data, err := os.ReadFile(a.logPath()); err == nil {
			_ = os.WriteFile(filepath.Join(dst, a.name+".log"), data, 0o644)
		}
	}
	fmt.Fprintf(os.Stderr, "bench: agent logs kept in %s\n", dst)
}

// register registers cluster name as `flotilla register` does (in
// process: discovery with CA pinning, CSR, the hub's approval) into its
// own agent directory under the fleet's home.
func (e *pullEnv) register(ctx context.Context, name string) (string, error) {
	dir := filepath.Join(e.home, "agents", name)
	_, err := identity.Register(ctx, identity.RegisterOptions{
		HubURL: e.hubURL, Token: e.token, CACertHashes: e.hashes, Cluster: name, Dir: dir,
		Labels: map[string]string{"bench.flotilla.io/pull": "true"}, Region: "edge", Provider: "kwok",
		ClusterKubeconfig: e.memberKC, Timeout: 5 * time.Minute,
	})
	if err != nil {
		return "", fmt.Errorf("register %s: %w", name, err)
	}
	return dir, nil
}

// registerAll registers the N clusters, pullRegisterWorkers at a time,
// starts each one's agent, and waits until every one is Ready in mode
// Pull.
func (e *pullEnv) registerAll(ctx context.Context) (registerResult, error) {
	n := e.s.Clusters
	r := registerResult{Each: make([]time.Duration, n)}
	names := map[string]bool{}
	for i := range n {
		names[edgeName(i)] = true
	}
	e.progress("(b) registering %d clusters, %d at a time, each with its agent", n, pullRegisterWorkers)
	start := time.Now()
	next := make(chan int)
	errs := make([]error, n)
	var wg sync.WaitGroup
	var count int
	var mu sync.Mutex
	for range pullRegisterWorkers {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				name := edgeName(i)
				dir, err := e.register(ctx, name)
				if err == nil {
					var a *agentProc
					if a, err = startAgent(e.bin, name, dir); err == nil {
						e.addAgent(a)
					}
				}
				r.Each[i] = time.Since(t0)
				errs[i] = err
				mu.Lock()
				count++
				if count%25 == 0 || count == n {
					e.progress("(b) %d of %d registered (%.1fs)", count, n, time.Since(start).Seconds())
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	r.Registered = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return r, err
	}
	last := 0
	err := poll(ctx, pullPoll, pullReadyTimeout, func() (bool, error) {
		var l clusterv1alpha1.ClusterList
		if err := e.hubCache.List(ctx, &l, client.UnsafeDisableDeepCopy); err != nil {
			return false, nil
		}
		last = 0
		for i := range l.Items {
			c := &l.Items[i]
			if names[c.Name] && c.Spec.SyncMode == clusterv1alpha1.Pull && meta.IsStatusConditionTrue(c.Status.Conditions, clusterv1alpha1.ConditionReady) {
				last++
			}
		}
		return last == n, nil
	})
	if err != nil {
		return r, fmt.Errorf("%d of %d clusters Ready in mode Pull after %s: %w", last, n, pullReadyTimeout, err)
	}
	r.Ready = time.Since(start)
	e.progress("(b) %d clusters registered in %.1fs, all Ready (Pull) after %.1fs", n, r.Registered.Seconds(), r.Ready.Seconds())
	return r, nil
}

// offlineEvents summarizes the hub's ClusterOffline events: which
// clusters the hub took for Offline, and when.
func (e *pullEnv) offlineEvents(ctx context.Context) string {
	l, err := e.hubCS.CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: "reason=" + registration.EventClusterOffline})
	if err != nil {
		return fmt.Sprintf("could not list: %v", err)
	}
	if len(l.Items) == 0 {
		return "none"
	}
	var names []string
	for _, ev := range l.Items {
		at, n := ev.LastTimestamp.Time, ev.Count
		if at.IsZero() {
			at = ev.EventTime.Time
		}
		if ev.Series != nil {
			at, n = ev.Series.LastObservedTime.Time, ev.Series.Count
		}
		names = append(names, fmt.Sprintf("%s at %s (x%d)", ev.InvolvedObject.Name, at.Format("15:04:05"), max(n, 1)))
	}
	return fmt.Sprintf("%d: %s", len(l.Items), strings.Join(names, ", "))
}

// pinnedPolicy places the Deployments of ns on cluster only.
func pinnedPolicy(ns, cluster string) *policyv1alpha1.PropagationPolicy {
	return &policyv1alpha1.PropagationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "to-" + cluster},
		Spec: policyv1alpha1.PropagationSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment"}},
			Placement: policyv1alpha1.Placement{
				ClusterAffinity: &policyv1alpha1.ClusterAffinity{ClusterNames: []string{cluster}},
				ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{
					ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDuplicated,
				},
			},
		},
	}
}

// placeWorkloads creates namespace ns on the hub, its policy pinned to
// cluster, and k one-replica Deployments.
func (e *pullEnv) placeWorkloads(ctx context.Context, ns, cluster string, k int) error {
	if err := ensureNamespace(ctx, e.hubCS, ns); err != nil {
		return err
	}
	if err := e.hubCtrl.Create(ctx, pinnedPolicy(ns, cluster)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create the policy of %s: %w", ns, err)
	}
	for j := range k {
		if _, err := createOne(ctx, e.hubCS, oneReplica(ns, objName(j))); err != nil {
			return err
		}
	}
	return nil
}

// workloads is phase (d).
func (e *pullEnv) workloads(ctx context.Context) (workloadResult, error) {
	n, k := e.s.Clusters, e.s.Workloads
	r := workloadResult{Templates: n * k}
	workNS, tmplNS := map[string]bool{}, map[string]bool{}
	for i := range n {
		workNS[workv1alpha1.ClusterNamespace(edgeName(i))] = true
		tmplNS[edgeNamespace(i)] = true
	}
	e.progress("(d) creating %d namespaces, policies and %d Deployments on the hub", n, n*k)
	start := time.Now()
	next := make(chan int)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for range pullCreateWorkers {
		wg.Go(func() {
			for i := range next {
				errs[i] = e.placeWorkloads(ctx, edgeNamespace(i), edgeName(i), k)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	r.Created = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return r, err
	}
	e.progress("(d) created in %.1fs; waiting for the Works and the templates", r.Created.Seconds())

	want := n * k
	var exist, ready, tmpls, member int
	lastLog, lastChange := time.Now(), time.Now()
	var lastState [4]int
	err := poll(ctx, pullPoll, pullWorkloadsTimeout, func() (bool, error) {
		var works workv1alpha1.WorkList
		if err := e.hubCache.List(ctx, &works, client.UnsafeDisableDeepCopy); err != nil {
			return false, nil
		}
		exist, ready = 0, 0
		for i := range works.Items {
			w := &works.Items[i]
			if !workNS[w.Namespace] {
				continue
			}
			exist++
			if w.Status.ObservedGeneration == w.Generation &&
				meta.IsStatusConditionTrue(w.Status.Conditions, workv1alpha1.WorkConditionApplied) &&
				meta.IsStatusConditionTrue(w.Status.Conditions, workv1alpha1.WorkConditionAvailable) {
				ready++
			}
		}
		tmpls = countReady(ctx, e.hubCache, tmplNS)
		member = countReady(ctx, e.memberCache, tmplNS)
		now := time.Since(start)
		if r.WorksExist == 0 && exist == want {
			r.WorksExist = now
		}
		if r.WorksReady == 0 && ready == want {
			r.WorksReady = now
		}
		if r.TemplatesReady == 0 && tmpls == want {
			r.TemplatesReady = now
		}
		if r.MemberReady == 0 && member == want {
			r.MemberReady = now
		}
		if state := [4]int{exist, ready, tmpls, member}; state != lastState {
			lastState, lastChange = state, time.Now()
		} else if time.Since(lastChange) > pullNoProgress {
			return false, fmt.Errorf("no progress for %s", pullNoProgress)
		}
		if time.Since(lastLog) > 15*time.Second {
			lastLog = time.Now()
			e.progress("(d) after %.0fs: Works %d exist, %d Applied+Available; templates ready %d; member ready %d (of %d)",
				now.Seconds(), exist, ready, tmpls, member, want)
		}
		return r.WorksReady > 0 && r.TemplatesReady > 0 && r.MemberReady > 0, nil
	})
	if err != nil {
		return r, fmt.Errorf("after %s: Works %d exist, %d Applied+Available; templates ready %d; member ready %d (of %d): %w",
			time.Since(start).Round(time.Second), exist, ready, tmpls, member, want, err)
	}
	e.progress("(d) Works Applied+Available after %.1fs, templates ready after %.1fs", r.WorksReady.Seconds(), r.TemplatesReady.Seconds())
	return r, nil
}

// countReady counts the one-replica Deployments of the namespaces in a
// cache whose replica is ready.
func countReady(ctx context.Context, c cache.Cache, namespaces map[string]bool) int {
	var l appsv1.DeploymentList
	if err := c.List(ctx, &l, client.UnsafeDisableDeepCopy); err != nil {
		return 0
	}
	n := 0
	for i := range l.Items {
		d := &l.Items[i]
		if namespaces[d.Namespace] && d.Status.Replicas == 1 && d.Status.ReadyReplicas == 1 {
			n++
		}
	}
	return n
}

// proxyKeys name the reconnect cluster's template, binding and Work.
var (
	proxyTemplate = types.NamespacedName{Namespace: pullProxyNamespace, Name: objName(0)}
	proxyBinding  = types.NamespacedName{Namespace: pullProxyNamespace, Name: workv1alpha1.BindingName(objName(0), "Deployment")}
	proxyWork     = types.NamespacedName{Namespace: workv1alpha1.ClusterNamespace(pullProxyCluster),
		Name: workv1alpha1.WorkName(pullProxyNamespace, workv1alpha1.BindingName(objName(0), "Deployment"))}
)

// setupProxyCluster registers edge-proxy, points its agent at a TCP proxy
// to the hub, starts it, and runs its one-replica Deployment.
func (e *pullEnv) setupProxyCluster(ctx context.Context) error {
	host, err := hostOf(e.hubURL)
	if err != nil {
		return err
	}
	if e.proxy, err = tcpproxy.New(host); err != nil {
		return err
	}
	e.progress("reconnect: registering %s; its agent reaches the hub through a proxy on %s", pullProxyCluster, e.proxy.Addr())
	dir, err := e.register(ctx, pullProxyCluster)
	if err != nil {
		return err
	}
	if err := pointAgentAt(dir, "https://"+e.proxy.Addr()); err != nil {
		return err
	}
	if e.proxyAgent, err = startAgent(e.bin, pullProxyCluster, dir); err != nil {
		return err
	}
	err = poll(ctx, pullPoll, 2*time.Minute, func() (bool, error) {
		var c clusterv1alpha1.Cluster
		if err := e.hubCtrl.Get(ctx, client.ObjectKey{Name: pullProxyCluster}, &c); err != nil {
			return false, nil
		}
		return meta.IsStatusConditionTrue(c.Status.Conditions, clusterv1alpha1.ConditionReady), nil
	})
	if err != nil {
		return fmt.Errorf("%s not Ready: %w; its log is %s", pullProxyCluster, err, e.proxyAgent.logPath())
	}
	if countInFile(e.proxyAgent.logPath(), e.proxy.Addr()) == 0 {
		return fmt.Errorf("the agent of %s does not say it reaches the hub at %s; see %s", pullProxyCluster, e.proxy.Addr(), e.proxyAgent.logPath())
	}
	if err := e.placeWorkloads(ctx, pullProxyNamespace, pullProxyCluster, 1); err != nil {
		return err
	}
	if _, err := e.waitProxyReplicas(ctx, 1, time.Now(), 3*time.Minute); err != nil {
		return err
	}
	return nil
}

// proxyState is what the hub shows of the reconnect cluster's Deployment.
type proxyState struct {
	workGen, workObserved int64
	// Ready replicas (and replicas) as the Work's status, the binding's
	// status for the cluster and the template's status report them; -1
	// when absent.
	workReady, bindingReady, bindingReplicas, tmplReady, tmplReplicas int64
	leaseRenew                                                        time.Time
	offline                                                           bool
}

func (e *pullEnv) proxyState(ctx context.Context) proxyState {
	s := proxyState{workReady: -1, bindingReady: -1, bindingReplicas: -1, tmplReady: -1, tmplReplicas: -1}
	var w workv1alpha1.Work
	if err := e.hubCtrl.Get(ctx, proxyWork, &w); err == nil {
		s.workGen, s.workObserved = w.Generation, w.Status.ObservedGeneration
		for _, m := range w.Status.Manifests {
			if m.Kind == "Deployment" && m.Name == proxyTemplate.Name {
				s.workReady = rawInt(m.Status, "readyReplicas")
			}
		}
	}
	var rb workv1alpha1.ResourceBinding
	if err := e.hubCtrl.Get(ctx, proxyBinding, &rb); err == nil {
		for _, c := range rb.Status.Clusters {
			if c.Cluster == pullProxyCluster {
				s.bindingReady, s.bindingReplicas = rawInt(c.Status, "readyReplicas"), rawInt(c.Status, "replicas")
			}
		}
	}
	var d appsv1.Deployment
	if err := e.hubCtrl.Get(ctx, proxyTemplate, &d); err == nil {
		s.tmplReady, s.tmplReplicas = int64(d.Status.ReadyReplicas), int64(d.Status.Replicas)
	}
	if l, err := e.hubCS.CoordinationV1().Leases(workv1alpha1.ClusterNamespace(pullProxyCluster)).Get(ctx, pullProxyCluster, metav1.GetOptions{}); err == nil && l.Spec.RenewTime != nil {
		s.leaseRenew = l.Spec.RenewTime.Time
	}
	var c clusterv1alpha1.Cluster
	if err := e.hubCtrl.Get(ctx, client.ObjectKey{Name: pullProxyCluster}, &c); err == nil {
		s.offline = meta.IsStatusConditionTrue(c.Status.Conditions, clusterv1alpha1.ConditionOffline)
	}
	return s
}

// rawInt reads a number from a status object; -1 when absent.
func rawInt(r *runtime.RawExtension, field string) int64 {
	if r == nil {
		return -1
	}
	var m map[string]any
	if json.Unmarshal(r.Raw, &m) != nil {
		return -1
	}
	v, ok := m[field].(float64)
	if !ok {
		return 0 // a zero counter is left out
	}
	return int64(v)
}

// waitProxyReplicas waits until the binding and the template show want
// ready replicas of the reconnect cluster's Deployment, and returns the
// time since start.
func (e *pullEnv) waitProxyReplicas(ctx context.Context, want int64, start time.Time, timeout time.Duration) (time.Duration, error) {
	var s proxyState
	err := poll(ctx, pullFinePoll, timeout, func() (bool, error) {
		s = e.proxyState(ctx)
		return s.bindingReady == want && s.bindingReplicas == want && s.tmplReady == want && s.tmplReplicas == want, nil
	})
	if err != nil {
		return 0, fmt.Errorf("%s: the hub shows %+v, want %d ready replicas: %w", pullProxyCluster, s, want, err)
	}
	return time.Since(start), nil
}

func (e *pullEnv) scaleProxy(ctx context.Context, replicas int32) error {
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	_, err := e.hubCS.AppsV1().Deployments(proxyTemplate.Namespace).Patch(ctx, proxyTemplate.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// reconnectRound cuts the proxy for the partition, scales the Deployment
// to 2 on the hub meanwhile, restores the link and times the hub's view
// of the cluster catching up; then scales it back to 1 with the link up.
func (e *pullEnv) reconnectRound(ctx context.Context, round int) (reconnectRound, error) {
	var r reconnectRound
	const seenLine = "hub reachable again"
	before := e.proxyState(ctx)
	seen0 := countInFile(e.proxyAgent.logPath(), seenLine)
	e.progress("reconnect %d: cutting the link of %s for %s and scaling its Deployment to 2 on the hub", round, pullProxyCluster, e.s.Partition)
	cutAt := time.Now()
	e.proxy.Cut()
	if err := e.scaleProxy(ctx, 2); err != nil {
		return r, err
	}
	scaled := time.Now()
	err := poll(ctx, pullFinePoll, e.s.Partition, func() (bool, error) {
		s := e.proxyState(ctx)
		return s.workGen > before.workGen, nil
	})
	if err != nil {
		return r, fmt.Errorf("reconnect %d: the hub did not rewrite the Work of %s during the partition: %w", round, pullProxyCluster, err)
	}
	r.SpecOnHub = time.Since(scaled)
	// The rest of the partition, a fixed window; look at the cluster's
	// conditions meanwhile.
	for end := cutAt.Add(e.s.Partition); time.Now().Before(end); {
		s := e.proxyState(ctx)
		r.OfflineSeen = r.OfflineSeen || s.offline
		if s.workReady == 2 || s.tmplReady == 2 {
			return r, fmt.Errorf("reconnect %d: the hub shows 2 ready replicas through a cut link: %+v", round, s)
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(min(time.Second, time.Until(end))):
		}
	}
	restored := time.Now()
	if err := e.proxy.Restore(); err != nil {
		return r, err
	}
	var s proxyState
	err = poll(ctx, pullFinePoll, pullReconnectTimeout, func() (bool, error) {
		s = e.proxyState(ctx)
		now := time.Since(restored)
		if r.Seen == 0 && countInFile(e.proxyAgent.logPath(), seenLine) > seen0 {
			r.Seen = now
		}
		if r.Lease == 0 && s.leaseRenew.After(restored) {
			r.Lease = now
		}
		if r.Work == 0 && s.workReady == 2 && s.workObserved == s.workGen {
			r.Work = now
		}
		if r.Binding == 0 && s.bindingReady == 2 && s.bindingReplicas == 2 {
			r.Binding = now
		}
		if r.Template == 0 && s.tmplReady == 2 && s.tmplReplicas == 2 {
			r.Template = now
		}
		return r.Work > 0 && r.Binding > 0 && r.Template > 0 && r.Lease > 0, nil
	})
	if err != nil {
		return r, fmt.Errorf("reconnect %d: %s after the restore: the hub shows %+v: %w", round, pullReconnectTimeout, s, err)
	}
	e.progress("reconnect %d: agent saw the hub after %s, template shows 2 ready after %s (Offline during the cut: %v)",
		round, secs(r.Seen), secs(r.Template), r.OfflineSeen)

	t0 := time.Now()
	if err := e.scaleProxy(ctx, 1); err != nil {
		return r, err
	}
	if r.ScaleDownOnline, err = e.waitProxyReplicas(ctx, 1, t0, pullReconnectTimeout); err != nil {
		return r, err
	}
	return r, nil
}

// pullReportInput is everything the report prints.
type pullReportInput struct {
	s          pullSettings
	rev        string
	phases     []pullPhase
	reg        registerResult
	wl         workloadResult
	mem        []agentMem
	rounds     []reconnectRound
	hubErrs    map[string]int
	agentErrs  map[string]int
	dead       []string
	throttling []string
	took       time.Duration
	// memberRestarts are the member's components that died and were
	// started again.
	memberRestarts []string
	// offline are the hub's ClusterOffline events of the run.
	offline string
}

func pullReport(b *testing.B, in pullReportInput) {
	s := in.s
	per100 := 100 / float64(s.Clusters)
	phase := map[string]pullPhase{}
	for _, p := range in.phases {
		phase[p.Key] = p
	}
	var sb strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&sb, format+"\n", args...) }

	line("")
	line("Pull-mode agents: %d simulated Pull clusters (%s..%s), each a real `flotilla agent --dir` process,", s.Clusters, edgeName(0), edgeName(s.Clusters-1))
	line("ALL applying to ONE kwok member cluster (%s, 2 nodes) on this machine; hub controllers in a `flotilla hub` process.", pullMember)
	line("Each cluster: its own namespace pull-bench-NNN, a PropagationPolicy pinning its Deployments to it (clusterNames),")
	line("%d one-replica Deployments. Steady windows %s; partition %s. Run took %s.", s.Workloads, s.Steady, s.Partition, in.took.Round(time.Second))
	line("flotilla built at %s.", in.rev)
	line("Note: the agents share the member, so each one's informers (pods, nodes, Flotilla's objects) see every cluster's")
	line("objects: the agents' memory and the member's CPU are those of %d sites' worth of objects each, not one site's.", s.Clusters)
	line("The hub's figures are not affected by that.")

	line("")
	line("Phases (hub = the `flotilla hub` process; API+etcd and KCM = the hub's kube-apiserver+etcd and kube-controller-manager;")
	line("Machine busy = every process on the machine, whoever started it)")
	line("")
	t := [][]string{{"Phase", "Wall", "Hub peak RSS", "Hub RSS end", "Hub Go heap", "Hub CPU", "Hub CPU/min", "API+etcd CPU", "API+etcd CPU/min", "API RSS", "API Go heap", "API watches", "etcd RSS", "KCM CPU", "Member CPU", "Agents", "Agents CPU", "Agent error lines", "Bench CPU", "Machine busy"}}
	for _, p := range in.phases {
		api := p.Fleet.Groups["apiserver+etcd"]
		t = append(t, []string{p.Name, fmt.Sprintf("%.0f s", p.Wall.Seconds()), mib(p.HubPeakRSS), mib(p.HubRSS), mibf(p.HubHeap),
			fmt.Sprintf("%.1f s", p.HubCPU.Seconds()), fmt.Sprintf("%.2f s", perMinute(p.HubCPU, p.Wall)),
			fmt.Sprintf("%.1f s", api.Seconds()), fmt.Sprintf("%.2f s", perMinute(api, p.Wall)), mib(p.APIRSS), mibf(p.APIHeap), fmt.Sprintf("%.0f", p.APIWatches), mib(p.EtcdRSS),
			fmt.Sprintf("%.1f s", p.Fleet.Groups["kcm"].Seconds()), fmt.Sprintf("%.1f s", p.Fleet.Groups["member"].Seconds()),
			fmt.Sprintf("%d", p.AgentsAlive), fmt.Sprintf("%.1f s", p.Agents.Seconds()), fmt.Sprintf("%d", p.AgentErrors), fmt.Sprintf("%.1f s", p.Fleet.Bench.Seconds()),
			fmt.Sprintf("%.1f s (%.2f cores)", p.Fleet.Busy.Seconds(), p.Fleet.Busy.Seconds()/max(p.Wall.Seconds(), 0.001))})
		b.ReportMetric(float64(p.HubPeakRSS)/(1<<20), "hub_peak_rss_"+p.Key+"_MiB")
		b.ReportMetric(p.HubCPU.Seconds(), "hub_cpu_"+p.Key+"_s")
		b.ReportMetric(api.Seconds(), "apiserver_etcd_cpu_"+p.Key+"_s")
	}
	mdTable(&sb, t)

	a, c, e := phase["a_baseline"], phase["c_idle"], phase["e_loaded"]
	line("")
	line("Cost on the hub per 100 Pull clusters, against the baseline (a), scaled linearly from %d clusters", s.Clusters)
	line("")
	mibDelta := func(x, y float64) string { return fmt.Sprintf("%+.1f MiB", (x-y)*per100/(1<<20)) }
	cpuDelta := func(x, y pullPhase, f func(pullPhase) time.Duration) float64 {
		return (perMinute(f(x), x.Wall) - perMinute(f(y), y.Wall)) * per100
	}
	cpuCell := func(v float64) string { return fmt.Sprintf("%+.2f s/min", v) }
	hubCPU := func(p pullPhase) time.Duration { return p.HubCPU }
	apiCPU := func(p pullPhase) time.Duration { return p.Fleet.Groups["apiserver+etcd"] }
	kcmCPU := func(p pullPhase) time.Duration { return p.Fleet.Groups["kcm"] }
	mdTable(&sb, [][]string{
		{"Per 100 clusters", "idle agents: (c) − (a)", fmt.Sprintf("with %d Deployments each: (e) − (a)", s.Workloads)},
		{"flotilla hub peak RSS (VmHWM in the window)", mibDelta(float64(c.HubPeakRSS), float64(a.HubPeakRSS)), mibDelta(float64(e.HubPeakRSS), float64(a.HubPeakRSS))},
		{"flotilla hub RSS at the window's end", mibDelta(float64(c.HubRSS), float64(a.HubRSS)), mibDelta(float64(e.HubRSS), float64(a.HubRSS))},
		{"flotilla hub Go heap in use at the window's end", mibDelta(c.HubHeap, a.HubHeap), mibDelta(e.HubHeap, a.HubHeap)},
		{"flotilla hub CPU, seconds per minute", cpuCell(cpuDelta(c, a, hubCPU)), cpuCell(cpuDelta(e, a, hubCPU))},
		{"hub kube-apiserver+etcd CPU, seconds per minute", cpuCell(cpuDelta(c, a, apiCPU)), cpuCell(cpuDelta(e, a, apiCPU))},
		{"hub kube-apiserver RSS at the window's end", mibDelta(float64(c.APIRSS), float64(a.APIRSS)), mibDelta(float64(e.APIRSS), float64(a.APIRSS))},
		{"hub kube-apiserver Go heap in use at the window's end", mibDelta(c.APIHeap, a.APIHeap), mibDelta(e.APIHeap, a.APIHeap)},
		{"hub kube-apiserver open watches", fmt.Sprintf("%+.0f", (c.APIWatches-a.APIWatches)*per100), fmt.Sprintf("%+.0f", (e.APIWatches-a.APIWatches)*per100)},
		{"hub etcd RSS at the window's end", mibDelta(float64(c.EtcdRSS), float64(a.EtcdRSS)), mibDelta(float64(e.EtcdRSS), float64(a.EtcdRSS))},
		{"hub kube-controller-manager CPU, seconds per minute", cpuCell(cpuDelta(c, a, kcmCPU)), cpuCell(cpuDelta(e, a, kcmCPU))},
	})
	line("(absolute, per minute: flotilla hub CPU %.2f / %.2f / %.2f s, API+etcd CPU %.2f / %.2f / %.2f s in (a) / (c) / (e))",
		perMinute(a.HubCPU, a.Wall), perMinute(c.HubCPU, c.Wall), perMinute(e.HubCPU, e.Wall),
		perMinute(apiCPU(a), a.Wall), perMinute(apiCPU(c), c.Wall), perMinute(apiCPU(e), e.Wall))
	b.ReportMetric((float64(c.HubPeakRSS-a.HubPeakRSS))*per100/(1<<20), "hub_rss_MiB_per100_idle")
	b.ReportMetric((float64(e.HubPeakRSS-a.HubPeakRSS))*per100/(1<<20), "hub_rss_MiB_per100_loaded")
	b.ReportMetric(cpuDelta(c, a, hubCPU), "hub_cpu_s_per_min_per100_idle")
	b.ReportMetric(cpuDelta(e, a, hubCPU), "hub_cpu_s_per_min_per100_loaded")
	b.ReportMetric(cpuDelta(c, a, apiCPU), "apiserver_etcd_cpu_s_per_min_per100_idle")
	b.ReportMetric(cpuDelta(e, a, apiCPU), "apiserver_etcd_cpu_s_per_min_per100_loaded")

	line("")
	line("Registration and workloads")
	line("")
	mdTable(&sb, [][]string{
		{"Measure", "Time"},
		{fmt.Sprintf("(b) %d registrations (%d at a time) done and agents started", s.Clusters, pullRegisterWorkers), secs(in.reg.Registered)},
		{"(b) one registration (discovery, CSR, approval, signed): p50 / max", fmt.Sprintf("%s / %s", secs(percentile(in.reg.Each, 50)), secs(percentile(in.reg.Each, 100)))},
		{fmt.Sprintf("(b) all %d clusters Ready with MODE Pull (from the first registration)", s.Clusters), secs(in.reg.Ready)},
		{fmt.Sprintf("(d) %d namespaces + policies + %d Deployments created on the hub (%d workers)", s.Clusters, in.wl.Templates, pullCreateWorkers), secs(in.wl.Created)},
		{fmt.Sprintf("(d) every Work exists on the hub (%d)", in.wl.Templates), secs(in.wl.WorksExist)},
		{"(d) every Work Applied and Available (current generation)", secs(in.wl.WorksReady)},
		{"(d) every template shows 1/1 ready replicas", secs(in.wl.TemplatesReady)},
		{"(d) every Deployment ready in the member (the bound the hub cannot beat)", secs(in.wl.MemberReady)},
	})
	b.ReportMetric(in.reg.Ready.Seconds(), "register_all_ready_s")
	b.ReportMetric(in.wl.WorksReady.Seconds(), "works_ready_s")
	b.ReportMetric(in.wl.TemplatesReady.Seconds(), "templates_ready_s")

	line("")
	line("Agent processes' memory (from /proc; VmRSS counts the shared flotilla binary in every process, RssAnon does not)")
	line("")
	mmm := func(x spread) string { return fmt.Sprintf("%s / %s / %s", mibf(x.Min), mibf(x.Median), mibf(x.Max)) }
	t = [][]string{{"When", "Agents", "VmRSS min / median / max", "VmHWM min / median / max", "RssAnon min / median / max", "RssAnon, all agents"}}
	for i, m := range in.mem {
		t = append(t, []string{m.When, fmt.Sprintf("%d", m.RSS.N), mmm(m.RSS), mmm(m.HWM), mmm(m.Anon), mibf(m.Anon.Sum)})
		key := []string{"idle", "loaded"}[min(i, 1)]
		b.ReportMetric(m.RSS.Median/(1<<20), "agent_rss_median_"+key+"_MiB")
		b.ReportMetric(m.RSS.Max/(1<<20), "agent_rss_max_"+key+"_MiB")
		b.ReportMetric(m.HWM.Max/(1<<20), "agent_hwm_max_"+key+"_MiB")
		b.ReportMetric(m.Anon.Median/(1<<20), "agent_anon_median_"+key+"_MiB")
	}
	mdTable(&sb, t)

	line("")
	line("Reconnect: %s's agent reaches the hub through a TCP proxy, cut for %s; during the cut its Deployment is", pullProxyCluster, s.Partition)
	line("scaled 1 -> 2 on the hub. Times from the restore of the link until the hub shows it (the Work's status, the")
	line("binding's status.clusters[%s].status, the template's status: 2 ready replicas).", pullProxyCluster)
	line("")
	t = [][]string{{"Round", "Offline during cut", "Work rewritten (cut)", "Agent saw hub", "Lease renewed", "Work status 2/2", "Binding 2/2", "Template 2/2", "Online 2 -> 1 (ref.)"}}
	var worst time.Duration
	for i, r := range in.rounds {
		t = append(t, []string{fmt.Sprintf("%d", i+1), fmt.Sprintf("%v", r.OfflineSeen), secs(r.SpecOnHub), secs(r.Seen), secs(r.Lease),
			secs(r.Work), secs(r.Binding), secs(r.Template), secs(r.ScaleDownOnline)})
		b.ReportMetric(r.Template.Seconds(), fmt.Sprintf("reconnect%d_template_s", i+1))
		worst = max(worst, r.Template)
	}
	mdTable(&sb, t)
	b.ReportMetric(worst.Seconds(), "reconnect_max_template_s")
	line("(Work rewritten: from the scale on the hub until the hub rewrote the Work, during the cut. Offline during cut:")
	line("the hub marked the cluster Offline (lease duration 40s). Agent saw hub: its log says \"hub reachable again\".")
	line("Online: the scale back to 1 with the link up, until the binding and the template show it.)")

	line("")
	line("Hub reconciles per minute in the steady windows, by controller")
	for _, p := range []pullPhase{a, c, e} {
		perMin := map[string]float64{}
		for k, v := range p.Reconciles {
			perMin[k] = v / max(p.Wall.Minutes(), 1e-9)
		}
		line("  %s: %s", p.Name, fmtMap(perMin))
	}
	line("")
	line("flotilla hub log, error lines: %s", topErrors(in.hubErrs, 8))
	line("agent logs (%d agents), error lines: %s", s.Clusters+1, topErrors(in.agentErrs, 8))
	if len(in.dead) > 0 {
		line("agents that exited: %s", strings.Join(in.dead, ", "))
	} else {
		line("agents that exited: none")
	}
	line("clusters the hub marked Offline during the run (ClusterOffline events): %s", in.offline)
	if len(in.memberRestarts) > 0 {
		line("member %s components that exited and were started again: %s", pullMember, strings.Join(in.memberRestarts, "; "))
	} else {
		line("member %s components that exited: none", pullMember)
	}
	if len(in.throttling) > 0 {
		line("flotilla hub log, client-side throttling:\n  %s", strings.Join(in.throttling, "\n  "))
	}
	b.Log(sb.String())
}

// mdTable writes rows as a Markdown table, the first row its header.
func mdTable(sb *strings.Builder, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	w := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			w[i] = max(w[i], utf8.RuneCountInString(c))
		}
	}
	for j, r := range rows {
		sb.WriteString("|")
		for i, c := range r {
			sb.WriteString(" " + c + strings.Repeat(" ", w[i]-utf8.RuneCountInString(c)) + " |")
		}
		sb.WriteString("\n")
		if j == 0 {
			sb.WriteString("|")
			for i := range r {
				sb.WriteString(strings.Repeat("-", w[i]+2) + "|")
			}
			sb.WriteString("\n")
		}
	}
}
