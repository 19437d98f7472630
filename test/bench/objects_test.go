package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// duplicatedPolicy propagates every Deployment of ns to both members.
func duplicatedPolicy(ns string) *policyv1alpha1.PropagationPolicy {
	return &policyv1alpha1.PropagationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "all-deployments"},
		Spec: policyv1alpha1.PropagationSpec{
			ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "apps/v1", Kind: "Deployment"}},
			Placement: policyv1alpha1.Placement{
				ClusterAffinity: &policyv1alpha1.ClusterAffinity{ClusterNames: benchMembers},
				ReplicaScheduling: &policyv1alpha1.ReplicaSchedulingStrategy{
					ReplicaSchedulingType: policyv1alpha1.ReplicaSchedulingTypeDuplicated,
				},
			},
		},
	}
}

func objName(i int) string { return fmt.Sprintf("app-%05d", i) }

// oneReplica is a one-replica Deployment of a pause container.
func oneReplica(ns, name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
			},
		},
	}
}

// createDeployments creates n Deployments in ns with createWorkers workers
// and returns how long each create took. When out is not nil, each created
// Deployment is sent to it.
func createDeployments(ctx context.Context, cs kubernetes.Interface, ns string, n int, out chan<- metav1.Object) ([]time.Duration, error) {
	next := make(chan int)
	durs := make([]time.Duration, n)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range createWorkers {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				d, err := createOne(ctx, cs, oneReplica(ns, objName(i)))
				durs[i] = time.Since(t0)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					continue
				}
				if out != nil {
					out <- d
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return durs, first
}

// createOne creates d, retrying errors a busy API server may give, and
// returns the created Deployment.
func createOne(ctx context.Context, cs kubernetes.Interface, d *appsv1.Deployment) (*appsv1.Deployment, error) {
	var got *appsv1.Deployment
	err := retryBusy(d.Namespace+"/"+d.Name, func() error {
		var err error
		got, err = cs.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{})
		return err
	})
	if err == nil && (got == nil || got.UID == "") {
		// An earlier attempt went through.
		got, err = cs.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	}
	return got, err
}

// retryBusy runs create, the create of the object name, up to 5 times
// while it fails as a busy API server may fail; AlreadyExists after a retry
// means an earlier attempt went through.
func retryBusy(name string, create func() error) error {
	var err error
	for attempt := range 5 {
		err = create()
		if err == nil || apierrors.IsAlreadyExists(err) && attempt > 0 {
			return nil
		}
		if !apierrors.IsServerTimeout(err) && !apierrors.IsTimeout(err) && !apierrors.IsTooManyRequests(err) && !apierrors.IsInternalError(err) {
			return fmt.Errorf("create %s: %w", name, err)
		}
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
	return fmt.Errorf("create %s: %w", name, err)
}

func ensureNamespace(ctx context.Context, cs kubernetes.Interface, ns string) error {
	_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func waitGone(ctx context.Context, cs kubernetes.Interface, ns string, timeout time.Duration) error {
	err := poll(ctx, time.Second, timeout, func() (bool, error) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		return fmt.Errorf("namespace %s not gone after %s", ns, timeout)
	}
	return nil
}

// countObjects counts the Deployments of ns by their metadata, a page at a
// time.
func countObjects(ctx context.Context, mc metadata.Interface, ns string) (int, error) {
	n, cont := 0, ""
	for {
		l, err := mc.Resource(deploymentsGVR).Namespace(ns).List(ctx, metav1.ListOptions{Limit: 1000, Continue: cont})
		if err != nil {
			return n, err
		}
		n += len(l.Items)
		if cont = l.Continue; cont == "" {
			return n, nil
		}
	}
}

// waitCount lists the Deployments of ns every pollInterval until their
// number satisfies ok, and returns the time from start.
func waitCount(ctx context.Context, mc metadata.Interface, ns string, ok func(int) bool, start time.Time, timeout time.Duration) (time.Duration, error) {
	var d time.Duration
	last := -1
	err := poll(ctx, pollInterval, timeout, func() (bool, error) {
		c, err := countObjects(ctx, mc, ns)
		if err != nil {
			return false, nil
		}
		last = c
		d = time.Since(start)
		return ok(c), nil
	})
	if err != nil {
		return 0, fmt.Errorf("%d Deployments in %s after %s", last, ns, timeout)
	}
	return d, nil
}

// poll runs cond every interval until it returns true, fails, or timeout
// passes.
func poll(ctx context.Context, interval, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := cond()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// readyWatch follows the Deployments of a namespace (the templates on the
// hub, or a member's objects) and closes done when want of them show the
// given ready replicas, and allSeen when the watch has delivered want of
// them.
type readyWatch struct {
	mu    sync.Mutex
	ready map[string]bool
	n     int
	want  int
	at    time.Time
	done  chan struct{}
	// seen holds the names of the Deployments the watch has delivered;
	// allAt is when it held want of them, and allSeen is closed then.
	seen    map[string]bool
	allAt   time.Time
	allSeen chan struct{}
}

func watchReady(ctx context.Context, cs kubernetes.Interface, ns string, replicas int32, want int) *readyWatch {
	w := &readyWatch{ready: map[string]bool{}, want: want, done: make(chan struct{}),
		seen: map[string]bool{}, allSeen: make(chan struct{})}
	inf := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns)).Apps().V1().Deployments().Informer()
	_ = inf.SetTransform(func(o any) (any, error) {
		if d, ok := o.(*appsv1.Deployment); ok {
			d.ManagedFields = nil
		}
		return o, nil
	})
	on := func(o any) {
		d, ok := o.(*appsv1.Deployment)
		if !ok {
			return
		}
		w.set(d.Name, d.Status.Replicas == replicas && d.Status.ReadyReplicas == replicas)
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: on, UpdateFunc: func(_, o any) { on(o) }})
	go inf.Run(ctx.Done())
	return w
}

func (w *readyWatch) set(name string, ready bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.seen[name] {
		w.seen[name] = true
		if len(w.seen) == w.want {
			w.allAt = time.Now()
			close(w.allSeen)
		}
	}
	if w.ready[name] == ready {
		return
	}
	w.ready[name] = ready
	if ready {
		w.n++
	} else {
		w.n--
	}
	if w.n == w.want && w.at.IsZero() {
		w.at = time.Now()
		close(w.done)
	}
}

func (w *readyWatch) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// seenSet records when each Deployment of a namespace first appeared.
type seenSet struct {
	mu sync.Mutex
	at map[string]time.Time
}

// watchAdds watches the Deployments of ns and records their arrival.
func watchAdds(ctx context.Context, cs kubernetes.Interface, ns string) (*seenSet, error) {
	s := &seenSet{at: map[string]time.Time{}}
	inf := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns)).Apps().V1().Deployments().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(o any) {
		now := time.Now()
		if d, ok := o.(*appsv1.Deployment); ok {
			s.mu.Lock()
			if _, dup := s.at[d.Name]; !dup {
				s.at[d.Name] = now
			}
			s.mu.Unlock()
		}
	}})
	if err != nil {
		return nil, err
	}
	go inf.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return nil, errors.New("informer did not sync")
	}
	return s, nil
}

func (s *seenSet) get(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[name]
	return t, ok
}

// percentile is the nearest-rank percentile p of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond)) }

func secs(d time.Duration) string {
	if d < 0 {
		return "not reached"
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
