package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/flotilla-io/flotilla/internal/hub"
)

// InProcessHub is a Setup that runs the hub's controllers in the test
// process, as the hub's own RBAC-limited identity (system:flotilla:hub),
// so that the tests exercise its real permissions.
func InProcessHub(o hub.Options) Setup {
	return (&Hub{Options: o}).Setup
}

// Hub runs the hub's controllers in the test process and can restart
// them, as a hub process restart would.
type Hub struct {
	Options hub.Options

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
	env    *Env
}

// Setup starts the hub; the function it returns stops it.
func (h *Hub) Setup(e *Env) (func(), error) {
	h.env = e
	if h.Options.MetricsAddr == "" {
		h.Options.MetricsAddr = "0"
	}
	if h.Options.HealthAddr == "" {
		h.Options.HealthAddr = "0"
	}
	h.Options.Restartable = true
	if err := h.start(); err != nil {
		return nil, err
	}
	return h.stop, nil
}

func (h *Hub) start() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", h.env.Fleet.Hub.ControllerKubeconfig)
	if err != nil {
		return err
	}
	mgr, err := hub.New(cfg, h.Options)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	h.mu.Lock()
	h.cancel, h.done = cancel, done
	h.mu.Unlock()
	return nil
}

func (h *Hub) stop() {
	h.mu.Lock()
	cancel, done := h.cancel, h.done
	h.cancel, h.done = nil, nil
	h.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintf(os.Stderr, "hub manager: %v\n", err)
	}
}

// Restart stops the hub's controllers and starts them again, with empty
// caches, as a new hub process would.
func (h *Hub) Restart() error {
	h.stop()
	return h.start()
}

// setLogger gives controller-runtime its logger before anything logs:
// errors only unless FLOTILLA_TEST_VERBOSE is set.
func setLogger() {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(zapLevel())))
}

// zapLevel keeps the hub's logs to errors unless FLOTILLA_TEST_VERBOSE is
// set.
func zapLevel() zapcore.Level {
	if os.Getenv("FLOTILLA_TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Flotilla runs the flotilla binary, built once per test process, against
// the hub as its admin, and returns its combined output.
func (e *Env) Flotilla(t testing.TB, args ...string) (string, error) {
	t.Helper()
	buildOnce.Do(func() {
		binary = filepath.Join(os.TempDir(), fmt.Sprintf("flotilla-test-%d", os.Getpid()))
		build := exec.Command("go", "build", "-o", binary, "./cmd/flotilla")
		build.Dir = e.RepoRoot
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build flotilla: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	cmd := exec.Command(binary, append([]string{"--kubeconfig", e.Fleet.Hub.AdminKubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// removeFlotilla removes the binary Flotilla built, if any.
func removeFlotilla() {
	if binary != "" {
		_ = os.Remove(binary)
	}
}
