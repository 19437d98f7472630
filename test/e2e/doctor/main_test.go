// Package doctor_test runs `flotilla doctor` against a real fleet: a hub
// with its controllers in-process (leader-elected, metrics on a known
// port) and two kwokctl members joined in push mode. Each test breaks one
// thing, checks that doctor names it with the right fix and exits 1, and
// puts the fleet back as it found it.
package doctor_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/flotilla-io/flotilla/internal/doctor"
	"github.com/flotilla-io/flotilla/internal/hub"
	"github.com/flotilla-io/flotilla/internal/hub/clusterhealth"
	"github.com/flotilla-io/flotilla/internal/localfleet"
	"github.com/flotilla-io/flotilla/test/framework"
)

var (
	env *framework.Env
	// metricsURL is where the in-process hub serves its metrics.
	metricsURL string
)

var members = []string{"member-cluster-1", "member-cluster-2"}

// Fast probing, so that a stopped member turns not Ready within seconds.
var healthOpts = clusterhealth.Options{
	ProbeInterval:    time.Second,
	ProbeTimeout:     2 * time.Second,
	FailureThreshold: 2,
	MaxBackoff:       2 * time.Second,
	StatusRefresh:    5 * time.Second,
	Workers:          4,
}

func TestMain(m *testing.M) {
	port, err := localfleet.FreePort()
	if err != nil {
		fmt.Fprintf(os.Stderr, "free port: %v\n", err)
		os.Exit(1)
	}
	metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	// Leader election on, as flotilla hub runs, so that the hub-controllers
	// check finds its lease.
	hubRunner := &framework.Hub{Options: hub.Options{Health: healthOpts, LeaderElection: true, MetricsAddr: fmt.Sprintf("127.0.0.1:%d", port)}}
	specs := []localfleet.MemberSpec{
		{Name: members[0], Nodes: 1, Region: "region-a", Provider: "cloud-a"},
		{Name: members[1], Nodes: 1, Region: "region-b", Provider: "cloud-b"},
	}
	os.Exit(framework.Run(m, framework.Options{Members: specs, Join: true}, &env, hubRunner.Setup))
}

// run runs flotilla doctor -o json against the fleet and returns the
// report and the exit code.
func run(t *testing.T) (doctor.Report, int, error) {
	t.Helper()
	out, err := env.Flotilla(t, "doctor", "-o", "json", "--metrics-url", metricsURL)
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run flotilla doctor: %v\n%s", err, out)
	}
	// The output is combined: the JSON report on stdout, then main's
	// "error: ..." line on stderr when a check failed.
	var rep doctor.Report
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&rep); err != nil {
		return rep, code, fmt.Errorf("doctor's output is not a JSON report: %v\n%s", err, out)
	}
	return rep, code, nil
}

// check returns the result of the named check.
func check(rep doctor.Report, name string) doctor.Result {
	for _, r := range rep.Checks {
		if r.Name == name {
			return r
		}
	}
	return doctor.Result{}
}

// describe renders a result for a failure message.
func describe(r doctor.Result) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s: %s: %s", r.Name, r.Status, r.Summary)
	for _, e := range r.Evidence {
		fmt.Fprintf(&b, "\n    %s", e)
	}
	if r.Fix != "" {
		fmt.Fprintf(&b, "\n    fix: %s", r.Fix)
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, "\n    reason: %s", r.Reason)
	}
	return b.String()
}

func hasLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}
