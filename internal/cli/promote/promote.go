package promote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/cli/describe"
	"github.com/flotilla-io/flotilla/internal/cli/get"
	"github.com/flotilla-io/flotilla/internal/member"
)

// DefaultInterval is how often promote reads the binding while it waits.
const DefaultInterval = 500 * time.Millisecond

// NewCommand returns `flotilla promote`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	var (
		ns get.NamespaceOptions
		o  Options
	)
	cmd := &cobra.Command{
		Use:   "promote KIND/NAME --cluster CLUSTER",
		Short: "Bring an object that runs in a member under Flotilla's management, in place",
		Long: `Promote brings an object that already runs in one member cluster under
Flotilla's management without recreating it.

It reads the object from the member, through the credentials the hub keeps
for the cluster, and creates on the hub:

  - the template: the member's object without its status, the metadata the
    member assigned (uid, resourceVersion, managedFields, ownerReferences...)
    and the fields the member allocated (a Service's cluster IPs unless
    headless, node ports, a Job's generated selector...);
  - a PropagationPolicy (a ClusterPropagationPolicy for a cluster-scoped
    kind) named --policy-name, default promote-NAME, that selects exactly
    that template, places it on exactly that cluster (Duplicated replicas,
    tolerating the cluster's own taints) with conflictResolution: Overwrite.

The propagation pipeline then takes the member's object over in place by
server-side apply: same UID, no pod restarted when the template matches
what runs. Promote waits (at most --timeout) until the binding reports the
object applied in the cluster, and checks that its UID did not change.

KIND is anything kubectl accepts for a resource the hub serves (deploy,
deployments.apps, a CRD's plural...). --dry-run prints the documents it
would create, as YAML, and changes nothing.`,
		Example: `  flotilla promote deployment/web -n shop --cluster member-cluster-1
  flotilla promote svc/web -n shop --cluster member-cluster-1 --dry-run
  flotilla promote clusterrole/web-reader --cluster member-cluster-2 --policy-name web-reader`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name := args[0], ""
			if k, n, ok := strings.Cut(kind, "/"); ok {
				if len(args) == 2 {
					return fmt.Errorf("name the object once: flotilla promote KIND/NAME")
				}
				kind, name = k, n
			} else if len(args) == 2 {
				name = args[1]
			}
			if kind == "" || name == "" {
				return fmt.Errorf("name the object: flotilla promote KIND/NAME --cluster CLUSTER, such as flotilla promote deployment/web --cluster member-cluster-1")
			}
			if o.Cluster == "" {
				return fmt.Errorf("name the member cluster that runs the object: --cluster CLUSTER")
			}
			if o.Timeout <= 0 {
				return fmt.Errorf("--timeout must be positive, such as 2m")
			}
			c, cfg, err := conn.Client()
			if err != nil {
				return err
			}
			if o.Namespace, err = ns.Resolve(conn); err != nil {
				return err
			}
			if o.Mapper, err = describe.NewMapper(cfg, cmd.ErrOrStderr()); err != nil {
				return err
			}
			o.Client, o.Out, o.ErrOut = c, cmd.OutOrStdout(), cmd.ErrOrStderr()
			return Promote(cmd.Context(), o, kind, name)
		},
	}
	cmd.Flags().StringVar(&o.Cluster, "cluster", "", "the member cluster that runs the object (required)")
	cmd.Flags().StringVar(&o.PolicyName, "policy-name", "", "name of the policy to create (default: promote-NAME)")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "print the template and policy it would create, as YAML, and change nothing")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 2*time.Minute, "how long to wait for the cluster to report the object applied")
	ns.AddFlags(cmd.Flags(), false)
	return cmd
}

// Options are what Promote works with.
type Options struct {
	// Client is a client of the hub.
	Client client.Client
	// Mapper resolves kinds through the hub's discovery.
	Mapper meta.RESTMapper
	// MemberClient builds a client of a member from its configuration;
	// dynamic.NewForConfig when nil.
	MemberClient func(*rest.Config) (dynamic.Interface, error)
	// Out gets the result and the dry run's documents; ErrOut the progress.
	Out, ErrOut io.Writer
	// Namespace of namespaced objects.
	Namespace string
	// Cluster runs the object.
	Cluster string
	// PolicyName is the policy's name; DefaultPolicyName(name) when empty.
	PolicyName string
	// DryRun prints the documents and changes nothing.
	DryRun bool
	// Timeout bounds the wait for the cluster to report the object
	// applied; the binding is read every Interval (DefaultInterval when 0).
	Timeout  time.Duration
	Interval time.Duration
}

