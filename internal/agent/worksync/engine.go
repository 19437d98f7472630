package worksync

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/log"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// Options configure an Engine.
type Options struct {
	// Cluster is the name of the agent's cluster on the hub.
	Cluster string
	// Namespace on the hub holding the cluster's Works; by default
	// workv1alpha1.ClusterNamespace(Cluster).
	Namespace string
	// StateDir holds the agent's store (StoreFile). It must survive
	// restarts: the agent resumes from it while the hub is unreachable.
	StateDir string
	// ResyncInterval is how often every Work is checked against the
	// cluster even without an event; 5 minutes by default.
	ResyncInterval time.Duration
	// StatusCoalesce is how long a status change waits for others before
	// it is written to the hub; 1 second by default.
	StatusCoalesce time.Duration
	// HubBackoffMax caps the wait between attempts to reach the hub, so
	// that a hub back after a long partition is noticed within it; 5
	// seconds by default.
	HubBackoffMax time.Duration
	// ConflictRecheck is how often a Work with a manifest in Conflict looks
	// again (the other object is not watched); 30 seconds by default.
	ConflictRecheck time.Duration
	// Workers apply Works in parallel; 4 by default.
	Workers int
	// Registerer receives the engine's metrics; none when nil.
	Registerer prometheus.Registerer
}

func (o *Options) defaults() error {
	if o.Cluster == "" {
		return errors.New("worksync: no cluster name")
	}
	if o.StateDir == "" {
		return errors.New("worksync: no state directory")
	}
	if o.Namespace == "" {
		o.Namespace = workv1alpha1.ClusterNamespace(o.Cluster)
	}
	if o.ResyncInterval <= 0 {
		o.ResyncInterval = 5 * time.Minute
	}
	if o.StatusCoalesce <= 0 {
		o.StatusCoalesce = time.Second
	}
	if o.HubBackoffMax <= 0 {
		o.HubBackoffMax = 5 * time.Second
	}
	if o.ConflictRecheck <= 0 {
		o.ConflictRecheck = 30 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	return nil
}

// Engine keeps a cluster running what its Works on the hub say, whether or
// not the hub is reachable. See docs/pull-mode-work.md.
type Engine struct {
	o       Options
	hub     rest.Interface
	params  runtime.ParameterCodec
	local   cluster
	syncer  *syncer
	metrics *metrics
	log     logr.Logger

	queue       workqueue.TypedRateLimitingInterface[string]
	statusQueue workqueue.TypedRateLimitingInterface[string]

	connected atomic.Bool
	started   atomic.Bool

	mu    sync.Mutex
	store *store
	works map[string]*workState
	// index maps an object's key to the Works whose current spec names
	// it (deleted Works excluded).
	index  map[string]map[string]bool
	keysOf map[string][]string
	// contact says whether the hub ever answered, and since when the
	// connection is in its current state.
	contact      bool
	connectedAt  time.Time
	disconnected time.Time
}

// workState is the engine's view of one Work.
type workState struct {
	// rec is the record as last decided; it is replaced, never changed.
	rec *record
	// unsaved is set when rec could not be written to the store yet; the
	// worker writes it before applying anything.
	unsaved bool
	// hub is the Work as last seen on the hub; nil when not seen since
	// the engine started.
	hub *workv1alpha1.Work
	// results are the last sync's, for generation resultsGen.
	results    []workv1alpha1.ManifestStatus
	resultsGen int64
	synced     bool
}

// New returns an engine that syncs the Works of its cluster's namespace on
// the hub (hub: the agent's identity, which needs only get, list and watch
// on works and patch on works/status there) to the local cluster (local:
// rights to apply whatever the Works hold).
func New(hub, local *rest.Config, o Options) (*Engine, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	scheme := runtime.NewScheme()
	if err := workv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	hc := rest.CopyConfig(hub)
	hc.APIPath = "/apis"
	hc.GroupVersion = &workv1alpha1.GroupVersion
	hc.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	hc.UserAgent = "flotilla-agent/worksync"
	hc.Timeout = 0 // watches; requests carry their own deadlines
	if hc.QPS == 0 {
		hc.QPS, hc.Burst = 20, 50
	}
	rc, err := rest.RESTClientFor(hc)
	if err != nil {
		return nil, fmt.Errorf("worksync: hub client: %w", err)
	}
	lc, err := newLocalCluster(local)
	if err != nil {
		return nil, fmt.Errorf("worksync: local cluster client: %w", err)
	}
	e := newEngine(o, rc, runtime.NewParameterCodec(scheme), lc)
	lc.onEvent = e.onLocalEvent
	return e, nil
}

// newEngine assembles an engine from its parts; o has its defaults.
func newEngine(o Options, hub rest.Interface, params runtime.ParameterCodec, c cluster) *Engine {
	m := newMetrics(o.Registerer)
	return &Engine{
		o:       o,
		hub:     hub,
		params:  params,
		local:   c,
		syncer:  &syncer{cluster: c, clusterName: o.Cluster, metrics: m},
		metrics: m,
		log:     logr.Discard(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](200*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "worksync"}),
		statusQueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](500*time.Millisecond, o.HubBackoffMax),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "worksync-status"}),
		works:  map[string]*workState{},
		index:  map[string]map[string]bool{},
		keysOf: map[string][]string{},
	}
}

