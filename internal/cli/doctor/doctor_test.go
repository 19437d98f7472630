package doctor

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/doctor"
	"github.com/flotilla-io/flotilla/internal/localfleet"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, diff)
	}
}

// report is a run over a fleet with one member down, a policy that claims
// nothing and an unschedulable binding.
func report() doctor.Report {
	checks := []doctor.Result{
		{Group: doctor.Federation, Name: "hub-api", Status: doctor.Pass,
			Summary:  "the hub at https://127.0.0.1:6443 is ready (Kubernetes v1.37.2) and serves Flotilla's API",
			Evidence: []string{"GET /readyz: ok"}},
		{Group: doctor.Federation, Name: "hub-controllers", Status: doctor.Pass, Summary: "the hub's controllers run (leader hub-1_4f2a)",
			Evidence: []string{"lease flotilla-system/flotilla-hub: held by hub-1_4f2a, renewed 2s ago (lease duration 15s)"}},
		{Group: doctor.Federation, Name: "clusters-ready", Status: doctor.Fail, Summary: "1 of 3 clusters is not Ready: member-cluster-2",
			Evidence: []string{
				"edge-cluster: Ready (Kubernetes v1.37.2, 1/1 nodes ready)",
				"member-cluster-1: Ready (Kubernetes v1.37.2, 2/2 nodes ready)",
				"member-cluster-2: Ready=False (Unreachable): connection to https://127.0.0.1:40111 refused: nothing listens there",
			},
			Fix: "member-cluster-2: check that its API server runs and that the hub reaches https://127.0.0.1:40111 over the network (firewall, DNS, spec.apiEndpoint)"},
		{Group: doctor.Federation, Name: "credentials-expiry", Status: doctor.Warn, Summary: "1 credential expires within 30 days",
			Evidence: []string{"member-cluster-1: token: expires 2026-12-04 12:00 UTC (in 10 days) (under 30 days)"},
			Fix:      "member-cluster-1: re-join it for fresh credentials: flotilla unjoin member-cluster-1 && flotilla join member-cluster-1 --cluster-kubeconfig FILE"},
		{Group: doctor.Applications, Name: "policies-claim-templates", Status: doctor.Fail, Summary: "1 of 2 policies claims no template: PropagationPolicy/shop/wbe",
			Evidence: []string{"PropagationPolicy/shop/wbe: claims no template (selects apps/v1 Deployment name=wbe)", "PropagationPolicy/shop/web: claims 1 template"},
			Fix:      "check spec.resourceSelectors (apiVersion, kind, name, labelSelector) against the templates on the hub"},
		{Group: doctor.Applications, Name: "bindings-scheduled-applied", Status: doctor.Fail, Summary: "1 of 2 bindings is unschedulable or failed to apply",
			Evidence: []string{"ResourceBinding shop/api-deployment (Deployment api): Scheduled=False (NoClusterFits): no cluster fits"},
			Fix:      "flotilla describe deployment/api -n shop\nflotilla describe deployment/db -n shop"},
		{Group: doctor.Edge, Name: "pull-clusters", Status: doctor.Skip, Summary: "no cluster is in Pull mode",
			Reason: "there are no Pull clusters to check"},
		{Group: doctor.Monitoring, Name: "hub-metrics", Status: doctor.Warn, Summary: "the hub's metrics endpoint is unknown: nothing answers at http://127.0.0.1:8080/metrics",
			Evidence: []string{"GET http://127.0.0.1:8080/metrics: connection refused"},
			Fix:      "name it: flotilla doctor --metrics-url http://HOST:PORT/metrics"},
	}
	rep := doctor.Report{Checks: checks}
	for i, c := range checks {
		if c.Evidence == nil {
			checks[i].Evidence = []string{} // as doctor.Run leaves it
		}
		switch c.Status {
		case doctor.Pass:
			rep.Summary.Passed++
		case doctor.Warn:
			rep.Summary.Warnings++
		case doctor.Fail:
			rep.Summary.Failed++
		case doctor.Skip:
			rep.Summary.Skipped++
		}
	}
	return rep
}

func TestPrintTextGolden(t *testing.T) {
	var b bytes.Buffer
	if err := PrintText(&b, report(), false); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.txt", b.Bytes())
	if strings.Contains(b.String(), "\x1b[") {
		t.Error("colour without a terminal")
	}
}

