// Package propagation_test checks the propagation pipeline end to end: a
// real hub with the hub's controllers running in-process, and three real
// kwokctl members joined in push mode, named as in the seed's case 1.
package propagation_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/flotilla-io/flotilla/internal/hub"
	"github.com/flotilla-io/flotilla/internal/hub/clusterhealth"
	"github.com/flotilla-io/flotilla/internal/localfleet"
	"github.com/flotilla-io/flotilla/test/framework"
)

var env *framework.Env

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
	os.Exit(framework.Run(m, framework.Options{Members: members, Join: true}, &env, startHub))
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

func zapLevel() zapcore.Level {
	if os.Getenv("FLOTILLA_TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

var (
	buildOnce sync.Once
	bin       string
	buildErr  error
)

// flotilla runs the binary under test against the hub, built once.
func flotilla(t *testing.T, args ...string) (string, error) {
	t.Helper()
	buildOnce.Do(func() {
		bin = filepath.Join(os.TempDir(), fmt.Sprintf("flotilla-propagation-%d", os.Getpid()))
		build := exec.Command("go", "build", "-o", bin, "./cmd/flotilla")
		build.Dir = env.RepoRoot
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build flotilla: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", env.Fleet.Hub.AdminKubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
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
