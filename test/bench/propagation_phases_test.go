package bench

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// lowerBound creates n Deployments straight into every member, createWorkers
// per member, times it, and deletes them again.
func (e *benchEnv) lowerBound(ctx context.Context, n int, r *bulkResult) error {
	ns := fmt.Sprintf("lowerbound-%d", n)
	for _, name := range benchMembers {
		if err := ensureNamespace(ctx, e.members[name], ns); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
	}
	e.progress("lower bound %d: creating %d Deployments in each of %d members", n, n, len(benchMembers))
	start := time.Now()
	err := e.createInMembers(ctx, ns, n)
	r.LowerBound = time.Since(start)
	if err != nil {
		return fmt.Errorf("lower bound: %w", err)
	}
	e.progress("lower bound %d: %.1fs; deleting", n, r.LowerBound.Seconds())
	start = time.Now()
	if err := e.deleteMemberNamespaces(ctx, ns); err != nil {
		return err
	}
	r.LowerBoundClean = time.Since(start)
	e.progress("lower bound %d: members clean in %.1fs", n, r.LowerBoundClean.Seconds())
	return nil
}

// floor creates n templates on the hub in a namespace no policy selects
// and, at the same time, n Deployments straight into every member, as the
// lower bound does; it times the member creates and deletes everything
// again. It is what a controller that cost nothing would achieve on this
// machine: the hub must take the templates in any design, and on one
// machine its API server competes with the members' for the same cores.
func (e *benchEnv) floor(ctx context.Context, n int, r *bulkResult) error {
	ns := fmt.Sprintf("floor-%d", n)
	if err := e.floorNamespace(ctx, ns); err != nil {
		return err
	}
	e.progress("floor %d: creating %d templates on the hub (no policy) and %d Deployments in each member at once", n, n, n)
	start := time.Now()
	var hubErr error
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		_, hubErr = createDeployments(ctx, e.hubCS, ns, n, nil)
	}()
	err := e.createInMembers(ctx, ns, n)
	r.Floor = time.Since(start)
	<-hubDone
	r.FloorHub = time.Since(start)
	if err := errors.Join(err, hubErr); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	e.progress("floor %d: member objects in %.1fs, templates in %.1fs; deleting", n, r.Floor.Seconds(), r.FloorHub.Seconds())
	return e.dropFloorNamespace(ctx, ns)
}

// floorNamespace creates namespace ns on the hub and in every member.
func (e *benchEnv) floorNamespace(ctx context.Context, ns string) error {
	for _, cs := range append([]kubernetes.Interface{e.hubCS}, e.memberList()...) {
		if err := ensureNamespace(ctx, cs, ns); err != nil {
			return err
		}
	}
	return nil
}

// dropFloorNamespace deletes namespace ns on the hub and in every member,
// and waits until the hub's is gone.
func (e *benchEnv) dropFloorNamespace(ctx context.Context, ns string) error {
	if err := e.hubCS.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete hub namespace %s: %w", ns, err)
	}
	if err := e.deleteMemberNamespaces(ctx, ns); err != nil {
		return err
	}
	return waitGone(ctx, e.hubCS, ns, cleanTimeout)
}