// Connected reports whether the last request to the hub succeeded. It is
// false until the hub first answers.
func (e *Engine) Connected() bool { return e.connected.Load() }

// Run syncs until ctx ends. It first resumes every Work from the store, so
// the cluster converges (and drift is corrected) with the hub unreachable;
// the hub's list and watch then bring what changed. It returns nil when ctx
// ends, or an error when the store cannot be opened or read in full (held
// by another agent, corrupt, or of a newer format). An Engine runs once.
func (e *Engine) Run(ctx context.Context) error {
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("worksync: the engine already ran")
	}
	e.log = log.FromContext(ctx).WithName("worksync").WithValues("cluster", e.o.Cluster)
	ctx = log.IntoContext(ctx, e.log)
	if err := e.resume(); err != nil {
		return err
	}
	defer func() {
		if err := e.store.close(); err != nil {
			e.log.Error(err, "close the store")
		}
	}()

	e.local.start(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { e.hubReflector().RunWithContext(ctx) })
	for range e.o.Workers {
		wg.Go(func() {
			for e.processNext(ctx) {
			}
		})
		wg.Go(func() {
			for e.processNextStatus(ctx) {
			}
		})
	}
	wg.Go(func() {
		t := time.NewTicker(e.o.ResyncInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				e.enqueueAll()
			}
		}
	})
	<-ctx.Done()
	e.queue.ShutDown()
	e.statusQueue.ShutDown()
	wg.Wait()
	e.log.Info("stopped")
	return nil
}

// resume opens the store and takes every Work it holds, to be applied
// again before the hub says anything.
func (e *Engine) resume() error {
	st, err := openStore(e.o.StateDir, 5*time.Second)
	if err != nil {
		return fmt.Errorf("worksync: %w", err)
	}
	recs, err := st.list()
	if err != nil {
		_ = st.close()
		// A store that cannot be read entirely is never taken for an
		// empty one: that would forget what runs here.
		return fmt.Errorf("worksync: read the store: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.store = st
	for _, r := range recs {
		e.works[r.Name] = &workState{rec: r}
		if !r.Deleted {
			e.reindex(r.Name, r)
		}
		e.queue.Add(r.Name)
	}
	e.metrics.works.Set(float64(len(e.works)))
	e.metrics.hubConnected.Set(0)
	e.log.Info("resuming from the local store", "works", len(recs), "stateDir", e.o.StateDir)
	return nil
}

func (e *Engine) enqueueAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for name := range e.works {
		e.queue.Add(name)
	}
}

// reindex records the objects rec's spec names. Call with e.mu held.
func (e *Engine) reindex(name string, rec *record) {
	e.unindex(name)
	manifests, _ := parseManifests(&rec.Spec)
	for _, m := range manifests {
		if m == nil {
			continue
		}
		k := refOf(m).key()
		if e.index[k] == nil {
			e.index[k] = map[string]bool{}
		}
		e.index[k][name] = true
		e.keysOf[name] = append(e.keysOf[name], k)
	}
}

// unindex forgets what a Work's spec names. Call with e.mu held.
func (e *Engine) unindex(name string) {
	for _, k := range e.keysOf[name] {
		delete(e.index[k], name)
		if len(e.index[k]) == 0 {
			delete(e.index, k)
		}
	}
	delete(e.keysOf, name)
}

// inUseBy returns a function that reports whether a Work other than name
// names an object in its current spec.
func (e *Engine) inUseBy(name string) inUseFunc {
	return func(r objectRef) bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		for other := range e.index[r.key()] {
			if other != name {
				return true
			}
		}
		return false
	}
}

// save writes rec to the store. Call with e.mu held.
func (e *Engine) save(rec *record) error {
	if err := e.store.put(rec); err != nil {
		e.metrics.storeWrites.WithLabelValues("error").Inc()
		return fmt.Errorf("save work %s: %w", rec.Name, err)
	}
	e.metrics.storeWrites.WithLabelValues("success").Inc()
	return nil
}

