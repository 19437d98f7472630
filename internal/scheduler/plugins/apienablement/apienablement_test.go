package apienablement

import (
	"context"
	"testing"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

func TestFilter(t *testing.T) {
	served := []clusterv1alpha1.APIEnablement{
		{GroupVersion: "apps/v1", Kinds: []string{"DaemonSet", "Deployment", "StatefulSet"}},
		{GroupVersion: "batch/v1", Kinds: []string{"CronJob", "Job"}},
		{GroupVersion: "v1", Kinds: []string{"ConfigMap", "Secret", "Service"}},
	}
	cases := map[string]struct {
		enablements []clusterv1alpha1.APIEnablement
		apiVersion  string
		kind        string
		wantReason  string // "" admits
	}{
		"served":                     {served, "apps/v1", "Deployment", ""},
		"core group":                 {served, "v1", "ConfigMap", ""},
		"kind missing from group":    {served, "apps/v1", "ReplicaSet", "cluster does not serve apps/v1 ReplicaSet"},
		"group version missing":      {served, "autoscaling/v2", "HorizontalPodAutoscaler", "cluster does not serve autoscaling/v2 HorizontalPodAutoscaler"},
		"other version of the group": {served, "apps/v1beta1", "Deployment", "cluster does not serve apps/v1beta1 Deployment"},
		"kind served in another group only": {
			served, "extensions/v1beta1", "Deployment", "cluster does not serve extensions/v1beta1 Deployment"},
		"not discovered yet":   {nil, "example.com/v1", "Widget", ""},
		"template unknown":     {served, "", "", ""},
		"kind is case-exact":   {served, "apps/v1", "deployment", "cluster does not serve apps/v1 deployment"},
		"custom resource kind": {append(served, clusterv1alpha1.APIEnablement{GroupVersion: "example.com/v1", Kinds: []string{"Widget"}}), "example.com/v1", "Widget", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := &clusterv1alpha1.Cluster{Status: clusterv1alpha1.ClusterStatus{APIEnablements: tc.enablements}}
			s := Plugin{APIVersion: tc.apiVersion, Kind: tc.kind}.Filter(context.Background(), nil, c)
			switch {
			case tc.wantReason == "" && !s.IsSuccess():
				t.Errorf("rejected (%s), want admitted", s)
			case tc.wantReason != "" && s.IsSuccess():
				t.Errorf("admitted, want %q", tc.wantReason)
			case tc.wantReason != "" && s.Reason != tc.wantReason:
				t.Errorf("reason %q, want %q", s.Reason, tc.wantReason)
			}
		})
	}
}