// createInMembers creates n Deployments in namespace ns of every member at
// once, createWorkers per member.
func (e *benchEnv) createInMembers(ctx context.Context, ns string, n int) error {
	errs := make([]error, len(benchMembers))
	var wg sync.WaitGroup
	for i, name := range benchMembers {
		wg.Go(func() {
			_, errs[i] = createDeployments(ctx, e.members[name], ns, n, nil)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// memberList is the members' clients in benchMembers order.
func (e *benchEnv) memberList() []kubernetes.Interface {
	out := make([]kubernetes.Interface, 0, len(benchMembers))
	for _, name := range benchMembers {
		out = append(out, e.members[name])
	}
	return out
}

// bulk propagates n Deployments from the hub to both members.
func (e *benchEnv) bulk(ctx context.Context, n int, r *bulkResult) error {
	ns := fmt.Sprintf("bulk-%d", n)
	if err := ensureNamespace(ctx, e.hubCS, ns); err != nil {
		return err
	}
	if err := e.hubCtrl.Create(ctx, duplicatedPolicy(ns)); err != nil {
		return fmt.Errorf("create policy: %w", err)
	}
	m0, err := e.hub.scrape()
	if err != nil {
		return err
	}
	want := int32(len(benchMembers))
	rctx, stopReady := context.WithCancel(ctx)
	defer stopReady()
	ready := watchReady(rctx, e.hubCS, ns, want, n)
	memberReady := map[string]*readyWatch{}
	for _, name := range benchMembers {
		memberReady[name] = watchReady(rctx, e.members[name], ns, 1, n)
	}

	e.progress("bulk %d: creating the templates on the hub", n)
	start := time.Now()
	exists := make(chan memberTime, len(benchMembers))
	for _, name := range benchMembers {
		go func() {
			d, err := waitCount(ctx, e.memMeta[name], ns, func(c int) bool { return c >= n }, start, existsTimeout)
			exists <- memberTime{name, d, err}
		}()
	}
	sctx, stopSampler := context.WithCancel(ctx)
	go e.sample(sctx, fmt.Sprintf("bulk %d", n), start, ns, ready, memberReady)
	_, err = createDeployments(ctx, e.hubCS, ns, n, nil)
	r.HubCreates = time.Since(start)
	if err != nil {
		stopSampler()
		return fmt.Errorf("create templates: %w", err)
	}
	e.progress("bulk %d: %d templates created on the hub in %.1fs", n, n, r.HubCreates.Seconds())
	r.PerMember = map[string]time.Duration{}
	var errs []error
	for range benchMembers {
		mt := <-exists
		if mt.err != nil {
			errs = append(errs, fmt.Errorf("member %s: %w", mt.name, mt.err))
			continue
		}
		r.Listed = max(r.Listed, mt.d)
	}
	if err := errors.Join(errs...); err != nil {
		stopSampler()
		return fmt.Errorf("bulk %d: %w", n, err)
	}
	// The list saw them all, so the watches have delivered them too, or
	// are about to.
	for _, name := range benchMembers {
		select {
		case <-memberReady[name].allSeen:
		case <-time.After(time.Minute):
			stopSampler()
			return fmt.Errorf("bulk %d: the watch of member %s did not deliver every object a minute after a list saw them", n, name)
		}
		r.PerMember[name] = memberReady[name].allAt.Sub(start)
		r.Exists = max(r.Exists, r.PerMember[name])
	}
	e.progress("bulk %d: every member object exists after %.1fs (watched; a list every %s saw them all after %.1fs)",
		n, r.Exists.Seconds(), pollInterval, r.Listed.Seconds())
	select {
	case <-ready.done:
		r.Ready = ready.at.Sub(start)
		e.progress("bulk %d: every template shows %d ready replicas after %.1fs", n, want, r.Ready.Seconds())
	case <-time.After(readyTimeout):
		r.Ready = -1
		e.progress("bulk %d: templates with ready status after %s: %d of %d", n, readyTimeout, ready.count(), n)
	}
	stopSampler()
	r.MembersReady = -1
	for _, name := range benchMembers {
		select {
		case <-memberReady[name].done:
			r.MembersReady = max(r.MembersReady, memberReady[name].at.Sub(start))
		default:
			r.MembersReady = -1
		}
		if r.MembersReady < 0 {
			break
		}
	}
	if err := e.waitQuiet(ctx, time.Minute); err != nil {
		e.progress("bulk %d: %v", n, err)
	}
	m1, err := e.hub.scrape()
	if err != nil {
		return err
	}
	r.Reconciles = diff(m1.byLabel("flotilla_propagation_reconcile_total", "controller"), m0.byLabel("flotilla_propagation_reconcile_total", "controller"))
	for _, c := range []string{"detector", "execution"} {
		for k, v := range diff(m1.byLabel("flotilla_propagation_reconcile_total", "result", "controller", c), m0.byLabel("flotilla_propagation_reconcile_total", "result", "controller", c)) {
			r.Reconciles[c+"/"+k] = v
		}
	}
	r.Writes = diff(opResult(m1), opResult(m0))
	r.Retries = m1.sum("workqueue_retries_total", "name", "execution") - m0.sum("workqueue_retries_total", "name", "execution")
	events, err := readAudit(e.home, start.Add(-time.Second), time.Now(), func(a *auditEvent) bool {
		return byHub(a) || a.ObjectRef != nil && a.ObjectRef.Namespace == ns
	})
	if err != nil {
		e.progress("bulk %d: audit log: %v", n, err)
	}
	r.Audit = writeSummary(events, n) + "\n" + stages(events, ns)
	return nil
}

type memberTime struct {
	name string
	d    time.Duration
	err  error
}

// sample prints, every 5 s, how far a phase got and the hub's queues.
func (e *benchEnv) sample(ctx context.Context, phase string, start time.Time, ns string, ready *readyWatch, memberReady map[string]*readyWatch) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var parts []string
		for _, name := range benchMembers {
			c, _ := countObjects(ctx, e.memMeta[name], ns)
			parts = append(parts, fmt.Sprintf("%s=%d/%d", name, c, memberReady[name].count()))
		}
		m, err := e.hub.scrape()
		if err != nil {
			continue
		}
		cpu, _ := e.hub.cpuTime()
		e.progress("%s t=%5.1fs members (exist/ready) %s hub ready=%d bindings=%.0f queues detector=%.0f scheduler=%.0f execution=%.0f reconciles exec=%.0f writes=%.0f hub cpu=%.0fs",
			phase, time.Since(start).Seconds(), strings.Join(parts, " "), ready.count(),
			m.sum("flotilla_bindings_created_total"),
			m.sum("workqueue_depth", "name", "detector"), m.sum("workqueue_depth", "name", "scheduler"),
			m.sum("workqueue_depth", "name", "execution"),
			m.sum("flotilla_propagation_reconcile_total", "controller", "execution"),
			m.sum("flotilla_member_writes_total"), cpu.Seconds())
	}
}

// waitQuiet waits until the hub's queues are empty.
func (e *benchEnv) waitQuiet(ctx context.Context, timeout time.Duration) error {
	err := poll(ctx, 500*time.Millisecond, timeout, func() (bool, error) {
		m, err := e.hub.scrape()
		if err != nil {
			return false, nil
		}
		return m.sum("workqueue_depth", "name", "execution") == 0 && m.sum("workqueue_depth", "name", "detector") == 0 &&
			m.sum("workqueue_depth", "name", "scheduler") == 0, nil
	})
	if err != nil {
		return fmt.Errorf("hub queues not empty after %s", timeout)
	}
	return nil
}

// settleCPU is the fleet's CPU use (the hub's and the members' Kubernetes
// processes), in cores, under which it counts as settled for the latency
// phase: the members' controllers have finished with the bulk's pods
// (kwok's node heartbeats and the controllers' resyncs stay well under it).
const settleCPU = 0.5

// settle waits, up to timeout, until the fleet has used less than settleCPU
// cores over settleWindow, so that the latency phase measures a
// fleet in steady state and not the members still starting the last bulk's
// pods. It reports the wait and the last use; a fleet that never settles is
// reported, not fatal.
func (e *benchEnv) settle(ctx context.Context, timeout time.Duration) {
	const settleWindow = 5 * time.Second
	start := time.Now()
	prev := takeCPU(e.cpuGroups)
	var fleet, members float64
	err := poll(ctx, settleWindow, timeout, func() (bool, error) {
		cur := takeCPU(e.cpuGroups)
		d := cur.since(prev)
		if d.Wall < settleWindow/2 {
			// poll's first, immediate call: no window yet.
			return false, nil
		}
		prev = cur
		wall := d.Wall.Seconds()
		members = d.Groups["members"].Seconds() / wall
		fleet = members + d.Groups["hub k8s"].Seconds()/wall
		return fleet < settleCPU, nil
	})
	if err != nil {
		e.progress("fleet not settled after %.0fs: at %.2f cores (members %.2f); measuring latency anyway", time.Since(start).Seconds(), fleet, members)
		return
	}
	e.progress("fleet settled after %.0fs: at %.2f cores (members %.2f)", time.Since(start).Seconds(), fleet, members)
}

func opResult(m metricSet) map[string]float64 {
	out := map[string]float64{}
	for _, x := range m {
		if x.Name == "flotilla_member_writes_total" {
			out[x.Labels["operation"]+"/"+x.Labels["result"]] += x.Value
		}
	}
	return out
}

func diff(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// deleteBulk deletes the namespace of a size on the hub and times how long
// the pipeline takes to remove the member objects, then deletes the
// namespaces it left in the members.
func (e *benchEnv) deleteBulk(ctx context.Context, n int, r *bulkResult) error {
	ns := fmt.Sprintf("bulk-%d", n)
	e.progress("bulk %d: deleting the hub namespace", n)
	start := time.Now()
	if err := e.hubCS.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		return err
	}
	for _, name := range benchMembers {
		if _, err := waitCount(ctx, e.memMeta[name], ns, func(c int) bool { return c == 0 }, start, cleanTimeout); err != nil {
			return fmt.Errorf("member %s: objects of %s not removed: %w", name, ns, err)
		}
	}
	r.Deleted = time.Since(start)
	e.progress("bulk %d: member objects removed %.1fs after the hub namespace was deleted", n, r.Deleted.Seconds())
	if err := waitGone(ctx, e.hubCS, ns, cleanTimeout); err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	return e.deleteMemberNamespaces(ctx, ns)
}

func (e *benchEnv) deleteMemberNamespaces(ctx context.Context, ns string) error {
	for _, name := range benchMembers {
		err := e.members[name].CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("member %s: %w", name, err)
		}
	}
	for _, name := range benchMembers {
		if err := waitGone(ctx, e.members[name], ns, cleanTimeout); err != nil {
			return fmt.Errorf("member %s: %w", name, err)
		}
	}
	return nil
}

// latency creates one Deployment at a time and times each until it exists
// in every member, watching the members.
func (e *benchEnv) latency(ctx context.Context) (latencyResult, error) {
	const ns = "latency"
	var r latencyResult
	if err := ensureNamespace(ctx, e.hubCS, ns); err != nil {
		return r, err
	}
	if err := e.hubCtrl.Create(ctx, duplicatedPolicy(ns)); err != nil {
		return r, fmt.Errorf("create policy: %w", err)
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	seen := map[string]*seenSet{}
	for _, name := range benchMembers {
		s, err := watchAdds(wctx, e.members[name], ns)
		if err != nil {
			return r, fmt.Errorf("watch member %s: %w", name, err)
		}
		seen[name] = s
	}
	inAll := func(obj string) (time.Time, bool) {
		var last time.Time
		for _, s := range seen {
			at, ok := s.get(obj)
			if !ok {
				return time.Time{}, false
			}
			if at.After(last) {
				last = at
			}
		}
		return last, true
	}
	m0, err := e.hub.scrape()
	if err != nil {
		return r, err
	}
	// A first object makes the pipeline create the namespace in the
	// members; it is not counted.
	if _, err := e.hubCS.AppsV1().Deployments(ns).Create(ctx, oneReplica(ns, "warmup"), metav1.CreateOptions{}); err != nil {
		return r, err
	}
	if err := poll(ctx, 50*time.Millisecond, time.Minute, func() (bool, error) { _, ok := inAll("warmup"); return ok, nil }); err != nil {
		return r, fmt.Errorf("warm-up object never reached the members: %w", err)
	}
	e.progress("latency: creating %d Deployments, one every %s", latencyObjects, latencyInterval)
	created := make([]time.Time, latencyObjects)
	createDur := make([]time.Duration, latencyObjects)
	tick := time.NewTicker(latencyInterval)
	defer tick.Stop()
	for i := range latencyObjects {
		<-tick.C
		t0 := time.Now()
		if _, err := e.hubCS.AppsV1().Deployments(ns).Create(ctx, oneReplica(ns, objName(i)), metav1.CreateOptions{}); err != nil {
			return r, fmt.Errorf("create %s: %w", objName(i), err)
		}
		created[i] = time.Now()
		createDur[i] = created[i].Sub(t0)
	}
	lat := make([]time.Duration, latencyObjects)
	err = poll(ctx, 50*time.Millisecond, 2*time.Minute, func() (bool, error) {
		for i := range latencyObjects {
			at, ok := inAll(objName(i))
			if !ok {
				return false, nil
			}
			lat[i] = at.Sub(created[i])
		}
		return true, nil
	})
	if err != nil {
		return r, fmt.Errorf("not every latency object reached both members: %w", err)
	}
	r.P50, r.P99, r.Max = percentile(lat, 50), percentile(lat, 99), percentile(lat, 100)
	r.CreateP50, r.CreateP99 = percentile(createDur, 50), percentile(createDur, 99)
	events, err := readAudit(e.home, created[0].Add(-time.Second), time.Now(), func(a *auditEvent) bool {
		return a.ObjectRef != nil && a.ObjectRef.Namespace == ns
	})
	if err != nil {
		e.progress("latency: audit log: %v", err)
	}
	order := make([]int, latencyObjects)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return lat[order[a]] > lat[order[b]] })
	var sb strings.Builder
	for _, i := range order[:3] {
		fmt.Fprintf(&sb, "    %s: %s until in both members (members: %s); hub writes, from the create's return:\n", objName(i), ms(lat[i]), e.arrivals(seen, objName(i), created[i]))
		sb.WriteString(timeline(events, ns, objName(i), workv1alpha1.BindingName(objName(i), "Deployment"), created[i]))
	}
	r.Slowest = sb.String()
	r.Stages = stages(events, ns)
	if m1, err := e.hub.scrape(); err == nil {
		r.Histograms = histograms(m0, m1)
	}
	e.progress("latency: p50 %s, p99 %s, max %s; hub create p50 %s", ms(r.P50), ms(r.P99), ms(r.Max), ms(r.CreateP50))
	return r, nil
}

