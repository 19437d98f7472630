package framework

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-io/flotilla/api"
	"github.com/flotilla-io/flotilla/internal/localfleet"
)

// Options describe the fleet of a suite.
type Options struct {
	// Members to start.
	Members []localfleet.MemberSpec
	// Join the members to the hub. Without it they only run.
	Join bool
}

// Env is a running fleet.
type Env struct {
	Fleet *localfleet.Fleet
	// Home is the fleet's state directory.
	Home string
	// RepoRoot is the repository's root directory.
	RepoRoot string
	Binaries localfleet.Binaries
	// HubConfig is an admin configuration for the hub.
	HubConfig *rest.Config
	// Hub is an admin client for the hub with Flotilla's scheme.
	Hub client.Client
}

// Setup runs after the fleet is up, before the tests; the function it
// returns runs after them.
type Setup func(*Env) (func(), error)

// Run starts the fleet, runs setups, runs the suite and tears everything
// down. It returns the exit code for os.Exit.
func Run(m *testing.M, o Options, env **Env, setups ...Setup) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	setLogger()
	if testing.Short() {
		// Unit tests only: the suite's tests skip themselves via Require.
		return m.Run()
	}
	e, err := start(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "framework: start fleet: %v\n", err)
		if e != nil {
			e.saveArtifacts()
			e.teardown()
		}
		return 1
	}
	*env = e
	stop := e.onSignal()
	defer stop()
	var undos []func()
	undoAll := func() {
		for i := len(undos) - 1; i >= 0; i-- {
			undos[i]()
		}
	}
	for _, s := range setups {
		undo, err := s(e)
		if err != nil {
			fmt.Fprintf(os.Stderr, "framework: setup: %v\n", err)
			undoAll()
			e.saveArtifacts()
			e.teardown()
			return 1
		}
		undos = append(undos, undo)
	}
	code := m.Run()
	undoAll()
	if code != 0 {
		e.saveArtifacts()
	}
	e.teardown()
	return code
}

// Require skips a test in -short mode, where no fleet was started.
func Require(t testing.TB, env *Env) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a fleet; not started with -short")
	}
	if env == nil {
		t.Fatal("no fleet: framework.Run did not start one")
	}
}

func testRoot() string { return filepath.Join(os.TempDir(), "flotilla-test") }

func start(o Options) (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	sweep()
	if err := os.MkdirAll(testRoot(), 0o700); err != nil {
		return nil, err
	}
	home, err := os.MkdirTemp(testRoot(), "fleet-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(home, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return nil, err
	}
	bins, err := localfleet.FindBinaries(root)
	if err != nil {
		return nil, err
	}
	e := &Env{Home: home, RepoRoot: root, Binaries: bins}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	f, err := localfleet.Up(ctx, localfleet.FleetOptions{
		Home: home, Binaries: bins, Members: o.Members, UnsafeFastEtcd: true, SkipJoin: !o.Join,
		Progress: logWriter{},
	})
	e.Fleet = f
	if err != nil {
		return e, err
	}
	fmt.Fprintf(os.Stderr, "framework: fleet with %d members up in %.1fs in %s\n", len(o.Members), time.Since(start).Seconds(), home)
	if e.HubConfig, err = f.Hub.RESTConfig(); err != nil {
		return e, err
	}
	if e.Hub, err = client.New(e.HubConfig, client.Options{Scheme: api.Scheme}); err != nil {
		return e, err
	}
	return e, nil
}

type logWriter struct{}

func (logWriter) Write(p []byte) (int, error) {
	fmt.Fprintf(os.Stderr, "framework: %s", p)
	return len(p), nil
}

var teardownOnce sync.Once

func (e *Env) teardown() {
	teardownOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := localfleet.Down(ctx, e.Home, e.Binaries, nil); err != nil {
			fmt.Fprintf(os.Stderr, "framework: teardown: %v\n", err)
		}
		// Down removes the marker-checked home; the owner file may remain
		// if the fleet never started.
		_ = os.RemoveAll(e.Home)
		removeFlotilla()
	})
}

func (e *Env) onSignal() func() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			fmt.Fprintf(os.Stderr, "framework: %s: tearing the fleet down\n", s)
			e.saveArtifacts()
			e.teardown()
			os.Exit(1)
		case <-done:
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// saveArtifacts copies every component log to the artifacts directory.
func (e *Env) saveArtifacts() {
	if e.Fleet == nil {
		return
	}
	dir := os.Getenv("ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(e.RepoRoot, "_artifacts")
	}
	pkg, _ := os.Getwd()
	dir = filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(pkg, e.RepoRoot+"/"), "/", "_")+"-"+time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	for _, f := range e.Fleet.LogFiles() {
		rel, err := filepath.Rel(e.Home, f)
		if err != nil {
			rel = filepath.Base(f)
		}
		dst := filepath.Join(dir, strings.ReplaceAll(rel, "/", "_"))
		if b, err := os.ReadFile(f); err == nil {
			_ = os.WriteFile(dst, b, 0o644)
		}
	}
	fmt.Fprintf(os.Stderr, "framework: component logs saved in %s\n", dir)
}

// sweep removes fleets left by suites that died without tearing down.
func sweep() {
	entries, err := os.ReadDir(testRoot())
	if err != nil {
		return
	}
	for _, en := range entries {
		dir := filepath.Join(testRoot(), en.Name())
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if pid > 0 && syscall.Kill(pid, 0) == nil {
			continue // its suite still runs
		}
		if n := localfleet.KillReferencing(dir, 5*time.Second); n > 0 {
			fmt.Fprintf(os.Stderr, "framework: swept %d processes of a dead suite in %s\n", n, dir)
		}
		_ = os.RemoveAll(dir)
	}
}

// RepoRoot finds the repository root from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/flotilla-io/flotilla\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod of github.com/flotilla-io/flotilla) not found")
		}
		dir = parent
	}
}

// Member returns a running member by name.
func (e *Env) Member(name string) *localfleet.Member {
	m, ok := e.Fleet.Members[name]
	if !ok {
		panic("no member " + name)
	}
	return m
}

// MemberClient returns an admin clientset for a member.
func (e *Env) MemberClient(t testing.TB, name string) kubernetes.Interface {
	t.Helper()
	cfg, err := e.Member(name).RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Eventually polls cond every interval until it returns nil or timeout
// passes, then fails the test with cond's last error.
func Eventually(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if last = cond(); last == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// NewHome makes a fleet home directory owned by this process, for suites
// that drive `flotilla up` themselves. The sweep removes it if this process
// dies without cleaning up.
func NewHome() (string, error) {
	sweep()
	if err := os.MkdirAll(testRoot(), 0o700); err != nil {
		return "", err
	}
	home, err := os.MkdirTemp(testRoot(), "home-")
	if err != nil {
		return "", err
	}
	return home, os.WriteFile(filepath.Join(home, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600)
}
