package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/hub/clusterhealth"
	"github.com/flotilla-io/flotilla/internal/member"
	"github.com/flotilla-io/flotilla/internal/registration"
)

// LeaderLease is the lease the hub's controllers hold while they run
// (internal/hub: LeaderElectionID in namespace member.Namespace).
const LeaderLease = "flotilla-hub"

// SlowProbe is the probe latency above which the probes check warns.
const SlowProbe = time.Second

// ProbeStaleAfter is the age of a cluster's lastProbeTime above which the
// probes check warns that the hub stopped probing it. The hub probes every
// --cluster-probe-interval but writes lastProbeTime only when something
// else changed or every --cluster-status-refresh, so with the defaults
// (10 s, 1 m) a healthy cluster's lastProbeTime may be 70 s old: the limit
// is one refresh plus three probe intervals, 90 s.
func ProbeStaleAfter() time.Duration {
	d := clusterhealth.DefaultOptions()
	return d.StatusRefresh + 3*d.ProbeInterval
}

const rejoinFix = "flotilla unjoin %[1]s && flotilla join %[1]s --cluster-kubeconfig FILE"

func checkHubAPI(_ context.Context, e *Env) Result {
	kc := "kubeconfig: " + e.Conn.Kubeconfig
	if e.Conn.Err != nil {
		return fail("cannot connect to the hub: "+e.Conn.Err.Error(),
			"point --kubeconfig (or $KUBECONFIG) at the hub's kubeconfig, or start a local fleet with `flotilla up`", kc)
	}
	st := e.hub.status
	if e.Hub == nil || e.Client == nil || !e.hub.probed {
		return fail("cannot connect to the hub at "+e.Conn.Server, "point --kubeconfig at the hub's kubeconfig", kc)
	}
	if st.DiscoveryErr != nil {
		return fail(fmt.Sprintf("cannot reach the hub at %s: %s", e.Conn.Server, truncate(st.DiscoveryErr.Error(), 300)),
			connectFix(st.DiscoveryErr, e.Conn.Server), kc)
	}
	ev := []string{kc}
	if st.ReadyErr != nil {
		ev = append(ev, "GET /readyz: "+truncate(st.ReadyErr.Error(), 300))
		return fail(fmt.Sprintf("the hub at %s answers but is not ready", e.Conn.Server),
			"GET /readyz?verbose on the hub names the failing check (often etcd); check the kube-apiserver's log", ev...)
	}
	ev = append(ev, "GET /readyz: ok")
	version := ""
	if st.Version != "" {
		ev = append(ev, "Kubernetes "+st.Version)
		version = " (Kubernetes " + st.Version + ")"
	}
	if len(e.hub.missing) > 0 {
		ev = append(ev, "not served: "+strings.Join(e.hub.missing, ", "))
		return fail(fmt.Sprintf("the hub at %s does not serve Flotilla's API", e.Conn.Server),
			"install Flotilla's CRDs and RBAC on the hub: flotilla install", ev...)
	}
	ev = append(ev, "serves "+strings.Join(flotillaGroupVersions, ", "))
	return pass(fmt.Sprintf("the hub at %s is ready%s and serves Flotilla's API", e.Conn.Server, version), ev...)
}

// connectFix says what to do about an error reaching the hub.
func connectFix(err error, server string) string {
	msg := err.Error()
	var dnsErr *net.DNSError
	switch {
	case apierrors.IsUnauthorized(err):
		return "the hub rejects the kubeconfig's credentials: get fresh ones (an expired client certificate or token is the usual cause)"
	case apierrors.IsForbidden(err):
		return "the kubeconfig's user may not read the hub's API discovery: use an identity with read access to the hub"
	case strings.Contains(msg, "x509") || strings.Contains(msg, "certificate"):
		return "the hub's serving certificate does not match the kubeconfig's certificate-authority: set certificate-authority-data to the hub's CA"
	case strings.Contains(msg, "connection refused"):
		return fmt.Sprintf("nothing listens at %s: start the hub's kube-apiserver (`flotilla up` for a local fleet), or fix the server in the kubeconfig", server)
	case errors.As(err, &dnsErr) || strings.Contains(msg, "no such host"):
		return "the hub's host name does not resolve: fix the server in the kubeconfig, or the DNS"
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "timeout") || strings.Contains(msg, "deadline"):
		return fmt.Sprintf("the hub did not answer in time: check the network path to %s, or raise --timeout", server)
	}
	return fmt.Sprintf("check that the hub's kube-apiserver runs and that %s is reachable from here", server)
}