// histograms summarizes the hub's apply and propagation latency
// histograms between two scrapes.
func histograms(m0, m1 metricSet) string {
	var sb strings.Builder
	q := func(name string, match ...string) string {
		p50, ok1 := histogramQuantile(m0, m1, name, 0.5, match...)
		p99, ok2 := histogramQuantile(m0, m1, name, 0.99, match...)
		if !ok1 || !ok2 {
			return "no observations"
		}
		return fmt.Sprintf("p50 <= %gs, p99 <= %gs", p50, p99)
	}
	fmt.Fprintf(&sb, "    flotilla_propagation_latency_seconds (template created -> first apply in a member): %s\n", q("flotilla_propagation_latency_seconds"))
	for _, name := range benchMembers {
		fmt.Fprintf(&sb, "    flotilla_member_apply_duration_seconds{cluster=%s}: %s\n", name, q("flotilla_member_apply_duration_seconds", "cluster", name))
	}
	return sb.String()
}

// arrivals tells when obj arrived in each member, from t0.
func (e *benchEnv) arrivals(seen map[string]*seenSet, obj string, t0 time.Time) string {
	var parts []string
	for _, name := range benchMembers {
		if at, ok := seen[name].get(obj); ok {
			parts = append(parts, fmt.Sprintf("%s %s", name, ms(at.Sub(t0))))
		}
	}
	return strings.Join(parts, ", ")
}

