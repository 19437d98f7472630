package doctor

import (
	"context"
	"crypto/x509"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

func TestRunHubUnreachable(t *testing.T) {
	for name, e := range map[string]*Env{
		"kubeconfig missing": {Conn: Connection{Kubeconfig: "/nope (from --kubeconfig)", Err: errors.New("stat /nope: no such file or directory")}, Now: now},
		"connection refused": newEnv(t, &fakeHub{status: HubStatus{DiscoveryErr: errors.New(`Get "https://127.0.0.1:6443/apis": dial tcp 127.0.0.1:6443: connect: connection refused`)}}, nil),
	} {
		t.Run(name, func(t *testing.T) {
			rep := Run(context.Background(), e, DefaultChecks)
			first := rep.Checks[0]
			if first.Name != "hub-api" || first.Status != Fail || first.Fix == "" {
				t.Errorf("first check: got %+v, want hub-api failing with a fix", first)
			}
			for _, r := range rep.Checks[1:] {
				if r.Status != Skip || r.Reason != ReasonHubUnreachable {
					t.Errorf("%s: got %s (%s), want skip: %s", r.Name, r.Status, r.Reason, ReasonHubUnreachable)
				}
			}
			want := Summary{Failed: 1, Skipped: len(DefaultChecks) - 1}
			if diff := cmp.Diff(want, rep.Summary); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			if !rep.Failed() {
				t.Error("Failed() = false with a failing check")
			}
		})
	}
}

func TestRunWithoutFlotillaAPI(t *testing.T) {
	hub := healthyHub(t)
	hub.status.GroupVersions = []string{"v1", "apps/v1"}
	rep := Run(context.Background(), newEnv(t, hub, nil), DefaultChecks)
	got := map[string]Status{}
	for _, r := range rep.Checks {
		got[r.Name] = r.Status
		if r.Status == Skip && r.Reason == ReasonHubUnreachable {
			t.Errorf("%s skipped as unreachable; the hub answers", r.Name)
		}
	}
	if got["hub-api"] != Fail || !strings.Contains(rep.Checks[0].Fix, "flotilla install") {
		t.Errorf("hub-api: %+v, want a failure that says flotilla install", rep.Checks[0])
	}
	if got["clusters-ready"] != Skip || rep.Checks[2].Reason != ReasonNoAPI {
		t.Errorf("clusters-ready: %+v, want skip: %s", rep.Checks[2], ReasonNoAPI)
	}
	if got["hub-controllers"] != Fail {
		t.Errorf("hub-controllers runs on a hub without Flotilla's API and finds no lease: got %s", got["hub-controllers"])
	}
}

func TestHubAPI(t *testing.T) {
	for name, tc := range map[string]struct {
		status  HubStatus
		want    Status
		summary string
		fix     string
	}{
		"ready":       {status: healthyHub(t).status, want: Pass, summary: "the hub at https://127.0.0.1:6443 is ready (Kubernetes v1.37.2) and serves Flotilla's API"},
		"not ready":   {status: HubStatus{ReadyErr: errors.New("[-]etcd failed"), GroupVersions: flotillaGroupVersions}, want: Fail, summary: "answers but is not ready", fix: "readyz?verbose"},
		"refused":     {status: HubStatus{DiscoveryErr: errors.New("connect: connection refused")}, want: Fail, summary: "cannot reach the hub", fix: "nothing listens at https://127.0.0.1:6443"},
		"x509":        {status: HubStatus{DiscoveryErr: errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority")}, want: Fail, fix: "certificate-authority-data"},
		"no flotilla": {status: HubStatus{GroupVersions: []string{"v1"}}, want: Fail, summary: "does not serve Flotilla's API", fix: "flotilla install"},
	} {
		t.Run(name, func(t *testing.T) {
			r := runOne(t, newEnv(t, &fakeHub{status: tc.status}, nil), "hub-api")
			if r.Status != tc.want || !strings.Contains(r.Summary, tc.summary) || !strings.Contains(r.Fix, tc.fix) {
				t.Errorf("got %s %q fix %q; want %s containing %q, fix containing %q", r.Status, r.Summary, r.Fix, tc.want, tc.summary, tc.fix)
			}
		})
	}
}

func TestHubControllers(t *testing.T) {
	for name, tc := range map[string]struct {
		objs    []client.Object
		want    Status
		summary string
	}{
		"renewed":              {objs: []client.Object{lease("hub-1_abc", 3*time.Second)}, want: Pass, summary: "leader hub-1_abc"},
		"stale":                {objs: []client.Object{lease("hub-1_abc", 2*time.Minute)}, want: Fail, summary: "last renewed 2 minutes ago"},
		"no holder":            {objs: []client.Object{lease("", time.Second)}, want: Fail, summary: "no hub controller holds"},
		"missing":              {want: Fail, summary: "never run"},
		"missing, but probing": {objs: []client.Object{makeCluster("a").Ready().Obj()}, want: Warn, summary: "without leader election"},
	} {
		t.Run(name, func(t *testing.T) {
			r := runOne(t, newEnv(t, healthyHub(t), nil, tc.objs...), "hub-controllers")
			if r.Status != tc.want || !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("got %s %q, want %s containing %q", r.Status, r.Summary, tc.want, tc.summary)
			}
			if r.Status == Fail && !strings.Contains(r.Fix, "flotilla hub") {
				t.Errorf("fix %q does not say to run flotilla hub", r.Fix)
			}
		})
	}
}

func TestClustersReady(t *testing.T) {
	ready := func(n string) client.Object { return makeCluster(n).Ready().Obj() }
	for name, tc := range map[string]struct {
		objs     []client.Object
		want     Status
		summary  string
		evidence []string
		fix      string
	}{
		"all ready": {objs: []client.Object{ready("a"), ready("b")}, want: Pass, summary: "all 2 clusters are Ready",
			evidence: []string{"a: Ready (Kubernetes v1.37.2, 2/2 nodes ready)", "b: Ready (Kubernetes v1.37.2, 2/2 nodes ready)"}},
		"cordoned and draining": {objs: []client.Object{
			makeCluster("a").Ready().Taint(clusterv1alpha1.TaintUnschedulable, corev1.TaintEffectNoSchedule).Obj(),
			makeCluster("b").Ready().Taint(clusterv1alpha1.TaintUnschedulable, corev1.TaintEffectNoSchedule).Taint(clusterv1alpha1.TaintUnschedulable, corev1.TaintEffectNoExecute).Obj()},
			want: Pass, evidence: []string{"a: Ready (Kubernetes v1.37.2, 2/2 nodes ready, cordoned)", "b: Ready (Kubernetes v1.37.2, 2/2 nodes ready, cordoned, draining)"}},
		"none joined": {want: Warn, summary: "no member cluster", fix: "flotilla join NAME --cluster-kubeconfig FILE"},
		"unreachable": {
			objs: []client.Object{ready("a"), makeCluster("b").Condition(metav1.ConditionFalse, clusterv1alpha1.ReasonUnreachable, "connection refused").Obj()},
			want: Fail, summary: "1 of 2 clusters is not Ready: b",
			evidence: []string{"a: Ready (Kubernetes v1.37.2, 2/2 nodes ready)", "b: Ready=False (Unreachable): connection refused"},
			fix:      "b: check that its API server runs and that the hub reaches https://127.0.0.1:6443 over the network (firewall, DNS, spec.apiEndpoint)",
		},
		"unauthorized": {
			objs: []client.Object{makeCluster("b").Condition(metav1.ConditionFalse, clusterv1alpha1.ReasonUnauthorized, "401").Obj()},
			want: Fail, fix: "b: its credentials are rejected or missing; re-join it: flotilla unjoin b && flotilla join b --cluster-kubeconfig FILE",
		},
		"credentials invalid": {
			objs: []client.Object{makeCluster("b").Condition(metav1.ConditionFalse, clusterv1alpha1.ReasonCredentialsInvalid, "no token").Obj()},
			want: Fail, fix: "flotilla join b --cluster-kubeconfig FILE",
		},
		"never probed":       {objs: []client.Object{makeCluster("b").Obj()}, want: Fail, fix: "hub-controllers"},
		"pull, no condition": {objs: []client.Object{makeCluster("edge").Pull().Obj()}, want: Fail, evidence: []string{"edge: Pull mode: no Ready condition yet"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := runOne(t, newEnv(t, healthyHub(t), nil, tc.objs...), "clusters-ready")
			if r.Status != tc.want || !strings.Contains(r.Summary, tc.summary) || !strings.Contains(r.Fix, tc.fix) {
				t.Errorf("got %s %q fix %q; want %s containing %q, fix containing %q", r.Status, r.Summary, r.Fix, tc.want, tc.summary, tc.fix)
			}
			if tc.evidence != nil {
				if diff := cmp.Diff(tc.evidence, r.Evidence); diff != "" {
					t.Errorf("evidence (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestClusterProbes(t *testing.T) {
	for name, tc := range map[string]struct {
		cluster *clusterv1alpha1.Cluster
		want    Status
		line    string
	}{
		"fresh":           {makeCluster("a").Ready().Obj(), Pass, "a: probed 5s ago, last successful probe 8 ms"},
		"within refresh":  {makeCluster("a").Ready().Probed(80*time.Second, 8).Obj(), Pass, "a: probed 80s ago, last successful probe 8 ms"},
		"stale":           {makeCluster("a").Ready().Probed(5*time.Minute, 8).Obj(), Warn, "a: probed 5 minutes ago, last successful probe 8 ms (older than 90s: the hub stopped probing it)"},
		"slow":            {makeCluster("a").Ready().Probed(time.Second, 1500).Obj(), Warn, "a: probed 1s ago, last successful probe 1500 ms (slower than 1000 ms)"},
		"slow, not ready": {makeCluster("a").Condition(metav1.ConditionFalse, clusterv1alpha1.ReasonUnreachable, "x").Probed(time.Second, 1500).Obj(), Pass, "a: probed 1s ago, last successful probe 1500 ms"},
		"never":           {makeCluster("a").Obj(), Warn, "a: never probed"},
		"pull only":       {makeCluster("e").Pull().Obj(), Skip, "e: Pull mode, not probed by the hub"},
	} {
		t.Run(name, func(t *testing.T) {
			r := runOne(t, newEnv(t, healthyHub(t), nil, tc.cluster), "cluster-probes")
			if r.Status != tc.want {
				t.Errorf("got %s (%s), want %s", r.Status, r.Summary, tc.want)
			}
			if diff := cmp.Diff([]string{tc.line}, r.Evidence); diff != "" {
				t.Errorf("evidence (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProbeStaleAfter(t *testing.T) {
	if got := ProbeStaleAfter(); got != 90*time.Second {
		t.Errorf("ProbeStaleAfter() = %s, want 90s (1m status refresh + 3 x 10s probe interval)", got)
	}
}

func TestExpiry(t *testing.T) {
	for name, tc := range map[string]struct {
		left time.Duration
		want Status
		text string
	}{
		"a year":      {365 * 24 * time.Hour, Pass, "expires 2027-11-24 12:00 UTC (in 365 days)"},
		"31 days":     {31 * 24 * time.Hour, Pass, "expires 2026-12-25 12:00 UTC (in 31 days)"},
		"29 days":     {29 * 24 * time.Hour, Warn, "expires 2026-12-23 12:00 UTC (in 29 days)"},
		"3 hours":     {3 * time.Hour, Warn, "expires 2026-11-24 15:00 UTC (in 3 hours)"},
		"now":         {0, Fail, "expired 2026-11-24 12:00 UTC (0s ago)"},
		"4 days past": {-4 * 24 * time.Hour, Fail, "expired 2026-11-20 12:00 UTC (4 days ago)"},
	} {
		t.Run(name, func(t *testing.T) {
			at := now.Add(tc.left)
			if got := ExpiryStatus(at, now); got != tc.want {
				t.Errorf("ExpiryStatus = %s, want %s", got, tc.want)
			}
			if got := describeExpiry(at, now); got != tc.text {
				t.Errorf("describeExpiry = %q, want %q", got, tc.text)
			}
		})
	}
}

func TestTokenExpiry(t *testing.T) {
	exp := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	for name, tc := range map[string]struct {
		token   string
		want    time.Time
		ok      bool
		notJWT  bool
		wantErr bool
	}{
		"exp":         {token: jwt(`{"sub":"system:serviceaccount:flotilla-system:flotilla-hub","exp":1798859045}`), want: exp, ok: true},
		"exp float":   {token: jwt(`{"exp":1798859045.0}`), want: exp, ok: true},
		"legacy":      {token: jwt(`{"iss":"kubernetes/serviceaccount"}`)},
		"padded":      {token: padded(jwt(`{"exp":1798859045}`)), want: exp, ok: true},
		"opaque":      {token: "abcdef0123456789", notJWT: true},
		"bad payload": {token: "a.!!!.c", notJWT: true},
		"bad exp":     {token: jwt(`{"exp":"soon"}`), notJWT: true},
	} {
		t.Run(name, func(t *testing.T) {
			got, ok, err := TokenExpiry(tc.token)
			if tc.notJWT {
				if !errors.Is(err, errNotJWT) {
					t.Errorf("err = %v, want errNotJWT", err)
				}
				return
			}
			if err != nil || ok != tc.ok || !got.Equal(tc.want) {
				t.Errorf("got %s, %v, %v; want %s, %v", got, ok, err, tc.want, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), tc.token) {
				t.Error("the error shows the token")
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	good := certPEM(cert(t, "member-ca", now.Add(3000*24*time.Hour)))
	soon := certPEM(cert(t, "member-ca", now.Add(10*24*time.Hour)))
	gone := certPEM(cert(t, "member-ca", now.Add(-24*time.Hour)))
	legacy := jwt(`{"iss":"kubernetes/serviceaccount"}`)
	tokenAt := func(d time.Duration) string {
		return jwt(`{"exp":` + itoa(now.Add(d).Unix()) + `}`)
	}
	a := makeCluster("a").Ready().Obj()
	for name, tc := range map[string]struct {
		objs    []client.Object
		hub     func(*fakeHub)
		conn    func(*Connection)
		want    Status
		summary string
		lines   []string
	}{
		"all good": {
			objs: []client.Object{a, credSecret("a", good, legacy)}, want: Pass,
			summary: "3 certificates and tokens checked; none expires within 30 days",
			lines: []string{
				"hub serving certificate (CN=kube-apiserver): expires 2027-09-20 12:00 UTC (in 300 days)",
				"hub CA in the kubeconfig (CN=flotilla-ca): expires 2035-02-10 12:00 UTC (in 3000 days)",
				"a: CA certificate (CN=member-ca): expires 2035-02-10 12:00 UTC (in 3000 days)",
				"a: token does not expire (a service-account token without exp)",
			},
		},
		"member CA expiring": {objs: []client.Object{a, credSecret("a", soon, legacy)}, want: Warn, summary: "1 credential expires within 30 days",
			lines: []string{"a: CA certificate (CN=member-ca): expires 2026-12-04 12:00 UTC (in 10 days) (under 30 days)"}},
		"member CA expired": {objs: []client.Object{a, credSecret("a", gone, legacy)}, want: Fail, summary: "1 credential has expired",
			lines: []string{"a: CA certificate (CN=member-ca): expired 2026-11-23 12:00 UTC (24 hours ago)"}},
		"token expiring": {objs: []client.Object{a, credSecret("a", good, tokenAt(5*24*time.Hour))}, want: Warn,
			lines: []string{"a: token: expires 2026-11-29 12:00 UTC (in 5 days) (under 30 days)"}},
		"token expired": {objs: []client.Object{a, credSecret("a", good, tokenAt(-time.Hour))}, want: Fail,
			lines: []string{"a: token: expired 2026-11-24 11:00 UTC (60 minutes ago)"}},
		"secret missing": {objs: []client.Object{a}, want: Fail, summary: "1 credentials secret is missing or malformed",
			lines: []string{"a: credentials secret flotilla-system/cluster-a not found"}},
		"no ca.crt": {objs: []client.Object{a, credSecret("a", nil, legacy)}, want: Fail,
			lines: []string{"a: secret flotilla-system/cluster-a has no ca.crt"}},
		"hub cert expiring": {hub: func(h *fakeHub) { h.chain[0] = cert(t, "kube-apiserver", now.Add(2*24*time.Hour)) }, want: Warn,
			lines: []string{"hub serving certificate (CN=kube-apiserver): expires 2026-11-26 12:00 UTC (in 2 days) (under 30 days)"}},
		"hub cert unreadable": {hub: func(h *fakeHub) { h.err = errors.New("connection reset") }, want: Warn, summary: "could not be checked",
			lines: []string{"hub serving certificate: cannot read it: connection reset"}},
		"client cert expired": {conn: func(c *Connection) {
			c.ClientCerts = []*x509.Certificate{cert(t, "flotilla-admin", now.Add(-time.Minute))}
		}, want: Fail,
			lines: []string{"kubeconfig client certificate (CN=flotilla-admin): expired 2026-11-24 11:59 UTC (60s ago)"}},
	} {
		t.Run(name, func(t *testing.T) {
			hub := healthyHub(t)
			if tc.hub != nil {
				tc.hub(hub)
			}
			e := newEnv(t, hub, nil, tc.objs...)
			if tc.conn != nil {
				tc.conn(&e.Conn)
			}
			r := runOne(t, e, "credentials-expiry")
			if r.Status != tc.want || !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("got %s %q, want %s containing %q\nevidence: %q", r.Status, r.Summary, tc.want, tc.summary, r.Evidence)
			}
			for _, l := range tc.lines {
				if !contains(r.Evidence, l) {
					t.Errorf("evidence lacks %q:\n%s", l, strings.Join(r.Evidence, "\n"))
				}
			}
			if (r.Status == Warn || r.Status == Fail) && r.Fix == "" {
				t.Error("no fix")
			}
			for _, l := range r.Evidence {
				if strings.Contains(l, "eyJ") {
					t.Errorf("evidence shows a token: %q", l)
				}
			}
		})
	}
}

func TestPoliciesClaim(t *testing.T) {
	web := makeBinding("shop", "web", "Deployment").Policy("PropagationPolicy", "shop", "web").Healthy("a").Obj()
	crb := &workv1alpha1.ClusterResourceBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader-clusterrole"},
		Spec: workv1alpha1.BindingSpec{Resource: workv1alpha1.ObjectReference{Kind: "ClusterRole", Name: "reader"},
			Policy: workv1alpha1.PolicyReference{Kind: "ClusterPropagationPolicy", Name: "roles"}}}
	cpp := &policyv1alpha1.ClusterPropagationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "roles"},
		Spec: policyv1alpha1.PropagationSpec{ResourceSelectors: []policyv1alpha1.ResourceSelector{{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}}}}
	typo := pp("shop", "wbe", policyv1alpha1.ResourceSelector{APIVersion: "apps/v1", Kind: "Deployment",
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wbe"}}})
	for name, tc := range map[string]struct {
		objs     []client.Object
		want     Status
		evidence []string
	}{
		"none": {want: Skip},
		"all claim": {objs: []client.Object{pp("shop", "web"), web, cpp, crb}, want: Pass,
			evidence: []string{"PropagationPolicy/shop/web: claims 1 template", "ClusterPropagationPolicy/roles: claims 1 template"}},
		"one idle": {objs: []client.Object{pp("shop", "web"), typo, web}, want: Fail,
			evidence: []string{"PropagationPolicy/shop/wbe: claims no template (selects apps/v1 Deployment labels app=wbe)", "PropagationPolicy/shop/web: claims 1 template"}},
		"policy of the same name elsewhere": {objs: []client.Object{pp("other", "web"), web}, want: Fail,
			evidence: []string{"PropagationPolicy/other/web: claims no template (selects apps/v1 Deployment name=web)"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := runOne(t, newEnv(t, healthyHub(t), nil, tc.objs...), "policies-claim-templates")
			if r.Status != tc.want {
				t.Errorf("got %s %q, want %s", r.Status, r.Summary, tc.want)
			}
			if tc.evidence != nil {
				if diff := cmp.Diff(tc.evidence, r.Evidence); diff != "" {
					t.Errorf("evidence (-want +got):\n%s", diff)
				}
			}
			if r.Status == Fail && !strings.Contains(r.Fix, "spec.resourceSelectors (apiVersion, kind, name, labelSelector)") {
				t.Errorf("fix %q", r.Fix)
			}
		})
	}
}

func TestBindings(t *testing.T) {
	ok := makeBinding("shop", "web", "Deployment").Healthy("a", "b").Obj()
	noFit := makeBinding("shop", "api", "Deployment").
		Cond(workv1alpha1.ConditionScheduled, metav1.ConditionFalse, workv1alpha1.ReasonNoClusterFits, "no cluster fits: nowhere: not in clusterAffinity").
		Cond(workv1alpha1.ConditionApplied, metav1.ConditionFalse, workv1alpha1.ReasonPending, "no cluster is scheduled yet").Obj()
	blocked := makeBinding("shop", "db", "StatefulSet").
		Cond(workv1alpha1.ConditionScheduled, metav1.ConditionFalse, workv1alpha1.ReasonFailoverBlocked, "b failed; no other cluster fits").Obj()
	conflict := makeBinding("shop", "cfg", "ConfigMap").
		Cond(workv1alpha1.ConditionScheduled, metav1.ConditionTrue, workv1alpha1.ReasonScheduled, "").
		Cond(workv1alpha1.ConditionApplied, metav1.ConditionFalse, workv1alpha1.ReasonConflict, "applied to 0 of 1 clusters; a: "+strings.Repeat("x", 300)).Obj()
	fresh := makeBinding("shop", "new", "Deployment").Obj()
	for name, tc := range map[string]struct {
		objs     []client.Object
		want     Status
		evidence []string
		fix      string
	}{
		"none":    {want: Skip},
		"healthy": {objs: []client.Object{ok}, want: Pass, evidence: []string{"ResourceBinding shop/web-deployment (Deployment web): scheduled to a:1,b:1, applied"}},
		"no cluster fits": {objs: []client.Object{ok, noFit}, want: Fail, fix: "flotilla describe deployment/api -n shop",
			evidence: []string{"ResourceBinding shop/api-deployment (Deployment api): Scheduled=False (NoClusterFits): no cluster fits: nowhere: not in clusterAffinity"}},
		"failover blocked": {objs: []client.Object{blocked}, want: Fail, fix: "flotilla describe statefulset/db -n shop",
			evidence: []string{"ResourceBinding shop/db-statefulset (StatefulSet db): Scheduled=False (FailoverBlocked): b failed; no other cluster fits"}},
		"conflict": {objs: []client.Object{conflict}, want: Fail, fix: "flotilla describe configmap/cfg -n shop",
			evidence: []string{"ResourceBinding shop/cfg-configmap (ConfigMap cfg): Applied=False (Conflict): applied to 0 of 1 clusters; a: " + strings.Repeat("x", 166) + "..."}},
		"pending": {objs: []client.Object{fresh}, want: Warn, fix: "flotilla describe deployment/new -n shop",
			evidence: []string{"ResourceBinding shop/new-deployment (Deployment new): not scheduled yet"}},
		"failed before pending": {objs: []client.Object{fresh, noFit}, want: Fail, fix: "flotilla describe deployment/api -n shop"},
	} {
		t.Run(name, func(t *testing.T) {
			r := runOne(t, newEnv(t, healthyHub(t), nil, tc.objs...), "bindings-scheduled-applied")
			if r.Status != tc.want || !strings.Contains(r.Fix, tc.fix) {
				t.Errorf("got %s %q fix %q, want %s with fix %q", r.Status, r.Summary, r.Fix, tc.want, tc.fix)
			}
			if tc.evidence != nil {
				if diff := cmp.Diff(tc.evidence, r.Evidence); diff != "" {
					t.Errorf("evidence (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestUnclaimedWorkloads(t *testing.T) {
	dep := func(ns, name string, claimed bool) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if claimed {
			d.Annotations = map[string]string{workv1alpha1.AnnotationPolicy: "PropagationPolicy/" + ns + "/" + name}
		}
		return d
	}
	owned := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "nightly-1", OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "batch/v1", Kind: "CronJob", Name: "nightly", UID: "u", Controller: ptr.To(true)}}}}
	cron := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "nightly"}}
	for name, tc := range map[string]struct {
		objs     []client.Object
		want     Status
		evidence []string
	}{
		"nothing":            {want: Pass, evidence: []string{"looked at Deployments, StatefulSets, DaemonSets, Jobs and CronJobs"}},
		"claimed":            {objs: []client.Object{dep("shop", "web", true)}, want: Pass},
		"system namespaces":  {objs: []client.Object{dep("kube-system", "coredns", false), dep("flotilla-system", "x", false)}, want: Pass},
		"unclaimed":          {objs: []client.Object{dep("shop", "web", true), dep("shop", "local", false), cron, owned}, want: Warn, evidence: []string{"CronJob shop/nightly", "Deployment shop/local"}},
		"owned jobs skipped": {objs: []client.Object{owned}, want: Pass},
	} {
		t.Run(name, func(t *testing.T) {
			r := runOne(t, newEnv(t, healthyHub(t), nil, tc.objs...), "unclaimed-workloads")
			if r.Status != tc.want {
				t.Errorf("got %s %q, want %s; evidence %q", r.Status, r.Summary, tc.want, r.Evidence)
			}
			if tc.evidence != nil {
				if diff := cmp.Diff(tc.evidence, r.Evidence); diff != "" {
					t.Errorf("evidence (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestFailover(t *testing.T) {
	withFailover := pp("shop", "web")
	withFailover.Spec.Failover = &policyv1alpha1.FailoverBehavior{Cluster: &policyv1alpha1.ClusterFailover{TolerationSeconds: ptr.To[int32](30)},
		Application: &policyv1alpha1.ApplicationFailover{TolerationSeconds: 120}, Failback: &policyv1alpha1.Failback{Mode: policyv1alpha1.FailbackAutomatic}}
	moving := makeBinding("shop", "web", "Deployment").Healthy("a").Evicted("b").Obj()
	for name, tc := range map[string]struct {
		objs    []client.Object
		metrics string
		want    Status
		summary string
		fix     string
		lines   []string
	}{
		"default toleration": {objs: []client.Object{pp("shop", "api")}, want: Pass, summary: "no policy configures failover; the hub's default toleration applies",
			lines: []string{"hub metrics unavailable (http://127.0.0.1:8080/metrics, default): cannot tell whether failover has moved templates since the hub started"}},
		"configured": {objs: []client.Object{withFailover}, metrics: "flotilla_evictions_total{cluster=\"b\",reason=\"ClusterFailure\"} 2\n", want: Pass,
			summary: "1 policy configures failover; no template was moved recently",
			lines: []string{"PropagationPolicy/shop/web: cluster toleration 30s, application failover after 120s, failback Automatic",
				"flotilla_evictions_total = 2: failover has moved templates since the hub started"}},
		"never exercised": {metrics: "flotilla_fleet_disrupted 0\n", want: Pass,
			lines: []string{"flotilla_evictions_total = 0: failover has not moved any template since the hub started (exercise it with flotilla cordon --drain CLUSTER)"}},
		"moving": {objs: []client.Object{moving}, want: Warn, summary: "1 template was recently moved away from a cluster (failover or drain)", fix: "flotilla describe deployment/web -n shop",
			lines: []string{"ResourceBinding shop/web-deployment: moved away from b (ClusterFailure) at 2026-11-24T11:59:00Z, recorded until 2026-11-24T12:09:00Z: b was not Ready for 60s"}},
		"paused": {metrics: "flotilla_fleet_disrupted 1\n", want: Warn, summary: "failover is paused"},
	} {
		t.Run(name, func(t *testing.T) {
			var body []byte
			if tc.metrics != "" {
				body = []byte(tc.metrics)
			}
			r := runOne(t, newEnv(t, healthyHub(t), body, tc.objs...), "failover")
			if r.Status != tc.want || !strings.Contains(r.Summary, tc.summary) || !strings.Contains(r.Fix, tc.fix) {
				t.Errorf("got %s %q fix %q, want %s containing %q, fix %q", r.Status, r.Summary, r.Fix, tc.want, tc.summary, tc.fix)
			}
			for _, l := range tc.lines {
				if !contains(r.Evidence, l) {
					t.Errorf("evidence lacks %q:\n%s", l, strings.Join(r.Evidence, "\n"))
				}
			}
		})
	}
}

func TestPullClusters(t *testing.T) {
	if r := runOne(t, newEnv(t, healthyHub(t), nil, makeCluster("a").Ready().Obj()), "pull-clusters"); r.Status != Skip {
		t.Errorf("no Pull cluster: got %s (%s), want skip", r.Status, r.Summary)
	}
	online := makeCluster("edge").Pull().Obj()
	online.Status.Conditions = append(online.Status.Conditions, metav1.Condition{Type: clusterv1alpha1.ConditionOffline, Status: metav1.ConditionFalse, Reason: "Heartbeating"})
	if r := runOne(t, newEnv(t, healthyHub(t), nil, online), "pull-clusters"); r.Status != Pass || !strings.Contains(strings.Join(r.Evidence, "\n"), "edge: heartbeating") {
		t.Errorf("heartbeating: got %s %v", r.Status, r.Evidence)
	}
	offline := makeCluster("edge").Pull().Obj()
	offline.Spec.Offline = clusterv1alpha1.OfflineFailOver
	offline.Status.Conditions = append(offline.Status.Conditions, metav1.Condition{Type: clusterv1alpha1.ConditionOffline, Status: metav1.ConditionTrue, Reason: "LeaseExpired"})
	r := runOne(t, newEnv(t, healthyHub(t), nil, offline), "pull-clusters")
	if r.Status != Warn || !strings.Contains(strings.Join(r.Evidence, "\n"), "offline policy FailOver") {
		t.Errorf("offline: got %s %v", r.Status, r.Evidence)
	}
}

func TestTLS(t *testing.T) {
	for name, tc := range map[string]struct {
		conn    func(*Connection)
		objs    []client.Object
		want    Status
		problem string
	}{
		"all https": {objs: []client.Object{makeCluster("a").Ready().Obj(), makeCluster("e").Pull().Obj()}, want: Pass},
		"insecure":  {conn: func(c *Connection) { c.Insecure = true }, want: Fail, problem: "kubeconfig: insecure-skip-tls-verify is set"},
		"http hub":  {conn: func(c *Connection) { c.Server = "http://127.0.0.1:8080" }, want: Fail, problem: "hub: http://127.0.0.1:8080 is not https"},
		"http member": {objs: []client.Object{makeCluster("a").Endpoint("http://10.0.0.1:6443").Obj()}, want: Fail,
			problem: "a: spec.apiEndpoint http://10.0.0.1:6443 is not https"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, healthyHub(t), nil, tc.objs...)
			if tc.conn != nil {
				tc.conn(&e.Conn)
			}
			r := runOne(t, e, "tls")
			if r.Status != tc.want {
				t.Errorf("got %s %q, want %s; evidence %q", r.Status, r.Summary, tc.want, r.Evidence)
			}
			if tc.problem != "" && (len(r.Evidence) == 0 || !strings.HasPrefix(r.Evidence[0], tc.problem)) {
				t.Errorf("evidence %q does not start with %q", r.Evidence, tc.problem)
			}
			if r.Status == Fail && r.Fix == "" {
				t.Error("no fix")
			}
		})
	}
}

func TestSecuritySkips(t *testing.T) {
	for _, name := range []string{"secrets-encryption-at-rest", "audit-log"} {
		r := runOne(t, newEnv(t, healthyHub(t), nil), name)
		if r.Status != Skip || r.Reason == "" {
			t.Errorf("%s: got %s with reason %q, want a skip with a reason", name, r.Status, r.Reason)
		}
	}
}

func TestHubMetrics(t *testing.T) {
	served := "# HELP flotilla_cluster_ready x\n# TYPE flotilla_cluster_ready gauge\n" +
		"flotilla_cluster_ready{cluster=\"b\"} 0\nflotilla_cluster_ready{cluster=\"a\"} 1\n"
	for name, tc := range map[string]struct {
		body     string
		url      string
		explicit bool
		clusters []client.Object
		want     Status
		summary  string
	}{
		"serves":                 {body: served, want: Pass, summary: "flotilla_cluster_ready reports 1 of 2 clusters ready"},
		"default, no answer":     {want: Warn, summary: "the hub's metrics endpoint is unknown"},
		"explicit, no answer":    {explicit: true, want: Fail, summary: "does not answer"},
		"local fleet, no answer": {url: "http://127.0.0.1:4242/metrics", want: Warn, summary: "nothing answers at http://127.0.0.1:4242/metrics (default)"},
		"another endpoint":       {body: "go_goroutines 12\n", clusters: []client.Object{makeCluster("a").Obj()}, want: Warn, summary: "does not serve flotilla_cluster_ready"},
		"explicit, not the hub":  {body: "go_goroutines 12\n", explicit: true, clusters: []client.Object{makeCluster("a").Obj()}, want: Fail},
		"no cluster yet":         {body: "controller_runtime_reconcile_total{controller=\"cluster-health\",result=\"success\"} 0\n", want: Pass, summary: "no series until a cluster joins"},
		"garbage":                {body: "<html>hello</html>\n", explicit: true, want: Fail},
	} {
		t.Run(name, func(t *testing.T) {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			e := newEnv(t, healthyHub(t), body, tc.clusters...)
			e.Metrics.Explicit = tc.explicit
			if tc.url != "" {
				e.Metrics.URL = tc.url
			}
			r := runOne(t, e, "hub-metrics")
			if r.Status != tc.want || !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("got %s %q, want %s containing %q; evidence %q", r.Status, r.Summary, tc.want, tc.summary, r.Evidence)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	body := `# HELP flotilla_evictions_total Templates moved.
# TYPE flotilla_evictions_total counter
flotilla_evictions_total{cluster="a",reason="ClusterFailure"} 3
flotilla_evictions_total{cluster="b, \"c\"",reason="Taint"} 1.5e+00
process_start_time_seconds 1.7e+09
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="GET"} 42 1700000000000
`
	s, err := ParseMetrics([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Sum("flotilla_evictions_total"); got != 4.5 {
		t.Errorf("sum = %g, want 4.5", got)
	}
	if got := s.Samples["flotilla_evictions_total"][1].Labels["cluster"]; got != `b, "c"` {
		t.Errorf("label = %q", got)
	}
	if !s.Has("rest_client_requests_total") || s.Has("nope") {
		t.Error("Has is wrong")
	}
	for _, bad := range []string{"x{a=\"b\" 1", "x{a=b} 1", "x", "x notanumber"} {
		if _, err := ParseMetrics([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestEvidenceCapped(t *testing.T) {
	var objs []client.Object
	for i := range 30 {
		objs = append(objs, makeCluster("c"+itoa(int64(i+10))).Ready().Obj())
	}
	r := runOne(t, newEnv(t, healthyHub(t), nil, objs...), "clusters-ready")
	if len(r.Evidence) != MaxEvidence || r.Evidence[MaxEvidence-1] != "... and 11 more" {
		t.Errorf("evidence not capped: %d lines, last %q", len(r.Evidence), r.Evidence[len(r.Evidence)-1])
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// padded adds base64 padding to a token's payload, as some issuers do.
func padded(token string) string {
	p := strings.Split(token, ".")
	return p[0] + "." + p[1] + "==" + "." + p[2]
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
