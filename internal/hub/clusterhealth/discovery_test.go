package clusterhealth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

func resources(gv string, names ...string) *metav1.APIResourceList {
	l := &metav1.APIResourceList{GroupVersion: gv}
	for i := 0; i < len(names); i += 2 {
		l.APIResources = append(l.APIResources, metav1.APIResource{Name: names[i], Kind: names[i+1]})
	}
	return l
}

func TestAPIEnablements(t *testing.T) {
	lists := []*metav1.APIResourceList{
		resources("v1", "services", "Service", "pods", "Pod", "pods/log", "PodLogOptions", "configmaps", "ConfigMap"),
		resources("apps/v1", "statefulsets", "StatefulSet", "deployments", "Deployment", "deployments/status", "Deployment", "deployments/scale", "Scale"),
		resources("autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
		resources("autoscaling/v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
		resources("example.com/v1"), // no resources at all
		resources("apps/v1", "deployments", "Deployment"),
		nil,
	}
	want := []clusterv1alpha1.APIEnablement{
		{GroupVersion: "apps/v1", Kinds: []string{"Deployment", "StatefulSet"}},
		{GroupVersion: "autoscaling/v1", Kinds: []string{"HorizontalPodAutoscaler"}},
		{GroupVersion: "autoscaling/v2", Kinds: []string{"HorizontalPodAutoscaler"}},
		{GroupVersion: "v1", Kinds: []string{"ConfigMap", "Pod", "Service"}},
	}
	got := apiEnablements(lists)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// The order of discovery does not matter.
	rev := make([]*metav1.APIResourceList, len(lists))
	for i, l := range lists {
		rev[len(lists)-1-i] = l
	}
	if diff := cmp.Diff(got, apiEnablements(rev)); diff != "" {
		t.Errorf("reversed discovery gave another list:\n%s", diff)
	}
}

func fakeDiscovery(err error, lists ...*metav1.APIResourceList) *fakediscovery.FakeDiscovery {
	f := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: lists}}
	if err != nil {
		f.PrependReactor("get", "resource", func(clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, err
		})
	}
	return f
}

func TestDiscoverWith(t *testing.T) {
	prev := []clusterv1alpha1.APIEnablement{
		{GroupVersion: "apps/v1", Kinds: []string{"Deployment"}},
		{GroupVersion: "metrics.k8s.io/v1beta1", Kinds: []string{"NodeMetrics", "PodMetrics"}},
		{GroupVersion: "old.example.com/v1", Kinds: []string{"Gone"}},
	}
	metricsDown := &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
		{Group: "metrics.k8s.io", Version: "v1beta1"}: errors.New("the server is currently unable to handle the request"),
	}}
	cases := map[string]struct {
		d       resourceDiscoverer
		want    []clusterv1alpha1.APIEnablement
		wantErr bool
	}{
		"complete discovery replaces the list": {
			d: fakeDiscovery(nil, resources("apps/v1", "deployments", "Deployment", "daemonsets", "DaemonSet")),
			want: []clusterv1alpha1.APIEnablement{
				{GroupVersion: "apps/v1", Kinds: []string{"DaemonSet", "Deployment"}},
			},
		},
		"an aggregated API down keeps the rest and its last known kinds": {
			d: fakeDiscovery(metricsDown, resources("apps/v1", "deployments", "Deployment"), resources("v1", "pods", "Pod")),
			want: []clusterv1alpha1.APIEnablement{
				{GroupVersion: "apps/v1", Kinds: []string{"Deployment"}},
				{GroupVersion: "metrics.k8s.io/v1beta1", Kinds: []string{"NodeMetrics", "PodMetrics"}},
				{GroupVersion: "v1", Kinds: []string{"Pod"}},
			},
			wantErr: true,
		},
		"a total failure keeps the last known list": {
			d:       fakeDiscovery(errors.New("connection refused")),
			want:    prev,
			wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := discoverWith(context.Background(), tc.d, prev)
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefreshAPIsAtStatusRefreshCadence(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Now())
	r := NewReconciler(nil, nil, Options{StatusRefresh: time.Minute, FailureThreshold: 1}, WithClock(clk))
	calls := 0
	served := []clusterv1alpha1.APIEnablement{{GroupVersion: "v1", Kinds: []string{"Pod"}}}
	r.discover = func(context.Context, *rest.Config, time.Duration, []clusterv1alpha1.APIEnablement) ([]clusterv1alpha1.APIEnablement, error) {
		calls++
		return served, nil
	}
	probe := func(key string) *clusterv1alpha1.Cluster {
		c := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "member-1"}}
		r.record(c, healthy, metav1.NewTime(clk.Now()))
		c.Status.APIEnablements = served
		orig := c.DeepCopy()
		r.refreshAPIs(context.Background(), orig, c, &rest.Config{}, key)
		return c
	}
	notReady := &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "member-1"}}
	c := notReady.DeepCopy()
	r.record(c, healthy, metav1.NewTime(clk.Now()))
	r.refreshAPIs(context.Background(), notReady, c, &rest.Config{}, "k1")
	if calls != 1 || len(c.Status.APIEnablements) != 1 {
		t.Fatalf("a cluster turning ready is discovered: calls=%d enablements=%v", calls, c.Status.APIEnablements)
	}
	clk.SetTime(clk.Now().Add(10 * time.Second))
	probe("k1")
	if calls != 1 {
		t.Errorf("discovered again within StatusRefresh: calls=%d", calls)
	}
	probe("k2")
	if calls != 2 {
		t.Errorf("new credentials should rediscover: calls=%d", calls)
	}
	clk.SetTime(clk.Now().Add(time.Minute))
	probe("k2")
	if calls != 3 {
		t.Errorf("StatusRefresh passed: calls=%d", calls)
	}
	r.discovered.forget("member-1")
	probe("k2")
	if calls != 4 {
		t.Errorf("a forgotten cluster is discovered again: calls=%d", calls)
	}
}
