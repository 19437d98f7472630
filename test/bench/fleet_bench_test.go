package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/hub"
	"github.com/flotilla-io/flotilla/internal/hub/clusterhealth"
	"github.com/flotilla-io/flotilla/internal/localfleet"
	"github.com/flotilla-io/flotilla/test/framework"
)

// BenchmarkLocalFleet brings up the local fleet of `flotilla up` (hub and
// the seed's three members, joined) with the binaries already built, then
// measures how fast the hub notices a member's kube-apiserver dying and
// coming back with the default probe settings, and what the fleet's
// processes weigh.
func BenchmarkLocalFleet(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runLocalFleet(b)
	}
}

func runLocalFleet(b *testing.B) {
	_, bins, home := benchPrereqs(b)
	defer func() { _ = localfleet.Down(context.Background(), home, bins, nil); _ = os.RemoveAll(home) }()
	ctx := context.Background()

	start := time.Now()
	f, err := localfleet.Up(ctx, localfleet.FleetOptions{Home: home, Binaries: bins, Members: localfleet.DefaultMembers()})
	if err != nil {
		b.Fatal(err)
	}
	up := time.Since(start)

	opts := clusterhealth.DefaultOptions()
	cfg, err := clientcmd.BuildConfigFromFlags("", f.Hub.ControllerKubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	mgr, err := hub.New(cfg, hub.Options{MetricsAddr: "0", HealthAddr: "0", Health: opts})
	if err != nil {
		b.Fatal(err)
	}
	ctrl.SetLogger(logr.Discard())
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = mgr.Start(mctx) }()
	admin, err := f.Hub.RESTConfig()
	if err != nil {
		b.Fatal(err)
	}
	c, err := client.New(admin, client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		b.Fatal(err)
	}
	waitReady := func(name string, want metav1.ConditionStatus) time.Duration {
		t0 := time.Now()
		for time.Since(t0) < 5*time.Minute {
			var cl clusterv1alpha1.Cluster
			if err := c.Get(ctx, client.ObjectKey{Name: name}, &cl); err == nil &&
				meta.IsStatusConditionPresentAndEqual(cl.Status.Conditions, clusterv1alpha1.ConditionReady, want) {
				return time.Since(t0)
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.Fatalf("cluster %s never Ready=%s", name, want)
		return 0
	}
	for _, m := range localfleet.DefaultMembers() {
		waitReady(m.Name, metav1.ConditionTrue)
	}
	upToReady := time.Since(start)

	m := f.Members["member-cluster-2"]
	if err := m.StopAPIServer(); err != nil {
		b.Fatal(err)
	}
	detect := waitReady("member-cluster-2", metav1.ConditionFalse)
	if err := m.Restart(ctx); err != nil {
		b.Fatal(err)
	}
	recoverT := waitReady("member-cluster-2", metav1.ConditionTrue)

	hubRSS := rssOf(filepath.Join(home, "hub", "run"), "kube-apiserver", "etcd", "kube-controller-manager")
	memberRSS := rssOf(filepath.Join(home, "members", "clusters", "member-cluster-1", "pids"),
		"kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kwok-controller")

	b.ReportMetric(up.Seconds(), "up_s")
	b.ReportMetric(upToReady.Seconds(), "up_to_ready_s")
	b.ReportMetric(detect.Seconds(), "notready_detect_s")
	b.ReportMetric(recoverT.Seconds(), "ready_again_s")
	b.ReportMetric(float64(hubRSS)/(1<<20), "hub_k8s_rss_MiB")
	b.ReportMetric(float64(memberRSS)/(1<<20), "member_rss_MiB")
	fmt.Printf("local fleet: up %.1fs, all Ready %.1fs; member apiserver killed -> Ready=False in %.1fs (probe %s x %d); restarted -> Ready=True in %.1fs; hub k8s RSS %d MiB; one member %d MiB\n",
		up.Seconds(), upToReady.Seconds(), detect.Seconds(), opts.ProbeInterval, opts.FailureThreshold, recoverT.Seconds(), hubRSS>>20, memberRSS>>20)
}

// rssOf sums the resident memory of the processes named by pid files.
func rssOf(dir string, names ...string) int64 {
	var total int64
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n+".pid"))
		if err != nil {
			continue
		}
		status, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}

// benchPrereqs returns what every benchmark's fleet needs: the
// repository's root, the component binaries and a fresh home directory.
func benchPrereqs(b *testing.B) (root string, bins localfleet.Binaries, home string) {
	b.Helper()
	root, err := framework.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	if bins, err = localfleet.FindBinaries(root); err != nil {
		b.Fatal(err)
	}
	if home, err = framework.NewHome(); err != nil {
		b.Fatal(err)
	}
	return root, bins, home
}
