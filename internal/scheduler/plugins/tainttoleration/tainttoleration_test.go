package tainttoleration

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

func TestFilter(t *testing.T) {
	noSchedule := corev1.Taint{Key: "maintenance", Effect: corev1.TaintEffectNoSchedule}
	noExecute := corev1.Taint{Key: "outage", Value: "hub", Effect: corev1.TaintEffectNoExecute}
	prefer := corev1.Taint{Key: "cost", Effect: corev1.TaintEffectPreferNoSchedule}
	cases := map[string]struct {
		taints      []corev1.Taint
		tolerations []corev1.Toleration
		admit       bool
	}{
		"untainted":                {nil, nil, true},
		"NoSchedule not tolerated": {[]corev1.Taint{noSchedule}, nil, false},
		"NoSchedule tolerated":     {[]corev1.Taint{noSchedule}, []corev1.Toleration{{Key: "maintenance", Operator: corev1.TolerationOpExists}}, true},
		"NoExecute value mismatch": {[]corev1.Taint{noExecute}, []corev1.Toleration{{Key: "outage", Operator: corev1.TolerationOpEqual, Value: "net", Effect: corev1.TaintEffectNoExecute}}, false},
		"NoExecute value match":    {[]corev1.Taint{noExecute}, []corev1.Toleration{{Key: "outage", Operator: corev1.TolerationOpEqual, Value: "hub", Effect: corev1.TaintEffectNoExecute}}, true},
		"PreferNoSchedule ignored": {[]corev1.Taint{prefer}, nil, true},
		"one of two not tolerated": {[]corev1.Taint{noSchedule, noExecute}, []corev1.Toleration{{Key: "maintenance", Operator: corev1.TolerationOpExists}}, false},
		"wildcard tolerates all":   {[]corev1.Taint{noSchedule, noExecute}, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := &clusterv1alpha1.Cluster{Spec: clusterv1alpha1.ClusterSpec{Taints: tc.taints}}
			s := Plugin{}.Filter(context.Background(), &policyv1alpha1.Placement{ClusterTolerations: tc.tolerations}, c)
			if s.IsSuccess() != tc.admit {
				t.Errorf("admit = %v (%s), want %v", s.IsSuccess(), s, tc.admit)
			}
		})
	}
}