// upsert takes a Work the hub sent. A new spec (a new generation or a new
// Work of the same name) is written to the store before anything is
// applied, with the objects it names added to the record's inventory.
func (e *Engine) upsert(w *workv1alpha1.Work) {
	if w.DeletionTimestamp != nil {
		e.gone(w.Name, string(w.UID))
		return
	}
	e.mu.Lock()
	st := e.works[w.Name]
	if st == nil || st.rec.UID != w.UID || st.rec.Generation != w.Generation || st.rec.Deleted {
		manifests, _ := parseManifests(&w.Spec)
		var inv []inventoryEntry
		if st != nil {
			inv = st.rec.Inventory
		} else {
			st = &workState{}
			e.works[w.Name] = st
		}
		rec := &record{Name: w.Name, UID: w.UID, ResourceVersion: w.ResourceVersion, Generation: w.Generation,
			Spec: *w.Spec.DeepCopy(), Inventory: mergeInventory(inv, manifests)}
		st.rec, st.unsaved = rec, true
		if err := e.save(rec); err != nil {
			e.log.Error(err, "the worker will retry before applying")
		} else {
			st.unsaved = false
		}
		e.reindex(w.Name, rec)
		e.metrics.works.Set(float64(len(e.works)))
		e.log.V(1).Info("work from the hub", "work", w.Name, "generation", w.Generation, "manifests", len(manifests))
		e.queue.Add(w.Name)
	}
	st.hub = w
	e.mu.Unlock()
	e.statusQueue.AddAfter(w.Name, e.o.StatusCoalesce)
}

// gone takes the hub's word that a Work no longer exists: a watch delete,
// a Work being deleted, or a successful list without it. uid, when set,
// must be the recorded Work's. Nothing else ever removes objects from the
// cluster.
func (e *Engine) gone(name, uid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.works[name]
	if st == nil || st.rec.Deleted || (uid != "" && string(st.rec.UID) != uid) {
		return
	}
	rec := *st.rec
	rec.Deleted = true
	st.rec, st.hub, st.unsaved = &rec, nil, true
	if err := e.save(&rec); err != nil {
		e.log.Error(err, "the worker will retry before removing")
	} else {
		st.unsaved = false
	}
	e.unindex(name)
	e.log.Info("work deleted on the hub", "work", name, "preserveResources", rec.Spec.PreserveResourcesOnDeletion)
	e.queue.Add(name)
}

// listed takes a complete list of the namespace's Works.
func (e *Engine) listed(ws []*workv1alpha1.Work) {
	present := map[string]bool{}
	for _, w := range ws {
		present[w.Name] = true
		e.upsert(w)
	}
	e.mu.Lock()
	var missing []string
	for name := range e.works {
		if !present[name] {
			missing = append(missing, name)
		}
	}
	e.mu.Unlock()
	for _, name := range missing {
		e.gone(name, "")
	}
}

// onLocalEvent takes a change to one of Flotilla's objects in the cluster:
// a change to what a manifest sets, or a deletion, is drift to correct; a
// status change is news for the hub.
func (e *Engine) onLocalEvent(obj, old *unstructured.Unstructured, deleted bool) {
	key := refOf(obj).key()
	e.mu.Lock()
	var names []string
	for n := range e.index[key] {
		names = append(names, n)
	}
	e.mu.Unlock()
	for _, n := range names {
		if deleted || (old != nil && specChanged(old, obj)) {
			e.queue.Add(n)
		}
		e.statusQueue.AddAfter(n, e.o.StatusCoalesce)
	}
}

// specChanged reports whether anything but status and bookkeeping changed.
func specChanged(old, obj *unstructured.Unstructured) bool {
	if old.GetGeneration() != obj.GetGeneration() {
		return true
	}
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := map[string]any{}
		for k, v := range u.Object {
			if k != "status" && k != "metadata" {
				c[k] = v
			}
		}
		c["labels"], c["annotations"] = u.GetLabels(), u.GetAnnotations()
		return c
	}
	return !reflect.DeepEqual(strip(old), strip(obj))
}

func (e *Engine) processNext(ctx context.Context) bool {
	name, shutdown := e.queue.Get()
	if shutdown {
		return false
	}
	defer e.queue.Done(name)
	after, err := e.syncWork(ctx, name)
	switch {
	case err != nil && ctx.Err() == nil:
		e.log.Error(err, "sync failed; retrying", "work", name)
		e.queue.AddRateLimited(name)
	case after > 0:
		e.queue.Forget(name)
		e.queue.AddAfter(name, after)
	default:
		e.queue.Forget(name)
	}
	return true
}

