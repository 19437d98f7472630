package describe

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// NewMapper returns a RESTMapper over the hub's discovery that, like
// kubectl's, knows short names (deploy, cm, pp...). Warnings about
// ambiguous short names go to warn.
func NewMapper(cfg *rest.Config, warn io.Writer) (meta.RESTMapper, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discover the hub's APIs: %w", err)
	}
	cached := memory.NewMemCacheClient(dc)
	return restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(cached), cached, func(msg string) {
		fmt.Fprintln(warn, "Warning:", msg)
	}), nil
}

// ResolveKind maps what a user typed (deploy, deployments, Deployment,
// deployment.apps, deployments.v1.apps, a CRD's plural or short name...) to
// a resource the hub serves, the way kubectl does.
func ResolveKind(mapper meta.RESTMapper, arg string) (*meta.RESTMapping, error) {
	fullGVR, gr := schema.ParseResourceArg(arg)
	var gvk schema.GroupVersionKind
	if fullGVR != nil {
		gvk, _ = mapper.KindFor(*fullGVR)
	}
	if gvk.Empty() {
		var err error
		gvk, err = mapper.KindFor(gr.WithVersion(""))
		var ambiguous *meta.AmbiguousResourceError
		if errors.As(err, &ambiguous) {
			return nil, fmt.Errorf("%q is ambiguous: name the group too, as RESOURCE.GROUP: %w", arg, err)
		}
	}
	if !gvk.Empty() {
		return mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	// Not a resource: perhaps a kind, as Kind, Kind.group or Kind.version.group.
	fullGVK, gk := schema.ParseKindArg(arg)
	if fullGVK != nil {
		if m, err := mapper.RESTMapping(fullGVK.GroupKind(), fullGVK.Version); err == nil {
			return m, nil
		}
	}
	m, err := mapper.RESTMapping(gk)
	if err != nil {
		if meta.IsNoMatchError(err) {
			if msg, ok := notYet[strings.ToLower(gr.Resource)]; ok {
				return nil, fmt.Errorf("%s", msg)
			}
			return nil, fmt.Errorf("the hub serves no resource type %q (`kubectl api-resources` against the hub lists those it does)", arg)
		}
		return nil, err
	}
	return m, nil
}

// Troubleshooting guides for capabilities Flotilla does not have yet: the
// seed's "a cross-cluster service is unreachable" and "GitOps does not
// sync". A user who reaches for them learns so, rather than that a kind is
// unknown.
const (
	notYetServices = "cross-cluster services are not available in Flotilla yet: there is no ServiceExport, ServiceImport or " +
		"MultiClusterService to troubleshoot. A Service propagates like any template (`flotilla describe service/NAME -n NS` " +
		"shows where it runs); reaching it from another cluster needs your own networking for now"
	notYetGitOps = "GitOps is not available in Flotilla yet: there is no GitRepo to troubleshoot. Apply templates and " +
		"policies with `flotilla apply -f` (or your CD tool against the hub), and `flotilla describe KIND/NAME` traces them"
)

var notYet = map[string]string{
	"serviceexport": notYetServices, "serviceexports": notYetServices,
	"serviceimport": notYetServices, "serviceimports": notYetServices,
	"multiclusterservice": notYetServices, "multiclusterservices": notYetServices, "mcs": notYetServices,
	"gitrepo": notYetGitOps, "gitrepos": notYetGitOps, "gitrepository": notYetGitOps, "gitrepositories": notYetGitOps,
}
