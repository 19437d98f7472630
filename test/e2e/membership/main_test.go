// Package membership_test checks joining, unjoining and cluster health
// against real clusters: a hub and two kwokctl members, with the hub's
// controllers running in-process as the hub's own RBAC-limited identity.
package membership_test

import (
	"os"
	"testing"
	"time"

	"github.com/flotilla-io/flotilla/internal/hub"
	"github.com/flotilla-io/flotilla/internal/hub/clusterhealth"
	"github.com/flotilla-io/flotilla/internal/localfleet"
	"github.com/flotilla-io/flotilla/test/framework"
)

var env *framework.Env

// Probing in this suite: a failed probe every 500ms, Ready=False after two.
var healthOpts = clusterhealth.Options{
	ProbeInterval:    500 * time.Millisecond,
	ProbeTimeout:     2 * time.Second,
	FailureThreshold: 2,
	MaxBackoff:       2 * time.Second,
	StatusRefresh:    10 * time.Second,
	Workers:          4,
}

func TestMain(m *testing.M) {
	members := []localfleet.MemberSpec{
		{Name: "member-a", Nodes: 2, Region: "region-a", Provider: "cloud-a"},
		{Name: "member-b", Nodes: 2, Region: "region-b", Provider: "cloud-b"},
		// member-c is only for the outage test, so that components that
		// give up during the outage cannot disturb the other tests.
		{Name: "member-c", Nodes: 1, Region: "region-c", Provider: "cloud-c"},
	}
	os.Exit(framework.Run(m, framework.Options{Members: members}, &env, framework.InProcessHub(hub.Options{Health: healthOpts})))
}
