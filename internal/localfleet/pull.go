package localfleet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/flotilla-io/flotilla/internal/agent/identity"
	"github.com/flotilla-io/flotilla/internal/registration"
)

// registerPull registers member s in Pull mode the way an edge site does:
// a bootstrap token, `flotilla register` (in-process: CA pinning, CSR,
// approval by the hub), and a `flotilla agent` process beside the member.
// A member already registered only gets its agent started again.
func (f *Fleet) registerPull(ctx context.Context, hubCfg *rest.Config, s MemberSpec) error {
	m := f.Members[s.Name]
	dir := filepath.Join(f.Home, "agents", s.Name)
	if _, err := os.Stat(filepath.Join(dir, identity.KubeconfigFile)); err != nil {
		f.opts.logf("registering %s in Pull mode", s.Name)
		cs, err := kubernetes.NewForConfig(hubCfg)
		if err != nil {
			return err
		}
		hashes, err := registration.PrepareHub(ctx, cs, hubCfg.Host, hubCfg.CAData)
		if err != nil {
			return fmt.Errorf("ready the hub for registrations: %w", err)
		}
		token, t, err := registration.CreateToken(ctx, cs, registration.TokenOptions{TTL: 10 * time.Minute,
			Description: "flotilla up: " + s.Name}, time.Now())
		if err != nil {
			return err
		}
		if err := registration.WaitSigned(ctx, cs, t.ID, time.Minute); err != nil {
			return fmt.Errorf("the hub did not sign kube-public/cluster-info for the token: %w", err)
		}
		if _, err := identity.Register(ctx, identity.RegisterOptions{
			HubURL: hubCfg.Host, Token: token, CACertHashes: hashes, Cluster: s.Name, Dir: dir,
			Labels: s.Labels, Region: s.Region, Zone: s.Zone, Provider: s.Provider,
			ClusterKubeconfig: m.Kubeconfig, Timeout: 2 * time.Minute,
		}); err != nil {
			return fmt.Errorf("register %s: %w", s.Name, err)
		}
		// One use: the token goes once the cluster has its certificate.
		if err := registration.RevokeToken(ctx, cs, t.ID); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	p := f.agentProcess(s.Name, dir)
	if p.running() {
		return nil
	}
	f.opts.logf("starting the agent of %s", s.Name)
	if _, err := p.start(); err != nil {
		return fmt.Errorf("start the agent of %s: %w; its log is %s", s.Name, err, p.logPath())
	}
	return nil
}

// agentProcess is the `flotilla agent` process of a Pull member.
func (f *Fleet) agentProcess(name, dir string) *process {
	return &process{name: "flotilla-agent", binary: f.opts.FlotillaBinary,
		args: []string{"agent", "--dir", dir}, dir: filepath.Join(f.Home, "agents", name, "run"), detach: f.opts.Detach}
}