// ignoredNamespaces hold objects the detector never propagates: they
// belong to the hub itself.
var ignoredNamespaces = map[string]bool{
	"kube-system": true, "kube-public": true, "kube-node-lease": true, member.Namespace: true,
}

// promotion is one object on its way under Flotilla's management.
type promotion struct {
	o       Options
	mapping *meta.RESTMapping
	// what names the object to a user, such as deployment/web.
	what string
	// where is " in namespace NS" for a namespaced object.
	where     string
	namespace string
	name      string
	policy    client.Object
	// claim is the value of the template's claimed-by annotation that the
	// policy writes.
	claim string
}

// Promote brings the object of kind (as a user typed it) named name, which
// runs in o.Cluster, under Flotilla's management.
func Promote(ctx context.Context, o Options, kind, name string) error {
	m, err := describe.ResolveKind(o.Mapper, kind)
	if err != nil {
		return err
	}
	gvk := m.GroupVersionKind
	if gvk.Group == "flotilla.io" || strings.HasSuffix(gvk.Group, ".flotilla.io") {
		return fmt.Errorf("%s is one of Flotilla's own kinds, not a template: promote an object that runs in a member, such as deployment/NAME", gvk.Kind)
	}
	p := &promotion{o: o, mapping: m, name: name, what: strings.ToLower(gvk.Kind) + "/" + name}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		p.namespace, p.where = o.Namespace, " in namespace "+o.Namespace
		if ignoredNamespaces[p.namespace] {
			return fmt.Errorf("namespace %s belongs to the clusters themselves: Flotilla never propagates its objects, so it cannot manage %s", p.namespace, p.what)
		}
	}
	if strings.HasPrefix(name, "system:") {
		return fmt.Errorf("%s belongs to the cluster itself: Flotilla never propagates objects named system:*", p.what)
	}
	if o.ErrOut == nil {
		o.ErrOut = io.Discard
		p.o.ErrOut = io.Discard
	}
	policyName := o.PolicyName
	if policyName == "" {
		policyName = DefaultPolicyName(name)
	}

	cl, tolerations, err := p.cluster(ctx)
	if err != nil {
		return err
	}
	mc, err := p.memberClient(ctx, cl)
	if err != nil {
		return err
	}
	live, err := p.readMember(ctx, mc)
	if err != nil {
		return err
	}
	if err := p.takeable(live); err != nil {
		return err
	}
	tmpl := Template(live)
	p.policy = Policy(gvk, p.namespace, name, policyName, cl.Name, tolerations)
	p.claim = claimOf(p.policy)
	nsMissing, err := p.checkHub(ctx, tmpl)
	if err != nil {
		return err
	}
	if o.DryRun {
		var docs []runtime.Object
		if nsMissing {
			docs = append(docs, &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": p.namespace}}})
		}
		return printYAML(o.Out, append(docs, p.policy, tmpl)...)
	}

	if err := p.create(ctx, nsMissing, tmpl); err != nil {
		return err
	}
	fmt.Fprintf(o.ErrOut, "created %s and the template %s on the hub; waiting for cluster %s to take %s over (at most %s)\n",
		policyString(p.policy), p.what, cl.Name, p.what, o.Timeout)
	if err := p.wait(ctx, tmpl.GetUID()); err != nil {
		return err
	}
	after, err := p.readMember(ctx, mc)
	if err != nil {
		return err
	}
	if after.GetUID() != live.GetUID() {
		return fmt.Errorf("%s in cluster %s was recreated: its uid was %s, it is %s now", p.what, cl.Name, live.GetUID(), after.GetUID())
	}
	fmt.Fprintf(o.Out, "%s in %s is now managed by Flotilla (%s); uid %s unchanged\n", p.what, cl.Name, policyString(p.policy), live.GetUID())
	return nil
}

