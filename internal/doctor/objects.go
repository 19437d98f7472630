package doctor

import (
	"context"
	"fmt"
	"sort"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// objects caches the lists several checks read, so that one run lists
// each kind once.
type objects struct {
	clusters    []clusterv1alpha1.Cluster
	clustersErr error
	clustersOK  bool

	pols    []policy
	polsErr error
	polsOK  bool

	binds    []workv1alpha1.Binding
	bindsErr error
	bindsOK  bool
}

// policy is a PropagationPolicy or a ClusterPropagationPolicy.
type policy struct {
	ref  workv1alpha1.PolicyReference
	spec *policyv1alpha1.PropagationSpec
}

// String names the policy as the claim annotation does:
// PropagationPolicy/NAMESPACE/NAME or ClusterPropagationPolicy/NAME.
func (p policy) String() string { return policyString(p.ref) }

func policyString(r workv1alpha1.PolicyReference) string {
	if r.Namespace != "" {
		return r.Kind + "/" + r.Namespace + "/" + r.Name
	}
	return r.Kind + "/" + r.Name
}

// listClusters returns the fleet's clusters by name.
func (e *Env) listClusters(ctx context.Context) ([]clusterv1alpha1.Cluster, error) {
	o := &e.objs
	if !o.clustersOK {
		o.clustersOK = true
		var l clusterv1alpha1.ClusterList
		if err := e.Client.List(ctx, &l); err != nil {
			o.clustersErr = fmt.Errorf("list clusters: %w", err)
		} else {
			o.clusters = l.Items
			sort.Slice(o.clusters, func(i, j int) bool { return o.clusters[i].Name < o.clusters[j].Name })
		}
	}
	return o.clusters, o.clustersErr
}

// listPolicies returns every PropagationPolicy and ClusterPropagationPolicy
// that is not being deleted: the namespaced ones first.
func (e *Env) listPolicies(ctx context.Context) ([]policy, error) {
	o := &e.objs
	if !o.polsOK {
		o.polsOK = true
		var pps policyv1alpha1.PropagationPolicyList
		var cpps policyv1alpha1.ClusterPropagationPolicyList
		if err := e.Client.List(ctx, &pps); err != nil {
			o.polsErr = fmt.Errorf("list propagationpolicies: %w", err)
			return nil, o.polsErr
		}
		if err := e.Client.List(ctx, &cpps); err != nil {
			o.polsErr = fmt.Errorf("list clusterpropagationpolicies: %w", err)
			return nil, o.polsErr
		}
		for i := range pps.Items {
			p := &pps.Items[i]
			if p.DeletionTimestamp.IsZero() {
				o.pols = append(o.pols, policy{workv1alpha1.PolicyReference{Kind: "PropagationPolicy", Namespace: p.Namespace, Name: p.Name}, &p.Spec})
			}
		}
		for i := range cpps.Items {
			p := &cpps.Items[i]
			if p.DeletionTimestamp.IsZero() {
				o.pols = append(o.pols, policy{workv1alpha1.PolicyReference{Kind: "ClusterPropagationPolicy", Name: p.Name}, &p.Spec})
			}
		}
		sort.SliceStable(o.pols, func(i, j int) bool {
			if o.pols[i].ref.Kind != o.pols[j].ref.Kind {
				return o.pols[i].ref.Kind == "PropagationPolicy"
			}
			return o.pols[i].String() < o.pols[j].String()
		})
	}
	return o.pols, o.polsErr
}

// listBindings returns every ResourceBinding and ClusterResourceBinding:
// the namespaced ones first, by namespace and name.
func (e *Env) listBindings(ctx context.Context) ([]workv1alpha1.Binding, error) {
	o := &e.objs
	if !o.bindsOK {
		o.bindsOK = true
		var rbs workv1alpha1.ResourceBindingList
		var crbs workv1alpha1.ClusterResourceBindingList
		if err := e.Client.List(ctx, &rbs); err != nil {
			o.bindsErr = fmt.Errorf("list resourcebindings: %w", err)
			return nil, o.bindsErr
		}
		if err := e.Client.List(ctx, &crbs); err != nil {
			o.bindsErr = fmt.Errorf("list clusterresourcebindings: %w", err)
			return nil, o.bindsErr
		}
		sort.Slice(rbs.Items, func(i, j int) bool {
			a, b := rbs.Items[i], rbs.Items[j]
			if a.Namespace != b.Namespace {
				return a.Namespace < b.Namespace
			}
			return a.Name < b.Name
		})
		sort.Slice(crbs.Items, func(i, j int) bool { return crbs.Items[i].Name < crbs.Items[j].Name })
		for i := range rbs.Items {
			o.binds = append(o.binds, &rbs.Items[i])
		}
		for i := range crbs.Items {
			o.binds = append(o.binds, &crbs.Items[i])
		}
	}
	return o.binds, o.bindsErr
}

// bindingName names a binding as ResourceBinding NS/NAME or
// ClusterResourceBinding NAME.
func bindingName(b workv1alpha1.Binding) string {
	if b.GetNamespace() != "" {
		return "ResourceBinding " + b.GetNamespace() + "/" + b.GetName()
	}
	return "ClusterResourceBinding " + b.GetName()
}
