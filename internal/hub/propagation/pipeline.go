package propagation

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/metrics"
)

// Options tune the pipeline.
type Options struct {
	// DetectorWorkers and ExecutionWorkers are the reconcile workers.
	DetectorWorkers  int
	ExecutionWorkers int
	// MemberQPS and MemberBurst limit each member client.
	MemberQPS   float32
	MemberBurst int
	// Place, when set, gives a new binding its first placement as the
	// detector creates it, with the scheduler's own function, so that
	// execution can apply it without waiting for the scheduler's round
	// trip. The scheduler still records the decision (and changes it if
	// it decides otherwise). nil: the scheduler alone places bindings.
	Place func(spec *workv1alpha1.BindingSpec, clusters []clusterv1alpha1.Cluster) []workv1alpha1.TargetCluster
}

// DefaultOptions suit a hub of a few hundred clusters.
func DefaultOptions() Options {
	return Options{DetectorWorkers: 32, ExecutionWorkers: 128, MemberQPS: 500, MemberBurst: 1000}
}

// Pipeline is the detector and execution, sharing the hub's template
// informers and the member connections.
type Pipeline struct {
	opts      Options
	client    client.Client
	cache     cache.Cache
	dynamic   dynamic.Interface
	mapper    *mapper
	templates *informerSet
	members   *members
	recorder  events.EventRecorder

	detector  *Detector
	execution *Execution
	// burst remembers when the pipeline last looked busy.
	burst settle
}

