// Package clientconfig resolves which hub a flotilla command talks to:
// --kubeconfig, else $KUBECONFIG, else $FLOTILLA_HOME/kubeconfig/hub.yaml
// (FLOTILLA_HOME defaults to ~/.flotilla), with --context choosing a context.
package clientconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-io/flotilla/api"
)

// Options are the global connection flags.
type Options struct {
	Kubeconfig string
	Context    string
}

// AddFlags registers --kubeconfig and --context.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of the hub (default: $KUBECONFIG, else $FLOTILLA_HOME/kubeconfig/hub.yaml)")
	fs.StringVar(&o.Context, "context", "", "kubeconfig context of the hub")
}

// Home returns $FLOTILLA_HOME, defaulting to ~/.flotilla.
func Home() string {
	if h := os.Getenv("FLOTILLA_HOME"); h != "" {
		return h
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".flotilla"
	}
	return filepath.Join(home, ".flotilla")
}

// Path returns the kubeconfig path in force and where it came from.
func (o *Options) Path() (path, source string) {
	switch {
	case o.Kubeconfig != "":
		return o.Kubeconfig, "--kubeconfig"
	case os.Getenv("KUBECONFIG") != "":
		return os.Getenv("KUBECONFIG"), "$KUBECONFIG"
	default:
		return filepath.Join(Home(), "kubeconfig", "hub.yaml"), "$FLOTILLA_HOME"
	}
}

// RESTConfig builds the client configuration of the hub.
func (o *Options) RESTConfig() (*rest.Config, error) {
	path, source := o.Path()
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
	if source == "$KUBECONFIG" {
		rules = &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(path)}
	}
	if source == "$FLOTILLA_HOME" {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no hub kubeconfig at %s: start a local fleet with `flotilla up`, or point --kubeconfig at a hub", path)
		}
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.Context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load hub kubeconfig %s (from %s): %w", path, source, err)
	}
	cfg.UserAgent = "flotilla-cli"
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// Client returns a controller-runtime client for the hub.
func (o *Options) Client() (client.Client, *rest.Config, error) {
	cfg, err := o.RESTConfig()
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: api.Scheme})
	if err != nil {
		return nil, nil, fmt.Errorf("connect to the hub at %s: %w", cfg.Host, err)
	}
	return c, cfg, nil
}
