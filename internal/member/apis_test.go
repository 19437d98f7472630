package member

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"

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
		d       ResourceDiscoverer
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
			got, err := DiscoverAPIsWith(context.Background(), tc.d, prev)
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
