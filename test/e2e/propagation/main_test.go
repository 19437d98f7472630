// Package propagation_test checks the propagation pipeline end to end: a
// real hub with the hub's controllers running in-process, and three real
// kwokctl members joined in push mode, named as in the seed's case 1.
package propagation_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"

	"github.com/flotilla-io/flotilla/internal/hub"
	"github.com/flotilla-io/flotilla/internal/hub/clusterhealth"
	"github.com/flotilla-io/flotilla/internal/localfleet"
	"github.com/flotilla-io/flotilla/test/framework"
)

var env *framework.Env

// hubRunner runs the hub's controllers in-process; tests may restart it.
var hubRunner = &framework.Hub{Options: hub.Options{Health: healthOpts}}

// Fast probing, so that label and readiness changes show within a second.
var healthOpts = clusterhealth.Options{
	ProbeInterval:    time.Second,
	ProbeTimeout:     2 * time.Second,
	FailureThreshold: 2,
	MaxBackoff:       2 * time.Second,
	StatusRefresh:    5 * time.Second,
	Workers:          4,
}

func TestMain(m *testing.M) {
	members := []localfleet.MemberSpec{
		{Name: "member-cluster-1", Nodes: 2, Region: "region-a", Provider: "cloud-a", Labels: map[string]string{"env": "production"}},
		{Name: "member-cluster-2", Nodes: 2, Region: "region-b", Provider: "cloud-b", Labels: map[string]string{"env": "production"}},
		{Name: "edge-cluster", Nodes: 1, Region: "edge-1", Provider: "edge", Labels: map[string]string{"env": "edge"}},
	}
	os.Exit(framework.Run(m, framework.Options{Members: members, Join: true}, &env, hubRunner.Setup))
}

// flotilla runs the binary under test against the hub.
func flotilla(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return env.Flotilla(t, args...)
}

// memberDynamic is an admin dynamic client of a member.
func memberDynamic(t *testing.T, name string) dynamic.Interface {
	t.Helper()
	cfg, err := env.Member(name).RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// hubDynamic is an admin dynamic client of the hub.
func hubDynamic(t *testing.T) dynamic.Interface {
	t.Helper()
	d, err := dynamic.NewForConfig(env.HubConfig)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func seedFile(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(env.RepoRoot, "..", "shared", "seed", "examples", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("seed example not found at %s: %v", p, err)
	}
	return p
}
