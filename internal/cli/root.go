// Package cli assembles the flotilla command line: the daemons (hub) and the
// user verbs, one package each below this one.
package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flotilla-io/flotilla/internal/cli/accept"
	agentcmd "github.com/flotilla-io/flotilla/internal/cli/agent"
	applycmd "github.com/flotilla-io/flotilla/internal/cli/apply"
	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/cli/cordon"
	"github.com/flotilla-io/flotilla/internal/cli/describe"
	doctorcmd "github.com/flotilla-io/flotilla/internal/cli/doctor"
	"github.com/flotilla-io/flotilla/internal/cli/down"
	"github.com/flotilla-io/flotilla/internal/cli/get"
	hubcmd "github.com/flotilla-io/flotilla/internal/cli/hub"
	installcmd "github.com/flotilla-io/flotilla/internal/cli/install"
	"github.com/flotilla-io/flotilla/internal/cli/join"
	"github.com/flotilla-io/flotilla/internal/cli/promote"
	"github.com/flotilla-io/flotilla/internal/cli/rebalance"
	"github.com/flotilla-io/flotilla/internal/cli/register"
	"github.com/flotilla-io/flotilla/internal/cli/token"
	"github.com/flotilla-io/flotilla/internal/cli/top"
	"github.com/flotilla-io/flotilla/internal/cli/unjoin"
	"github.com/flotilla-io/flotilla/internal/cli/up"
	"github.com/flotilla-io/flotilla/internal/cli/version"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2
)

// NewRootCommand returns the flotilla command tree.
func NewRootCommand() *cobra.Command {
	conn := &clientconfig.Options{}
	use := "flotilla"
	// Installed as kubectl-flotilla, it runs as the kubectl plugin.
	if strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl-") {
		use = "kubectl flotilla"
	}
	root := &cobra.Command{
		Use:   use,
		Short: "Run many Kubernetes clusters as one fleet",
		Long: `Flotilla runs many Kubernetes clusters as one fleet from one control plane.

Start a local fleet with ` + "`flotilla up`" + `, then list it with ` + "`flotilla get clusters`" + `.
Commands talk to the hub in --kubeconfig, else $KUBECONFIG, else
$FLOTILLA_HOME/kubeconfig/hub.yaml (FLOTILLA_HOME defaults to ~/.flotilla).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	conn.AddFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v (see '%s --help')", ErrUsage, err, c.CommandPath())
	})
	root.AddGroup(&cobra.Group{ID: "fleet", Title: "Fleet commands:"},
		&cobra.Group{ID: "local", Title: "Local fleet:"},
		&cobra.Group{ID: "daemons", Title: "Daemons and setup:"})
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("fleet", applycmd.NewCommand(conn), get.NewCommand(conn), describe.NewCommand(conn), join.NewCommand(conn), unjoin.NewCommand(conn),
		cordon.NewCommand(conn), cordon.NewUncordonCommand(conn), cordon.NewTaintCommand(conn), rebalance.NewCommand(conn), doctorcmd.NewCommand(conn))
	add("fleet", top.NewCommand(conn), promote.NewCommand(conn))
	add("fleet", token.NewCommand(conn), accept.NewCommand(conn), register.NewCommand())
	add("local", up.NewCommand(), down.NewCommand())
	add("daemons", hubcmd.NewCommand(conn), agentcmd.NewCommand(), installcmd.NewCommand(conn))
	root.AddCommand(version.NewCommand())
	return root
}

// ErrUsage marks command-line mistakes; flotilla exits with ExitUsage.
var ErrUsage = errors.New("usage error")