// SetupWithManager adds the pipeline to mgr. It runs only while the hub
// holds the leader lease.
func SetupWithManager(mgr ctrl.Manager, cfg *rest.Config, o Options) (*Pipeline, error) {
	def := DefaultOptions()
	if o.DetectorWorkers < 1 {
		o.DetectorWorkers = def.DetectorWorkers
	}
	if o.ExecutionWorkers < 1 {
		o.ExecutionWorkers = def.ExecutionWorkers
	}
	if o.MemberQPS <= 0 {
		o.MemberQPS, o.MemberBurst = def.MemberQPS, def.MemberBurst
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = o.MemberQPS, o.MemberBurst
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{
		opts:     o,
		client:   mgr.GetClient(),
		cache:    mgr.GetCache(),
		dynamic:  dyn,
		mapper:   newMapper(dc),
		recorder: mgr.GetEventRecorder("flotilla-propagation"),
	}
	p.detector = newDetector(p)
	p.execution = newExecution(p)
	return p, mgr.Add(p)
}

// busyBacklog is how many templates and bindings may wait in the
// pipeline's queues before Busy says so; burstArrivals how many new
// templates in the last one to two seconds make a burst; burstQuiet how
// long the pipeline stays busy after the last sign of one.
const (
	busyBacklog   = 100
	burstArrivals = 50
	burstQuiet    = 5 * time.Second
)

// Busy reports whether a burst is passing through the pipeline: more than
// burstArrivals new templates in the last second or two, or more than
// busyBacklog templates ready in the detector's queue and bindings waiting
// for execution at the first priority (status refreshes and released
// reports do not count: they are no burst), now or in the last
// burstQuiet. Writes that only report, such as the scheduler's status for
// a binding the detector created placed, can wait for it to pass. The
// arrivals tell a burst the pipeline keeps up with, whose reports would
// otherwise compete with the burst's own writes on the hub; burstQuiet
// keeps a pause inside a burst (a client's uneven pace, a watch that
// delivers in batches, the last bindings of a burst in flight) from
// letting every held report out into the rest of it.
func (p *Pipeline) Busy() bool {
	if p.detector == nil || p.execution == nil {
		return false
	}
	now := time.Now()
	return p.burst.busy(p.detector.arrivals.recent(now) > burstArrivals ||
		p.detector.pending.len()+p.execution.pending.len() > busyBacklog, now)
}

// settle is a busy signal that stays on for burstQuiet after it was last
// seen on. It keeps time on the monotonic clock (as an offset from
// settleEpoch), so that a step of the wall clock cannot keep it on.
type settle struct {
	// last is 1 + the offset of the last sample that was on; 0 is never.
	last atomic.Int64
}

var settleEpoch = time.Now()

// busy records a sample of the signal taken at now, and reports whether
// it is on or was within burstQuiet.
func (s *settle) busy(on bool, now time.Time) bool {
	at := int64(now.Sub(settleEpoch)) + 1
	if on {
		for {
			old := s.last.Load()
			if old >= at || s.last.CompareAndSwap(old, at) {
				return true
			}
		}
	}
	last := s.last.Load()
	return last != 0 && at-last < int64(burstQuiet)
}

// NeedLeaderElection makes the pipeline run on the leader only.
func (p *Pipeline) NeedLeaderElection() bool { return true }

// Start runs the pipeline until ctx ends.
func (p *Pipeline) Start(ctx context.Context) error {
	ctx = ctrl.LoggerInto(ctx, ctrl.Log.WithName("propagation"))
	p.templates = newInformerSet(p.dynamic, ctx.Done(), nil, nil, p.onTemplate)
	p.members = newMembers(p.opts.MemberQPS, p.opts.MemberBurst, p.execution.onMemberObject)
	// Bindings that found a cache still listing wait for it, rather than
	// spinning: every binding is looked at again once an informer lists.
	p.templates.onSynced = func() { p.execution.enqueueAll(ctx) }
	p.members.onSynced = func() { p.execution.enqueueAll(ctx) }
	if err := p.detector.watchPolicies(ctx); err != nil {
		return fmt.Errorf("watch policies: %w", err)
	}
	if err := p.execution.watch(ctx); err != nil {
		return fmt.Errorf("watch bindings: %w", err)
	}
	if !p.cache.WaitForCacheSync(ctx) {
		return fmt.Errorf("hub caches did not sync")
	}
	p.detector.queue.Add(policiesKey)
	go p.releaseReports(ctx)
	go runWorkers(ctx, "detector", p.detector.queue, p.opts.DetectorWorkers, p.detector.sync)
	runWorkers(ctx, "execution", p.execution.queue, p.opts.ExecutionWorkers, p.execution.sync)
	return nil
}

// runWorkers processes q with n workers until ctx ends. sync returns an
// error to retry with backoff, or a delay after which to look again.
func runWorkers[T comparable](ctx context.Context, name string, q workqueue.TypedRateLimitingInterface[T], n int,
	sync func(context.Context, T) (time.Duration, error)) {
	log := ctrl.LoggerFrom(ctx).WithName(name)
	for range n {
		go func() {
			for {
				k, shutdown := q.Get()
				if shutdown {
					return
				}
				after, err := sync(ctx, k)
				res := result(err)
				if err == nil && after > 0 {
					res = "requeue"
				}
				metrics.ReconcileTotal.WithLabelValues(name, res).Inc()
				switch {
				case err != nil:
					log.Info("retrying", "key", k, "error", err.Error())
					q.AddRateLimited(k)
				case after > 0:
					q.Forget(k)
					q.AddAfter(k, after)
				default:
					q.Forget(k)
				}
				q.Done(k)
			}
		}()
	}
	<-ctx.Done()
	q.ShutDown()
}

// releaseReports gives the reports held back while the pipeline was busy
// (first claims, binding status) back to their queues, after the work that
// was waiting.
func (p *Pipeline) releaseReports(ctx context.Context) {
	wait.UntilWithContext(ctx, func(context.Context) {
		busy, now := p.Busy(), time.Now()
		if keys := p.detector.claims.Release(busy, now); len(keys) > 0 {
			p.detector.queue.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(claimPriority)}, keys...)
		}
		if keys := p.execution.reports.Release(busy, now); len(keys) > 0 {
			p.execution.queue.AddWithOpts(priorityqueue.AddOpts{Priority: ptr.To(statusPriority)}, keys...)
		}
		metrics.ReportsHeld.WithLabelValues("claim").Set(float64(p.detector.claims.Len()))
		metrics.ReportsHeld.WithLabelValues("status").Set(float64(p.execution.reports.Len()))
	}, time.Second)
}

func (p *Pipeline) onTemplate(m Mapping, obj, old *unstructured.Unstructured, gone bool) {
	p.detector.onTemplate(m, obj, old, gone)
	p.execution.onTemplate(m, obj, old)
}

// hubInformer returns the hub informer of gvk, starting it if needed.
func (p *Pipeline) hubObject(gvk schema.GroupVersionKind, namespace, name string) (*unstructured.Unstructured, Mapping, bool, error) {
	m, err := p.mapper.Map(gvk)
	if err != nil {
		return nil, Mapping{}, false, err
	}
	inf, err := p.templates.get(m)
	if err != nil {
		return nil, m, false, err
	}
	if !inf.HasSynced() {
		return nil, m, false, nil
	}
	o, err := objectFrom(inf, namespace, name)
	return o, m, true, err
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "success"
}
