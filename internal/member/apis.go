package member

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

// The most groupVersions, and kinds per groupVersion, that
// status.apiEnablements holds (the API's MaxItems).
const (
	maxGroupVersions = 512
	maxKinds         = 512
)

// ResourceDiscoverer is the part of a discovery client that lists every
// group, version and resource a server serves.
type ResourceDiscoverer interface {
	ServerGroupsAndResourcesWithContext(ctx context.Context) ([]*metav1.APIGroup, []*metav1.APIResourceList, error)
}

// DiscoverAPIs asks a cluster's API server which kinds it serves, in every
// version of every group (not only the preferred one, so that a template
// written against an older version still finds the clusters that serve it).
func DiscoverAPIs(ctx context.Context, cfg *rest.Config, timeout time.Duration, prev []clusterv1alpha1.APIEnablement) ([]clusterv1alpha1.APIEnablement, error) {
	c := rest.CopyConfig(cfg)
	c.Timeout = timeout
	// Without aggregated discovery a server is asked once per group
	// version; the default rate limit would stretch that over seconds.
	c.QPS, c.Burst = 50, 100
	d, err := discovery.NewDiscoveryClientForConfig(c)
	if err != nil {
		return prev, err
	}
	return DiscoverAPIsWith(ctx, d, prev)
}

// DiscoverAPIsWith lists the APIs d serves and turns them into apiEnablements.
// When some group versions fail (an aggregated API server is down), what
// was discovered is kept, and so are prev's entries for the group versions
// that failed: the error is returned beside a usable list. Only when
// nothing could be listed at all is prev returned unchanged.
func DiscoverAPIsWith(ctx context.Context, d ResourceDiscoverer, prev []clusterv1alpha1.APIEnablement) ([]clusterv1alpha1.APIEnablement, error) {
	_, lists, err := d.ServerGroupsAndResourcesWithContext(ctx)
	failed, partial := discovery.GroupDiscoveryFailedErrorGroups(err)
	if err != nil && (!partial || len(lists) == 0) {
		return prev, fmt.Errorf("discover the cluster's APIs: %w", err)
	}
	got := apiEnablements(lists)
	if len(failed) > 0 {
		got = keepFailed(got, prev, failed)
		return got, fmt.Errorf("discover the cluster's APIs, keeping the last known kinds of the group versions that failed: %w", err)
	}
	return got, nil
}

// apiEnablements turns discovery's resource lists into apiEnablements: one
// entry per group version that serves at least one top-level resource
// (subresources such as deployments/status are left out), with its kinds.
// Group versions and kinds are sorted and deduplicated, so that the same
// server always gives the same list and the status does not churn.
func apiEnablements(lists []*metav1.APIResourceList) []clusterv1alpha1.APIEnablement {
	kinds := map[string]map[string]struct{}{}
	for _, l := range lists {
		if l == nil || l.GroupVersion == "" {
			continue
		}
		for _, r := range l.APIResources {
			if r.Kind == "" || strings.Contains(r.Name, "/") {
				continue
			}
			if kinds[l.GroupVersion] == nil {
				kinds[l.GroupVersion] = map[string]struct{}{}
			}
			kinds[l.GroupVersion][r.Kind] = struct{}{}
		}
	}
	out := make([]clusterv1alpha1.APIEnablement, 0, len(kinds))
	for gv, ks := range kinds {
		e := clusterv1alpha1.APIEnablement{GroupVersion: gv, Kinds: make([]string, 0, len(ks))}
		for k := range ks {
			e.Kinds = append(e.Kinds, k)
		}
		slices.Sort(e.Kinds)
		out = append(out, e)
	}
	return capEnablements(sortEnablements(out))
}

// keepFailed adds to got prev's entries for the group versions that failed
// discovery and are missing from got.
func keepFailed(got, prev []clusterv1alpha1.APIEnablement, failed map[schema.GroupVersion]error) []clusterv1alpha1.APIEnablement {
	have := map[string]bool{}
	for _, e := range got {
		have[e.GroupVersion] = true
	}
	for _, e := range prev {
		gv, err := schema.ParseGroupVersion(e.GroupVersion)
		if err != nil || have[e.GroupVersion] {
			continue
		}
		if _, ok := failed[gv]; ok {
			got = append(got, *e.DeepCopy())
		}
	}
	return capEnablements(sortEnablements(got))
}

func sortEnablements(es []clusterv1alpha1.APIEnablement) []clusterv1alpha1.APIEnablement {
	slices.SortFunc(es, func(a, b clusterv1alpha1.APIEnablement) int {
		return strings.Compare(a.GroupVersion, b.GroupVersion)
	})
	return es
}

// capEnablements trims sorted es to the API's limits.
func capEnablements(es []clusterv1alpha1.APIEnablement) []clusterv1alpha1.APIEnablement {
	if len(es) > maxGroupVersions {
		es = es[:maxGroupVersions]
	}
	for i := range es {
		if len(es[i].Kinds) > maxKinds {
			es[i].Kinds = es[i].Kinds[:maxKinds]
		}
	}
	return es
}