// syncWork brings the cluster in line with one Work's record and returns
// when to look again.
func (e *Engine) syncWork(ctx context.Context, name string) (time.Duration, error) {
	e.mu.Lock()
	st := e.works[name]
	if st == nil {
		e.mu.Unlock()
		return 0, nil
	}
	rec := st.rec
	if st.unsaved {
		if err := e.save(rec); err != nil {
			e.mu.Unlock()
			return 0, err
		}
		st.unsaved = false
	}
	e.mu.Unlock()

	if rec.Deleted {
		left, err := e.syncer.removeAll(ctx, rec, e.inUseBy(name))
		e.mu.Lock()
		defer e.mu.Unlock()
		if st.rec != rec {
			// The Work came back meanwhile: its record took the inventory.
			return 0, err
		}
		if err == nil && len(left) == 0 {
			if derr := e.store.delete(name); derr != nil {
				return 0, derr
			}
			delete(e.works, name)
			e.metrics.works.Set(float64(len(e.works)))
			e.log.Info("work removed from the cluster", "work", name)
			return 0, nil
		}
		next := *rec
		next.Inventory = left
		if serr := e.save(&next); serr != nil {
			return 0, serr
		}
		st.rec = &next
		return 0, err
	}

	out := e.syncer.sync(ctx, rec, e.inUseBy(name))
	e.mu.Lock()
	if st.rec == rec {
		if !equalInventory(rec.Inventory, out.inventory) {
			next := *rec
			next.Inventory = out.inventory
			if err := e.save(&next); err != nil {
				out.err = firstErr(out.err, err)
			} else {
				st.rec = &next
			}
		}
		st.results, st.resultsGen, st.synced = out.results, rec.Generation, true
	}
	e.mu.Unlock()
	e.statusQueue.AddAfter(name, e.o.StatusCoalesce)
	if out.err != nil {
		return 0, out.err
	}
	if out.conflict {
		return e.o.ConflictRecheck, nil
	}
	return 0, nil
}

func equalInventory(a, b []inventoryEntry) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func (e *Engine) processNextStatus(ctx context.Context) bool {
	name, shutdown := e.statusQueue.Get()
	if shutdown {
		return false
	}
	defer e.statusQueue.Done(name)
	if err := e.reportStatus(ctx, name); err != nil && ctx.Err() == nil {
		e.log.V(1).Info("status not written; retrying", "work", name, "err", err.Error())
		e.statusQueue.AddRateLimited(name)
		return true
	}
	e.statusQueue.Forget(name)
	return true
}

// reportStatus writes a Work's status to the hub when it differs from what
// the hub has.
func (e *Engine) reportStatus(ctx context.Context, name string) error {
	e.mu.Lock()
	st := e.works[name]
	if st == nil || st.rec.Deleted || !st.synced || st.resultsGen != st.rec.Generation {
		e.mu.Unlock()
		return nil
	}
	uid, gen, results := st.rec.UID, st.resultsGen, st.results
	var prev *workv1alpha1.WorkStatus
	if st.hub != nil && st.hub.UID == uid {
		prev = st.hub.Status.DeepCopy()
	}
	e.mu.Unlock()

	var conds []metav1.Condition
	if prev != nil {
		conds = prev.Conditions
	}
	status := workStatus(gen, results, conds, e.local.cached)
	if prev != nil && sameStatus(*prev, status) {
		return nil
	}
	now := metav1.Now()
	status.LastSyncTime = &now
	w, err := e.writeStatus(ctx, name, uid, status)
	if err != nil {
		var st apierrors.APIStatus
		if !errors.As(err, &st) {
			e.observeHub(err)
		}
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			// Deleted or replaced on the hub: the watch will say.
			return nil
		}
		e.metrics.statusWrites.WithLabelValues("error").Inc()
		if apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) {
			// A retry cannot help; the next change or resync tries again.
			e.log.Error(err, "the hub refused a Work's status", "work", name)
			return nil
		}
		return err
	}
	e.observeHub(nil)
	e.metrics.statusWrites.WithLabelValues("success").Inc()
	e.mu.Lock()
	if cur := e.works[name]; cur != nil && cur.rec.UID == w.UID {
		cur.hub = w
	}
	e.mu.Unlock()
	return nil
}

// setConnected records the state of the hub connection; a hub that is
// back gets every status at once.
func (e *Engine) setConnected(up bool, cause error) {
	if e.connected.Swap(up) == up {
		return
	}
	e.mu.Lock()
	now := time.Now()
	first := !e.contact
	away := now.Sub(e.disconnected)
	if up {
		e.contact, e.connectedAt = true, now
	} else {
		e.disconnected = now
	}
	var names []string
	for n := range e.works {
		names = append(names, n)
	}
	e.mu.Unlock()
	if up {
		e.metrics.hubConnected.Set(1)
		e.metrics.hubTransitions.WithLabelValues("connected").Inc()
		if first {
			e.log.Info("connected to the hub")
		} else {
			e.log.Info("hub reachable again; reporting status", "after", away.Round(time.Millisecond).String())
		}
		for _, n := range names {
			e.statusQueue.Add(n)
		}
		return
	}
	e.metrics.hubConnected.Set(0)
	e.metrics.hubTransitions.WithLabelValues("disconnected").Inc()
	e.log.Info("hub unreachable; running from the local store", "err", fmt.Sprint(cause))
}

var _ hubEvents = &Engine{}