// restart kills the hub process with everything propagated and times the
// new one until it is steady.
func (e *benchEnv) restart(ctx context.Context, n int) (restartResult, usage, error) {
	var r restartResult
	if err := e.waitQuiet(ctx, 2*time.Minute); err != nil {
		e.progress("restart: %v; restarting anyway", err)
	}
	bindings, err := e.hubMeta.Resource(bindingsGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return r, usage{}, err
	}
	r.Templates, r.Bindings = n, len(bindings.Items)
	e.progress("restart: killing the hub process with %d bindings", r.Bindings)
	e.hub.kill()
	start := time.Now()
	h, err := startHubProcess(ctx, e.bin, e.hubKC, e.hubLog)
	if err != nil {
		return r, usage{}, err
	}
	e.hub = h
	var last metricSet
	err = poll(ctx, 100*time.Millisecond, restartTimeout, func() (bool, error) {
		m, err := h.scrape()
		if err != nil {
			return false, nil
		}
		last = m
		if !m.has("workqueue_depth", "name", "execution") || !m.has("workqueue_depth", "name", "detector") {
			return false, nil
		}
		// Successful reconciles only: a binding requeued while the member
		// caches sync waits outside the queue, where no depth shows it.
		return m.sum("workqueue_depth", "name", "execution") == 0 && m.sum("workqueue_depth", "name", "detector") == 0 &&
			m.sum("flotilla_propagation_reconcile_total", "controller", "execution", "result", "success") >= float64(r.Bindings), nil
	})
	r.Steady = time.Since(start)
	u := usage{}
	u.PeakRSS, _ = h.peakRSS()
	u.CPU, _ = h.cpuTime()
	if err != nil {
		return r, u, fmt.Errorf("restarted hub not steady after %s: execution reconciles %.0f of %d bindings, queues execution %.0f detector %.0f",
			restartTimeout, last.sum("flotilla_propagation_reconcile_total", "controller", "execution"), r.Bindings,
			last.sum("workqueue_depth", "name", "execution"), last.sum("workqueue_depth", "name", "detector"))
	}
	r.Writes = last.sum("flotilla_member_writes_total")
	r.Reconciles = last.sum("flotilla_propagation_reconcile_total", "controller", "execution", "result", "success")
	r.Requeues = last.sum("flotilla_propagation_reconcile_total", "controller", "execution", "result", "requeue")
	e.progress("restart: steady after %.1fs with %.0f member writes; watching %s more", r.Steady.Seconds(), r.Writes, quietAfterRestart)
	time.Sleep(quietAfterRestart)
	if m, err := h.scrape(); err == nil {
		r.WritesLater = m.sum("flotilla_member_writes_total")
		if w := opResult(m); len(w) > 0 {
			r.WritesByOp = fmtMap(w)
		}
	}
	return r, u, nil
}
