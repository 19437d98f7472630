package clusteraffinity

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

func cluster(name, provider, region string, labels map[string]string) *clusterv1alpha1.Cluster {
	return &clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       clusterv1alpha1.ClusterSpec{Provider: provider, Region: region},
	}
}

func TestFilter(t *testing.T) {
	m1 := cluster("member-cluster-1", "cloud-a", "cloud-a", map[string]string{"environment": "production"})
	edge := cluster("edge-cluster", "edge", "", map[string]string{"environment": "edge"})
	req := func(key string, op corev1.NodeSelectorOperator, values ...string) *policyv1alpha1.FieldSelector {
		return &policyv1alpha1.FieldSelector{MatchExpressions: []policyv1alpha1.FieldSelectorRequirement{{Key: key, Operator: op, Values: values}}}
	}
	cases := map[string]struct {
		affinity *policyv1alpha1.ClusterAffinity
		cluster  *clusterv1alpha1.Cluster
		admit    bool
	}{
		"no affinity":             {nil, edge, true},
		"named":                   {&policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member-cluster-1"}}, m1, true},
		"not named":               {&policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member-cluster-1"}}, edge, false},
		"excluded wins over name": {&policyv1alpha1.ClusterAffinity{ClusterNames: []string{"member-cluster-1"}, Exclude: []string{"member-cluster-1"}}, m1, false},
		"labels match":            {&policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"environment": "production"}}}, m1, true},
		"labels differ":           {&policyv1alpha1.ClusterAffinity{LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"environment": "production"}}}, edge, false},
		"region in":               {&policyv1alpha1.ClusterAffinity{FieldSelector: req("region", corev1.NodeSelectorOpIn, "cloud-a")}, m1, true},
		"region not in":           {&policyv1alpha1.ClusterAffinity{FieldSelector: req("region", corev1.NodeSelectorOpNotIn, "cloud-a")}, m1, false},
		"empty region is not in":  {&policyv1alpha1.ClusterAffinity{FieldSelector: req("region", corev1.NodeSelectorOpIn, "")}, edge, false},
		"region exists":           {&policyv1alpha1.ClusterAffinity{FieldSelector: req("region", corev1.NodeSelectorOpExists)}, edge, false},
		"region does not exist":   {&policyv1alpha1.ClusterAffinity{FieldSelector: req("region", corev1.NodeSelectorOpDoesNotExist)}, edge, true},
		"provider in":             {&policyv1alpha1.ClusterAffinity{FieldSelector: req("provider", corev1.NodeSelectorOpIn, "edge")}, edge, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := Plugin{}.Filter(context.Background(), &policyv1alpha1.Placement{ClusterAffinity: tc.affinity}, tc.cluster)
			if s.IsSuccess() != tc.admit {
				t.Errorf("admit = %v (%s), want %v", s.IsSuccess(), s, tc.admit)
			}
			if !s.IsSuccess() && s.Reason == "" {
				t.Error("a rejection without a reason")
			}
		})
	}
}
