// Package worksync_test runs the pull-mode agent's work sync engine against
// real clusters: a hub (a real kube-apiserver with Flotilla's CRDs) and one
// kwokctl member as the agent's local cluster. The engine runs in the test
// process as a ServiceAccount of its cluster's namespace on the hub, with
// exactly the rights an agent has there (get, list and watch works; patch
// works/status), and reaches the hub through a TCP proxy that the tests
// cut to partition it.
package worksync_test

import (
	"os"
	"testing"
	"time"

	"github.com/flotilla-io/flotilla/internal/localfleet"
	"github.com/flotilla-io/flotilla/test/framework"
)

var env *framework.Env

// member is the agent's local cluster.
const member = "edge"

// defaultPartition is how long the partition tests keep the agent away from
// the hub. The demonstration runs for several minutes; CI runs
// 30 s, which already outlasts every backoff (capped at 5 s). Set
// WORKSYNC_PARTITION (a Go duration, such as 5m) for the long run.
const defaultPartition = 30 * time.Second

func partitionFor() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("WORKSYNC_PARTITION")); err == nil && d > 0 {
		return d
	}
	return defaultPartition
}

func TestMain(m *testing.M) {
	members := []localfleet.MemberSpec{{Name: member, Nodes: 2, Region: "edge-1", Provider: "edge"}}
	os.Exit(framework.Run(m, framework.Options{Members: members}, &env))
}