// cluster reads the member cluster, checks that it can take the object,
// and returns the tolerations its taints need.
func (p *promotion) cluster(ctx context.Context) (*clusterv1alpha1.Cluster, []corev1.Toleration, error) {
	name := p.o.Cluster
	cl := &clusterv1alpha1.Cluster{}
	if err := p.o.Client.Get(ctx, client.ObjectKey{Name: name}, cl); err != nil {
		switch {
		case apierrors.IsNotFound(err):
			return nil, nil, fmt.Errorf("cluster %q not found; flotilla get clusters lists the fleet", name)
		case meta.IsNoMatchError(err):
			return nil, nil, fmt.Errorf("the hub does not serve the cluster.flotilla.io API; install Flotilla on it with `flotilla install`")
		}
		return nil, nil, fmt.Errorf("get cluster %s: %w", name, err)
	}
	if cl.Spec.SyncMode == clusterv1alpha1.Pull {
		return nil, nil, fmt.Errorf("cluster %s is in Pull mode: promote reads the object through the hub's connection to the cluster, which only Push clusters have", name)
	}
	cond := meta.FindStatusCondition(cl.Status.Conditions, clusterv1alpha1.ConditionReady)
	switch {
	case cond == nil:
		return nil, nil, fmt.Errorf("cluster %s is not Ready: the hub has not probed it yet; is flotilla hub running?", name)
	case cond.Status != metav1.ConditionTrue:
		return nil, nil, fmt.Errorf("cluster %s is not Ready (%s: %s): promote needs to read the object from it and the hub to apply to it; flotilla describe cluster %s shows why",
			name, cond.Reason, cond.Message, name)
	}
	tolerations, blocking := Tolerations(cl.Spec.Taints)
	for _, t := range blocking {
		if t.Key == clusterv1alpha1.TaintUnschedulable {
			return nil, nil, fmt.Errorf("cluster %s is cordoned (taint %s): the scheduler places no new template there; run flotilla uncordon %s first", name, t.ToString(), name)
		}
		return nil, nil, fmt.Errorf("cluster %s has the taint %s: the scheduler places no new template there", name, t.ToString())
	}
	return cl, tolerations, nil
}

// memberClient connects to the member as the hub does, with the
// credentials in the Secret the Cluster's spec.secretRef names.
func (p *promotion) memberClient(ctx context.Context, cl *clusterv1alpha1.Cluster) (dynamic.Interface, error) {
	ref := cl.Spec.SecretRef
	if ref == nil {
		return nil, fmt.Errorf("cluster %s has no spec.secretRef: the hub has no credentials for it", cl.Name)
	}
	s := &corev1.Secret{}
	if err := p.o.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("the credentials of cluster %s (secret %s/%s) are missing on the hub; join the cluster again", cl.Name, ref.Namespace, ref.Name)
		}
		return nil, fmt.Errorf("read the credentials of cluster %s (secret %s/%s): %w", cl.Name, ref.Namespace, ref.Name, err)
	}
	cfg, err := member.RESTConfig(cl, s)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "flotilla-cli/promote"
	newClient := p.o.MemberClient
	if newClient == nil {
		newClient = func(c *rest.Config) (dynamic.Interface, error) { return dynamic.NewForConfig(c) }
	}
	dc, err := newClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to cluster %s: %w", cl.Name, err)
	}
	return dc, nil
}

// readMember reads the object from the member.
func (p *promotion) readMember(ctx context.Context, mc dynamic.Interface) (*unstructured.Unstructured, error) {
	var ri dynamic.ResourceInterface = mc.Resource(p.mapping.Resource)
	if p.namespace != "" {
		ri = mc.Resource(p.mapping.Resource).Namespace(p.namespace)
	}
	obj, err := ri.Get(ctx, p.name, metav1.GetOptions{})
	if err != nil {
		var status apierrors.APIStatus
		switch {
		case apierrors.IsNotFound(err) && errors.As(err, &status) && status.Status().Details != nil && status.Status().Details.Name == "":
			return nil, fmt.Errorf("cluster %s does not serve %s", p.o.Cluster, p.mapping.Resource.GroupResource().String()+" "+p.mapping.Resource.Version)
		case apierrors.IsNotFound(err):
			return nil, fmt.Errorf("%s not found in cluster %s%s", p.what, p.o.Cluster, p.where)
		case apierrors.IsForbidden(err):
			return nil, fmt.Errorf("the hub's identity in cluster %s may not read %s%s: %w", p.o.Cluster, p.what, p.where, err)
		}
		return nil, fmt.Errorf("read %s%s from cluster %s: %w", p.what, p.where, p.o.Cluster, err)
	}
	return obj, nil
}

