// Package register implements `flotilla register`: register the local
// cluster with a hub in pull mode, and optionally start its agent.
package register

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flotilla-io/flotilla/internal/agent/identity"
	agentcmd "github.com/flotilla-io/flotilla/internal/cli/agent"
	"github.com/flotilla-io/flotilla/internal/registration"
)

// TokenEnv holds the bootstrap token when --token is not given, which
// keeps it out of the process list and the shell history.
const TokenEnv = "FLOTILLA_TOKEN"

// NewCommand returns `flotilla register`.
func NewCommand() *cobra.Command {
	var (
		o      identity.RegisterOptions
		labels []string
		start  bool
		agent  agentcmd.Options
	)
	cmd := &cobra.Command{
		Use:   "register --hub URL --token TOKEN --ca-cert-hash sha256:HASH --name NAME",
		Short: "Register this cluster with a hub in Pull mode (on the cluster's side)",
		Long: `Register the local cluster with a hub in Pull mode: its agent, not the hub,
applies the cluster's work, and only the agent opens connections (to the hub).
` + "`flotilla token create`" + ` on the hub prints this command.

Register trusts the hub only once it is proven, as kubeadm does: the hub's
kube-public/cluster-info must be signed with the token, and the CA in it must
hash to --ca-cert-hash; otherwise it stops before it asks for anything.
It then asks the hub for a client certificate for
system:flotilla:agent:NAME with a certificate signing request, and waits for
the hub to approve it (a token made with --require-accept also waits for
` + "`flotilla accept NAME`" + ` on the hub). The hub creates the Pull cluster and the
agent's rights: its own namespace, Lease and Cluster status, nothing else.

The key, the certificate and a kubeconfig go to --dir. Start the agent with
` + "`flotilla agent --dir DIR`" + `, or pass --start to run it right away.
Run again after an interruption, register resumes the same request.`,
		Example: `  FLOTILLA_TOKEN=abcdef.0123456789abcdef flotilla register --hub https://hub.example.com:6443 \
      --ca-cert-hash sha256:8d3c... --name edge-7 --cluster-kubeconfig /etc/rancher/k3s/k3s.yaml \
      --label site=shop-7 --region eu-west --start`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Token == "" {
				o.Token = os.Getenv(TokenEnv)
			}
			switch {
			case o.HubURL == "":
				return fmt.Errorf("--hub is required: the hub's https URL")
			case o.Token == "":
				return fmt.Errorf("--token (or $%s) is required: a bootstrap token from `flotilla token create`", TokenEnv)
			case len(o.CACertHashes) == 0:
				return fmt.Errorf("--ca-cert-hash is required: the hub's CA hash that `flotilla token create` prints")
			case o.Cluster == "":
				return fmt.Errorf("--name is required: the cluster's name in the fleet")
			}
			o.Labels = map[string]string{}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok {
					return fmt.Errorf("invalid --label %q: use key=value", l)
				}
				o.Labels[k] = v
			}
			if o.ClusterKubeconfig != "" {
				if _, err := agentcmd.LocalConfig(o.ClusterKubeconfig, o.ClusterContext); err != nil {
					return err
				}
			}
			o.Progress = cmd.ErrOrStderr()
			reg, err := identity.Register(cmd.Context(), o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster.cluster.flotilla.io/%s registered\n", reg.Cluster)
			if !start {
				fmt.Fprintf(cmd.ErrOrStderr(), "start its agent with: flotilla agent --dir %s\n", reg.Dir)
				return nil
			}
			agent.Dir = o.Dir
			return agentcmd.Run(cmd.Context(), agent)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.HubURL, "hub", "", "the hub's https URL (required)")
	f.StringVar(&o.Token, "token", "", "bootstrap token ID.SECRET that flotilla token create printed (required; or $"+TokenEnv+")")
	f.StringArrayVar(&o.CACertHashes, "ca-cert-hash", nil, "sha256:HASH of the hub CA's public key (required; repeatable)")
	f.StringVar(&o.Cluster, "name", "", "the cluster's name in the fleet (required)")
	f.BoolVar(&o.TokenBeforeProof, "token-before-proof", false, "where the hub refuses anonymous reads of kube-public/cluster-info, send the token to read it before the hub is proven (a man in the middle could capture the token)")
	f.StringVar(&o.Dir, "dir", identity.DefaultDir(), "the agent's directory: key, certificate, kubeconfig")
	f.StringVar(&o.ClusterKubeconfig, "cluster-kubeconfig", "", "kubeconfig of the local cluster, for the agent (default: in-cluster credentials)")
	f.StringVar(&o.ClusterContext, "cluster-context", "", "context in --cluster-kubeconfig (default: its current context)")
	f.StringArrayVar(&labels, "label", nil, "label for the Cluster, key=value (repeatable)")
	f.StringVar(&o.Region, "region", "", "region the cluster runs in")
	f.StringVar(&o.Zone, "zone", "", "zone the cluster runs in")
	f.StringVar(&o.Provider, "provider", "", "cloud or platform the cluster runs on")
	f.DurationVar(&o.CertLifetime, "cert-lifetime", registration.DefaultCertLifetime, "lifetime of the agent's certificates (10m to 168h); the agent renews them at about 70%")
	f.DurationVar(&o.Timeout, "timeout", 15*time.Minute, "how long to wait for the hub to approve")
	f.BoolVar(&start, "start", false, "run the agent in the foreground once registered")
	agent.AddRunFlags(f)
	_ = cmd.MarkFlagFilename("cluster-kubeconfig")
	return cmd
}