func TestPrintTextColor(t *testing.T) {
	var b bytes.Buffer
	if err := PrintText(&b, report(), true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\x1b[32mPASS\x1b[0m", "\x1b[31mFAIL\x1b[0m", "\x1b[33mWARN\x1b[0m", "\x1b[90mSKIP\x1b[0m", "\x1b[1mFederation\x1b[0m"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestPrintJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := PrintJSON(&b, report()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Checks  []map[string]any `json:"checks"`
		Summary map[string]int   `json:"summary"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	if diff := cmp.Diff(map[string]int{"passed": 2, "warnings": 2, "failed": 3, "skipped": 1}, got.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if len(got.Checks) != 8 {
		t.Fatalf("%d checks, want 8", len(got.Checks))
	}
	keys := func(m map[string]any) []string {
		var ks []string
		for _, k := range []string{"group", "name", "status", "summary", "evidence", "fix", "reason"} {
			if _, ok := m[k]; ok {
				ks = append(ks, k)
			}
		}
		return ks
	}
	if diff := cmp.Diff([]string{"group", "name", "status", "summary", "evidence", "fix"}, keys(got.Checks[2])); diff != "" {
		t.Errorf("keys of a failure (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"group", "name", "status", "summary", "evidence", "reason"}, keys(got.Checks[6])); diff != "" {
		t.Errorf("keys of a skip (-want +got):\n%s", diff)
	}
	if got.Checks[2]["status"] != "fail" || got.Checks[6]["status"] != "skip" || got.Checks[0]["group"] != "Federation" {
		t.Errorf("statuses and groups: %v", got.Checks)
	}
	if ev, ok := got.Checks[6]["evidence"].([]any); !ok || len(ev) != 0 {
		t.Errorf("evidence of the skip: %#v, want []", got.Checks[6]["evidence"])
	}
}

func TestMetricsEndpoint(t *testing.T) {
	home := t.TempDir()
	t.Setenv("FLOTILLA_HOME", home)
	local := localfleet.HubKubeconfig(home)
	for name, tc := range map[string]struct {
		flag, kubeconfig string
		ports            string
		want             doctor.MetricsEndpoint
	}{
		"flag": {flag: "http://hub:9090/metrics", kubeconfig: local, ports: `{"metrics":4242}`,
			want: doctor.MetricsEndpoint{URL: "http://hub:9090/metrics", Explicit: true, Source: "from --metrics-url"}},
		"local fleet": {kubeconfig: local, ports: `{"metrics":4242,"health":4243}`,
			want: doctor.MetricsEndpoint{URL: "http://127.0.0.1:4242/metrics", Source: "the local fleet's flotilla hub"}},
		"local fleet without ports": {kubeconfig: local,
			want: doctor.MetricsEndpoint{URL: doctor.DefaultMetricsURL, Source: "flotilla hub's default; set --metrics-url"}},
		"another hub": {kubeconfig: "/etc/hub.yaml", ports: `{"metrics":4242}`,
			want: doctor.MetricsEndpoint{URL: doctor.DefaultMetricsURL, Source: "flotilla hub's default; set --metrics-url"}},
	} {
		t.Run(name, func(t *testing.T) {
			_ = os.RemoveAll(filepath.Join(home, "hub"))
			if tc.ports != "" {
				if err := os.MkdirAll(filepath.Join(home, "hub"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(home, "hub", "controller-ports.json"), []byte(tc.ports), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got := metricsEndpoint(tc.flag, tc.kubeconfig)
			if got.Get == nil {
				t.Error("no Get")
			}
			got.Get = nil
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnreachableHubExitsWithFailure(t *testing.T) {
	conn := &clientconfig.Options{Kubeconfig: filepath.Join(t.TempDir(), "missing.yaml")}
	cmd := NewCommand(conn)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"-o", "json", "--metrics-url", "http://127.0.0.1:1/metrics"})
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "1 of 15 checks failed") {
		t.Errorf("err = %v, want 1 of 15 checks failed", err)
	}
	var rep doctor.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, out.String())
	}
	if rep.Checks[0].Status != doctor.Fail || rep.Summary.Skipped != len(rep.Checks)-1 {
		t.Errorf("got %+v", rep.Summary)
	}
	for _, c := range rep.Checks[1:] {
		if c.Reason != doctor.ReasonHubUnreachable {
			t.Errorf("%s: reason %q", c.Name, c.Reason)
		}
	}
}

func TestRejectsUnknownOutput(t *testing.T) {
	cmd := NewCommand(&clientconfig.Options{})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs([]string{"-o", "yaml"})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "text or json") {
		t.Errorf("err = %v", err)
	}
}
