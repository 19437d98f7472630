// Package doctor implements `flotilla doctor`: the operator checklist
// (internal/doctor) run against the live fleet, printed as text or JSON.
// It exits 1 when a check fails.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-io/flotilla/api"
	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/cli/output"
	"github.com/flotilla-io/flotilla/internal/doctor"
	"github.com/flotilla-io/flotilla/internal/localfleet"
)

// Options are doctor's flags.
type Options struct {
	Output     string
	MetricsURL string
	Timeout    time.Duration
}

// NewCommand returns `flotilla doctor`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	o := Options{Timeout: 30 * time.Second}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the fleet against the operator checklist",
		Long: `Check the live fleet against the operator checklist, grouped as
Federation, Applications, Edge, Security and Monitoring: the hub and its
controllers, every member's readiness, probes and credentials, policies that
claim nothing, bindings that are not scheduled or applied, workloads no
policy claims, failover, TLS on every link and the hub's metrics.

Each check passes, warns, fails or is skipped with the reason (what Flotilla
cannot observe, or does not do yet, is skipped, never passed). A warning or
a failure says what to run or do. doctor exits 1 when a check fails.

The hub's metrics are read from --metrics-url; without it, from the local
fleet's hub when the kubeconfig is the local fleet's, else from
` + doctor.DefaultMetricsURL + ` (flotilla hub's default).`,
		Example: `  flotilla doctor
  flotilla doctor -o json
  flotilla doctor --metrics-url http://hub.example.com:8080/metrics --timeout 1m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Output != "" && o.Output != "text" && o.Output != output.JSON {
				return fmt.Errorf("unknown output format %q: doctor prints text or json", o.Output)
			}
			if o.Timeout <= 0 {
				return fmt.Errorf("--timeout must be positive")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), o.Timeout)
			defer cancel()
			env := NewEnv(conn, o)
			rep := doctor.Run(ctx, env, doctor.DefaultChecks)
			w := cmd.OutOrStdout()
			var err error
			if o.Output == output.JSON {
				err = PrintJSON(w, rep)
			} else {
				err = PrintText(w, rep, colorful(w))
			}
			if err != nil {
				return err
			}
			if rep.Failed() {
				return fmt.Errorf("%d of %d checks failed", rep.Summary.Failed, len(rep.Checks))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	f.StringVar(&o.MetricsURL, "metrics-url", "", "the hub's Prometheus metrics endpoint (default: the local fleet's hub, else "+doctor.DefaultMetricsURL+")")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "time allowed for all checks")
	return cmd
}

// NewEnv connects to the hub the connection flags name. A hub that cannot
// be reached is no error here: the first check reports it.
func NewEnv(conn *clientconfig.Options, o Options) *doctor.Env {
	path, source := conn.Path()
	env := &doctor.Env{
		Now:     time.Now(),
		Metrics: metricsEndpoint(o.MetricsURL, path),
		Conn:    doctor.Connection{Kubeconfig: fmt.Sprintf("%s (from %s)", path, source)},
	}
	cfg, err := conn.RESTConfig()
	if err != nil {
		env.Conn.Err = err
		return env
	}
	// Bound each request too, so that one slow answer leaves time for the
	// other checks.
	cfg.Timeout = min(o.Timeout, 10*time.Second)
	env.Conn = doctor.NewConnection(cfg, env.Conn.Kubeconfig)
	if env.Client, err = client.New(cfg, client.Options{Scheme: api.Scheme}); err != nil {
		env.Conn.Err = fmt.Errorf("connect to the hub at %s: %w", cfg.Host, err)
		return env
	}
	if env.Hub, err = doctor.NewLiveHub(cfg); err != nil {
		env.Conn.Err = fmt.Errorf("connect to the hub at %s: %w", cfg.Host, err)
	}
	return env
}

// metricsEndpoint decides where to read the hub's metrics: --metrics-url,
// else the local fleet's hub when the kubeconfig is the local fleet's, else
// flotilla hub's default address.
func metricsEndpoint(flag, kubeconfig string) doctor.MetricsEndpoint {
	m := doctor.MetricsEndpoint{Get: doctor.HTTPGet}
	switch {
	case flag != "":
		m.URL, m.Explicit, m.Source = flag, true, "from --metrics-url"
	default:
		if port := localFleetMetricsPort(kubeconfig); port > 0 {
			m.URL, m.Source = fmt.Sprintf("http://127.0.0.1:%d/metrics", port), "the local fleet's flotilla hub"
		} else {
			m.URL, m.Source = doctor.DefaultMetricsURL, "flotilla hub's default; set --metrics-url"
		}
	}
	return m
}

// localFleetMetricsPort returns the metrics port of the hub controllers
// `flotilla up` started, when kubeconfig is that fleet's hub kubeconfig.
// `flotilla up` records the port in hub/controller-ports.json of its home.
func localFleetMetricsPort(kubeconfig string) int {
	home := clientconfig.Home()
	if filepath.Clean(kubeconfig) != filepath.Clean(localfleet.HubKubeconfig(home)) {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(home, "hub", "controller-ports.json"))
	if err != nil {
		return 0
	}
	var ports map[string]int
	if json.Unmarshal(b, &ports) != nil {
		return 0
	}
	return ports["metrics"]
}

// colorful reports whether w is a terminal that takes colour.
func colorful(w any) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
