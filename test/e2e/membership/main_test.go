// Package membership_test checks joining, unjoining and cluster health
// against real clusters: a hub and two kwokctl members, with the hub's
// controllers running in-process as the hub's own RBAC-limited identity.
package membership_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

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
	os.Exit(framework.Run(m, framework.Options{Members: members}, &env, startHub))
}

// startHub runs the hub's controllers in-process as system:flotilla:hub.
func startHub(e *framework.Env) (func(), error) {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapLevel())))
	cfg, err := clientcmd.BuildConfigFromFlags("", e.Fleet.Hub.ControllerKubeconfig)
	if err != nil {
		return nil, err
	}
	mgr, err := hub.New(cfg, hub.Options{MetricsAddr: "0", HealthAddr: "0", Health: healthOpts})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintf(os.Stderr, "hub manager: %v\n", err)
		}
	}, nil
}

// zapLevel keeps the hub's logs to errors unless FLOTILLA_TEST_VERBOSE is set.
func zapLevel() zapcore.Level {
	if os.Getenv("FLOTILLA_TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}