// takeable fails when the member's object is Flotilla's already, or part of
// another object.
func (p *promotion) takeable(obj *unstructured.Unstructured) error {
	if obj.GetLabels()[clusterv1alpha1.LabelManagedBy] == clusterv1alpha1.ManagedByValue {
		by := ""
		if b := obj.GetAnnotations()[workv1alpha1.AnnotationBinding]; b != "" {
			by = " (binding " + b + ")"
		}
		return fmt.Errorf("%s in cluster %s is already managed by Flotilla%s; flotilla describe %s%s shows its policy",
			p.what, p.o.Cluster, by, p.what, nsFlag(p.namespace))
	}
	if obj.GetAPIVersion() == "v1" && obj.GetKind() == "Secret" {
		switch t, _, _ := unstructured.NestedString(obj.Object, "type"); t {
		case string(corev1.SecretTypeServiceAccountToken), string(corev1.SecretTypeBootstrapToken):
			return fmt.Errorf("%s in cluster %s is a %s Secret: credentials are the cluster's own, and Flotilla never propagates them", p.what, p.o.Cluster, t)
		}
	}
	if o := metav1.GetControllerOf(obj); o != nil {
		return fmt.Errorf("%s in cluster %s is controlled by %s %s: promote the object that controls it", p.what, p.o.Cluster, strings.ToLower(o.Kind), o.Name)
	}
	return nil
}

// checkHub fails when the template or the policy already exists on the
// hub, and reports whether the template's namespace must be created.
func (p *promotion) checkHub(ctx context.Context, tmpl *unstructured.Unstructured) (nsMissing bool, err error) {
	existing := &unstructured.Unstructured{}
	existing.SetGroupVersionKind(tmpl.GroupVersionKind())
	err = p.o.Client.Get(ctx, client.ObjectKeyFromObject(tmpl), existing)
	switch {
	case err == nil:
		return false, fmt.Errorf("%s already exists on the hub%s: promote only creates templates; to manage it, select it with a policy (conflictResolution: Overwrite takes the member's object over)", p.what, p.where)
	case !apierrors.IsNotFound(err):
		return false, fmt.Errorf("look for %s on the hub: %w", p.what, err)
	}
	pol := p.policy.DeepCopyObject().(client.Object)
	switch err := p.o.Client.Get(ctx, client.ObjectKeyFromObject(p.policy), pol); {
	case err == nil:
		return false, fmt.Errorf("%s already exists on the hub: choose another name with --policy-name", policyString(p.policy))
	case meta.IsNoMatchError(err):
		return false, fmt.Errorf("the hub does not serve the policy.flotilla.io API; install Flotilla on it with `flotilla install`")
	case !apierrors.IsNotFound(err):
		return false, fmt.Errorf("look for %s on the hub: %w", policyString(p.policy), err)
	}
	if p.namespace == "" {
		return false, nil
	}
	ns := &corev1.Namespace{}
	switch err := p.o.Client.Get(ctx, client.ObjectKey{Name: p.namespace}, ns); {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("get namespace %s on the hub: %w", p.namespace, err)
	case ns.DeletionTimestamp != nil:
		return false, fmt.Errorf("namespace %s is being deleted on the hub; wait until it is gone", p.namespace)
	}
	return false, nil
}

// create writes the namespace, the policy and then the template, so that
// the policy is there when the detector first sees the template: a
// template stays with the policy that claimed it first. When the template
// cannot be created, the policy is deleted again.
func (p *promotion) create(ctx context.Context, nsMissing bool, tmpl *unstructured.Unstructured) error {
	c := p.o.Client
	if nsMissing {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.namespace}}
		if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s on the hub: %w", p.namespace, err)
		}
	}
	if err := c.Create(ctx, p.policy); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s already exists on the hub: choose another name with --policy-name", policyString(p.policy))
		}
		return fmt.Errorf("create %s on the hub: %w", policyString(p.policy), err)
	}
	if err := c.Create(ctx, tmpl); err != nil {
		uid := p.policy.GetUID()
		if derr := c.Delete(ctx, p.policy, client.Preconditions{UID: &uid}); derr != nil && !apierrors.IsNotFound(derr) {
			err = fmt.Errorf("%w (and deleting %s again failed: %v)", err, policyString(p.policy), derr)
		}
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s was created on the hub%s meanwhile; promote only creates templates", p.what, p.where)
		}
		return fmt.Errorf("create the template %s%s on the hub: %w", p.what, p.where, err)
	}
	return nil
}