func checkHubControllers(ctx context.Context, e *Env) Result {
	const fix = "run the hub's controllers against this hub: flotilla hub --kubeconfig HUB_KUBECONFIG (a local fleet: flotilla up starts them)"
	var l coordinationv1.Lease
	key := client.ObjectKey{Namespace: member.Namespace, Name: LeaderLease}
	where := "lease " + key.String()
	if err := e.Client.Get(ctx, key, &l); err != nil {
		if !apierrors.IsNotFound(err) {
			return cannotRead(where, err)
		}
		// A hub run with --leader-elect=false holds no lease; its probes
		// still show.
		if name, age, ok := freshestProbe(ctx, e); ok && age <= ProbeStaleAfter() {
			return warn("no hub holds the leader lease, but a hub probed clusters recently: it runs without leader election",
				"run flotilla hub with --leader-elect (the default) so that replicas fail over and doctor can see it",
				where+": not found", fmt.Sprintf("cluster %s probed %s ago", name, approx(age)))
		}
		return fail("the hub's controllers have never run against this hub", fix, where+": not found")
	}
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	dur := 15 * time.Second
	if l.Spec.LeaseDurationSeconds != nil {
		dur = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	if holder == "" {
		return fail("no hub controller holds the leader lease", fix, where+": no holder")
	}
	if l.Spec.RenewTime == nil {
		return fail("the leader lease was never renewed", fix, where+": held by "+holder+", no renewTime")
	}
	age := e.Now.Sub(l.Spec.RenewTime.Time)
	if age < 0 {
		age = 0
	}
	ev := fmt.Sprintf("%s: held by %s, renewed %s ago (lease duration %s)", where, holder, approx(age), dur)
	if age > dur {
		return fail(fmt.Sprintf("the hub's controllers stopped: the leader lease was last renewed %s ago", approx(age)), fix, ev)
	}
	return pass("the hub's controllers run (leader "+holder+")", ev)
}

// freshestProbe returns the cluster the hub probed last and how long ago.
func freshestProbe(ctx context.Context, e *Env) (string, time.Duration, bool) {
	cls, err := e.listClusters(ctx)
	if err != nil {
		return "", 0, false
	}
	var (
		name string
		last time.Time
	)
	for _, c := range cls {
		if c.Status.LastProbeTime != nil && c.Status.LastProbeTime.After(last) {
			name, last = c.Name, c.Status.LastProbeTime.Time
		}
	}
	if name == "" {
		return "", 0, false
	}
	return name, max(e.Now.Sub(last), 0), true
}

func checkClustersReady(ctx context.Context, e *Env) Result {
	cls, err := e.listClusters(ctx)
	if err != nil {
		return cannotRead("clusters", err)
	}
	if len(cls) == 0 {
		return warn("no member cluster has joined the fleet", "join one: flotilla join NAME --cluster-kubeconfig FILE")
	}
	var ev, fixes, notReady []string
	for i := range cls {
		c := &cls[i]
		cond := meta.FindStatusCondition(c.Status.Conditions, clusterv1alpha1.ConditionReady)
		if cond != nil && cond.Status == metav1.ConditionTrue {
			ev = append(ev, c.Name+": Ready"+clusterFacts(c))
			continue
		}
		if c.Spec.SyncMode == clusterv1alpha1.Pull && cond != nil && cond.Reason == registration.ReasonOffline {
			// An edge link that drops is normal: pull-clusters reports it.
			ev = append(ev, c.Name+": Offline (Pull mode): its agent stopped heartbeating; see pull-clusters")
			continue
		}
		notReady = append(notReady, c.Name)
		line, fix := notReadyAdvice(c, cond)
		ev = append(ev, line)
		fixes = append(fixes, fix)
	}
	if len(notReady) == 0 {
		return pass(all(len(cls), "cluster", "clusters", "is Ready", "are Ready"), ev...)
	}
	return fail(fmt.Sprintf("%d of %s %s not Ready: %s", len(notReady), plural(len(cls), "cluster", "clusters"), verb(len(notReady), "is", "are"), strings.Join(notReady, ", ")),
		strings.Join(fixes, "\n"), ev...)
}

// clusterFacts summarises a Ready cluster: its version and nodes.
func clusterFacts(c *clusterv1alpha1.Cluster) string {
	var f []string
	if v := c.Status.KubernetesVersion; v != "" {
		f = append(f, "Kubernetes "+v)
	}
	if n := c.Status.NodeSummary; n != nil {
		f = append(f, fmt.Sprintf("%d/%d nodes ready", n.Ready, n.Total))
	}
	for _, t := range c.Spec.Taints {
		if t.Key == clusterv1alpha1.TaintUnschedulable {
			if t.Effect == corev1.TaintEffectNoExecute {
				f = append(f, "draining")
			} else {
				f = append(f, "cordoned")
			}
		}
	}
	if len(f) == 0 {
		return ""
	}
	return " (" + strings.Join(f, ", ") + ")"
}

// notReadyAdvice explains a cluster that is not Ready and what to do.
func notReadyAdvice(c *clusterv1alpha1.Cluster, cond *metav1.Condition) (evidence, fix string) {
	if c.Spec.SyncMode == clusterv1alpha1.Pull {
		if cond == nil {
			return c.Name + ": Pull mode: no Ready condition yet", c.Name + ": check that the hub's controllers run (see hub-controllers)"
		}
		evidence = fmt.Sprintf("%s: Pull mode, Ready=%s (%s): %s", c.Name, cond.Status, cond.Reason, truncate(cond.Message, 240))
		if cond.Reason == registration.ReasonAwaitingAcceptance {
			return evidence, c.Name + ": its registration waits for an administrator: flotilla accept " + c.Name
		}
		return evidence, c.Name + ": start its agent on the edge machine (flotilla agent --dir DIR, as flotilla register printed) and check that it reaches the hub"
	}
	if cond == nil {
		return c.Name + ": no Ready condition: the hub has not probed it yet",
			c.Name + ": check that the hub's controllers run (see hub-controllers)"
	}
	evidence = fmt.Sprintf("%s: Ready=%s (%s): %s", c.Name, cond.Status, cond.Reason, truncate(cond.Message, 240))
	switch cond.Reason {
	case clusterv1alpha1.ReasonUnreachable:
		fix = fmt.Sprintf("%s: check that its API server runs and that the hub reaches %s over the network (firewall, DNS, spec.apiEndpoint)", c.Name, c.Spec.APIEndpoint)
	case member.ReasonTLSFailed:
		fix = fmt.Sprintf("%s: the CA stored for it does not match its serving certificate; re-join it: "+rejoinFix, c.Name)
	case clusterv1alpha1.ReasonUnauthorized, clusterv1alpha1.ReasonCredentialsInvalid:
		fix = fmt.Sprintf("%s: its credentials are rejected or missing; re-join it: "+rejoinFix, c.Name)
	case clusterv1alpha1.ReasonUnhealthy:
		fix = fmt.Sprintf("%s: its API server reports itself not ready; check GET /readyz?verbose there (etcd, ...)", c.Name)
	case clusterv1alpha1.ReasonPending:
		fix = c.Name + ": the hub has not probed it yet; check that the hub's controllers run (see hub-controllers)"
	default:
		fix = fmt.Sprintf("%s: flotilla describe cluster %s shows its conditions and events", c.Name, c.Name)
	}
	return evidence, fix
}

func checkClusterProbes(ctx context.Context, e *Env) Result {
	cls, err := e.listClusters(ctx)
	if err != nil {
		return cannotRead("clusters", err)
	}
	stale := ProbeStaleAfter()
	var ev, issues, fixes []string
	push := 0
	for i := range cls {
		c := &cls[i]
		if c.Spec.SyncMode == clusterv1alpha1.Pull {
			ev = append(ev, c.Name+": Pull mode, not probed by the hub")
			continue
		}
		push++
		if c.Status.LastProbeTime == nil {
			issues = append(issues, c.Name)
			ev = append(ev, c.Name+": never probed")
			fixes = append(fixes, c.Name+": check that the hub's controllers run (see hub-controllers)")
			continue
		}
		age := max(e.Now.Sub(c.Status.LastProbeTime.Time), 0)
		line := fmt.Sprintf("%s: probed %s ago", c.Name, approx(age))
		ready := meta.IsStatusConditionTrue(c.Status.Conditions, clusterv1alpha1.ConditionReady)
		if ms := c.Status.ProbeLatencyMilliseconds; ms != nil {
			line += fmt.Sprintf(", last successful probe %d ms", *ms)
		}
		if n := c.Status.ConsecutiveProbeFailures; n > 0 {
			line += fmt.Sprintf(", %d failed since", n)
		}
		switch {
		case age > stale:
			issues = append(issues, c.Name)
			line += fmt.Sprintf(" (older than %s: the hub stopped probing it)", approx(stale))
			fixes = append(fixes, c.Name+": check that the hub's controllers run (see hub-controllers) and their log for probe errors")
		case ready && c.Status.ProbeLatencyMilliseconds != nil && time.Duration(*c.Status.ProbeLatencyMilliseconds)*time.Millisecond > SlowProbe:
			issues = append(issues, c.Name)
			line += fmt.Sprintf(" (slower than %d ms)", SlowProbe.Milliseconds())
			fixes = append(fixes, c.Name+": check the network between the hub and the cluster, and the load of its API server")
		}
		ev = append(ev, line)
	}
	if push == 0 {
		return skip("no Push cluster to probe", "no cluster is in Push mode: the hub probes only Push clusters", ev...)
	}
	if len(issues) > 0 {
		return warn(fmt.Sprintf("probes of %s are stale or slow: %s", plural(len(issues), "cluster", "clusters"), strings.Join(issues, ", ")),
			strings.Join(fixes, "\n"), ev...)
	}
	return pass(fmt.Sprintf("the hub probes %s, each within %d ms", plural(push, "Push cluster", "Push clusters"), SlowProbe.Milliseconds()), ev...)
}

// credential is one certificate or token whose expiry the credentials
// check rates.
type credential struct {
	what     string
	notAfter time.Time
	fix      string
}

func checkCredentials(ctx context.Context, e *Env) Result {
	var (
		creds    []credential
		problems []string // could not be read: a warning
		broken   []string // missing or malformed: a failure
		ev       []string
		fixes    []string
	)
	// The hub's serving certificate, as its endpoint presents it.
	if e.Hub != nil {
		chain, err := e.Hub.ServingCertificates(ctx)
		switch {
		case err != nil:
			problems = append(problems, "hub serving certificate: cannot read it: "+truncate(err.Error(), 200))
		case len(chain) > 0:
			creds = append(creds, credential{"hub serving certificate (" + certName(chain[0]) + ")", chain[0].NotAfter,
				"renew the hub's serving certificate (kube-apiserver --tls-cert-file)"})
		}
	}
	for _, c := range e.Conn.CACerts {
		creds = append(creds, credential{"hub CA in the kubeconfig (" + certName(c) + ")", c.NotAfter,
			"rotate the hub's CA and update certificate-authority-data in the kubeconfig"})
	}
	if len(e.Conn.ClientCerts) > 0 {
		c := e.Conn.ClientCerts[0]
		creds = append(creds, credential{"kubeconfig client certificate (" + certName(c) + ")", c.NotAfter,
			"get a new client certificate for the kubeconfig's user"})
	}

	cls, err := e.listClusters(ctx)
	if err != nil {
		problems = append(problems, err.Error())
	}
	for i := range cls {
		c := &cls[i]
		if c.Spec.SecretRef == nil {
			if c.Spec.SyncMode != clusterv1alpha1.Pull {
				broken = append(broken, c.Name+": spec.secretRef is not set")
				fixes = append(fixes, c.Name+": re-join it: "+fmt.Sprintf(rejoinFix, c.Name))
			}
			continue
		}
		ref := c.Spec.SecretRef.Namespace + "/" + c.Spec.SecretRef.Name
		var s corev1.Secret
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: c.Spec.SecretRef.Namespace, Name: c.Spec.SecretRef.Name}, &s); err != nil {
			if apierrors.IsNotFound(err) {
				broken = append(broken, fmt.Sprintf("%s: credentials secret %s not found", c.Name, ref))
				fixes = append(fixes, c.Name+": re-join it: "+fmt.Sprintf(rejoinFix, c.Name))
			} else {
				problems = append(problems, fmt.Sprintf("%s: cannot read secret %s: %s", c.Name, ref, truncate(err.Error(), 200)))
			}
			continue
		}
		rejoin := c.Name + ": re-join it for fresh credentials: " + fmt.Sprintf(rejoinFix, c.Name)
		if ca := s.Data[member.SecretKeyCACert]; len(ca) == 0 {
			broken = append(broken, fmt.Sprintf("%s: secret %s has no %s", c.Name, ref, member.SecretKeyCACert))
			fixes = append(fixes, rejoin)
		} else if certs, err := registration.ParseCertificates(ca); err != nil {
			broken = append(broken, fmt.Sprintf("%s: %s in secret %s does not parse: %v", c.Name, member.SecretKeyCACert, ref, err))
			fixes = append(fixes, rejoin)
		} else {
			for _, cert := range certs {
				creds = append(creds, credential{fmt.Sprintf("%s: CA certificate (%s)", c.Name, certName(cert)), cert.NotAfter,
					c.Name + ": the member's CA is expiring; once it is rotated, re-join: " + fmt.Sprintf(rejoinFix, c.Name)})
			}
		}
		token := string(s.Data[member.SecretKeyToken])
		if token == "" {
			broken = append(broken, fmt.Sprintf("%s: secret %s has no %s", c.Name, ref, member.SecretKeyToken))
			fixes = append(fixes, rejoin)
			continue
		}
		exp, ok, err := TokenExpiry(token)
		switch {
		case errors.Is(err, errNotJWT):
			ev = append(ev, c.Name+": token is not a JWT; its expiry is unknown")
		case err != nil:
			ev = append(ev, fmt.Sprintf("%s: token: %v", c.Name, err))
		case !ok:
			ev = append(ev, c.Name+": token does not expire (a service-account token without exp)")
		default:
			creds = append(creds, credential{c.Name + ": token", exp, rejoin})
		}
	}

	expired, expiring := 0, 0
	var credEv []string
	for _, cr := range creds {
		line := cr.what + ": " + describeExpiry(cr.notAfter, e.Now)
		switch ExpiryStatus(cr.notAfter, e.Now) {
		case Fail:
			expired++
			fixes = append(fixes, cr.fix)
		case Warn:
			expiring++
			line += fmt.Sprintf(" (under %d days)", int(ExpiryWarning/(24*time.Hour)))
			fixes = append(fixes, cr.fix)
		}
		credEv = append(credEv, line)
	}
	ev = append(append(append(broken, problems...), credEv...), ev...)
	fix := strings.Join(dedupe(fixes), "\n")
	switch {
	case expired > 0 || len(broken) > 0:
		var what []string
		if expired > 0 {
			what = append(what, plural(expired, "credential has expired", "credentials have expired"))
		}
		if len(broken) > 0 {
			what = append(what, plural(len(broken), "credentials secret is missing or malformed", "credentials secrets are missing or malformed"))
		}
		return fail(strings.Join(what, "; "), fix, ev...)
	case expiring > 0:
		return warn(plural(expiring, "credential expires", "credentials expire")+fmt.Sprintf(" within %d days", int(ExpiryWarning/(24*time.Hour))), fix, ev...)
	case len(problems) > 0:
		return warn(plural(len(problems), "credential could not be checked", "credentials could not be checked"),
			"use an identity that may read the hub's Secrets in "+member.Namespace+", and check the network to the hub", ev...)
	}
	return pass(fmt.Sprintf("%s checked; none expires within %d days", plural(len(creds), "certificate or token", "certificates and tokens"), int(ExpiryWarning/(24*time.Hour))), ev...)
}

// cannotRead is the result of a check whose objects could not be read: a
// warning, since nothing was verified.
func cannotRead(what string, err error) Result {
	fix := "check the network to the hub, and raise --timeout if it is slow"
	if apierrors.IsForbidden(err) {
		fix = "use an identity that may read " + what + " on the hub"
	}
	return warn("could not check: cannot read "+what, fix, truncate(err.Error(), 300))
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