// wait reads the template and its binding until the binding reports the
// object applied in the cluster, or the timeout passes.
func (p *promotion) wait(ctx context.Context, tmplUID types.UID) error {
	interval := p.o.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	key := client.ObjectKey{Namespace: p.namespace, Name: p.name}
	bkey := client.ObjectKey{Namespace: p.namespace, Name: workv1alpha1.BindingName(p.name, p.mapping.GroupVersionKind.Kind)}
	state := "the hub has not claimed the template yet; is flotilla hub running?"
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		done, err := p.check(ctx, key, bkey, tmplUID, &state)
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster %s did not report %s applied within %s: %s. The template and %s stay on the hub, and Flotilla keeps trying; flotilla describe %s%s shows more",
				p.o.Cluster, p.what, p.o.Timeout, state, policyString(p.policy), p.what, nsFlag(p.namespace))
		case <-tick.C:
		}
	}
}

// check reads the template and its binding once. It reports done when the
// binding says the object is applied in the cluster, fails when another
// policy claimed the template, and otherwise leaves in state what it waits
// for.
func (p *promotion) check(ctx context.Context, key, bkey client.ObjectKey, tmplUID types.UID, state *string) (bool, error) {
	tmpl := &unstructured.Unstructured{}
	tmpl.SetGroupVersionKind(p.mapping.GroupVersionKind)
	if err := p.o.Client.Get(ctx, key, tmpl); err != nil {
		if apierrors.IsNotFound(err) {
			return false, fmt.Errorf("the template %s%s was deleted on the hub while promote waited", p.what, p.where)
		}
		*state = fmt.Sprintf("read the template: %v", err)
		return false, nil
	}
	switch claim := tmpl.GetAnnotations()[workv1alpha1.AnnotationPolicy]; claim {
	case "":
		return false, nil
	case p.claim:
	default:
		return false, fmt.Errorf("%s was claimed by %s, not by %s: that policy outranks it; the template and %s stay on the hub, and %s decides where the template runs",
			p.what, claim, policyString(p.policy), policyString(p.policy), claim)
	}
	b := workv1alpha1.NewBinding(p.namespace != "")
	if err := p.o.Client.Get(ctx, bkey, b); err != nil {
		if apierrors.IsNotFound(err) {
			*state = "the hub has not created the template's binding yet"
		} else {
			*state = fmt.Sprintf("read the binding %s: %v", bkey.Name, err)
		}
		return false, nil
	}
	if uid := b.GetSpec().Resource.UID; uid != "" && uid != string(tmplUID) {
		*state = fmt.Sprintf("the binding %s is of an earlier template of that name", bkey.Name)
		return false, nil
	}
	st := b.GetBindingStatus()
	for _, cs := range st.Clusters {
		if cs.Cluster != p.o.Cluster {
			continue
		}
		if cs.Applied && cs.Reason == workv1alpha1.ReasonApplied {
			return true, nil
		}
		*state = fmt.Sprintf("cluster %s reports %s: %s", p.o.Cluster, cs.Reason, cs.Message)
		return false, nil
	}
	if cond := meta.FindStatusCondition(st.Conditions, workv1alpha1.ConditionScheduled); cond != nil && cond.Status != metav1.ConditionTrue {
		*state = fmt.Sprintf("the binding is not scheduled (%s: %s)", cond.Reason, cond.Message)
	} else {
		*state = fmt.Sprintf("the binding has no result from cluster %s yet", p.o.Cluster)
	}
	return false, nil
}

// claimOf is the claimed-by annotation the policy writes on its templates.
func claimOf(pol client.Object) string {
	if pol.GetNamespace() != "" {
		return "PropagationPolicy/" + pol.GetNamespace() + "/" + pol.GetName()
	}
	return "ClusterPropagationPolicy/" + pol.GetName()
}

// policyString names the policy as "PropagationPolicy NS/NAME" or
// "ClusterPropagationPolicy NAME".
func policyString(pol client.Object) string {
	if pol.GetNamespace() != "" {
		return "PropagationPolicy " + pol.GetNamespace() + "/" + pol.GetName()
	}
	return "ClusterPropagationPolicy " + pol.GetName()
}

func nsFlag(ns string) string {
	if ns == "" {
		return ""
	}
	return " -n " + ns
}

// printYAML writes objects as YAML documents, without the empty
// creationTimestamp of objects not created yet.
func printYAML(w io.Writer, objs ...runtime.Object) error {
	for i, o := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return err
		}
		if md, ok := m["metadata"].(map[string]any); ok && md["creationTimestamp"] == nil {
			delete(md, "creationTimestamp")
		}
		b, err := yaml.Marshal(m)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(w, "---")
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
