package get

import (
	"path/filepath"

	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
)

// NamespaceOptions hold -n/--namespace and, for commands that list,
// -A/--all-namespaces, with kubectl's meaning.
type NamespaceOptions struct {
	Namespace     string
	AllNamespaces bool
}

// AddFlags registers -n, and -A when the command lists.
func (o *NamespaceOptions) AddFlags(fs *pflag.FlagSet, lists bool) {
	fs.StringVarP(&o.Namespace, "namespace", "n", "", "namespace of namespaced objects (default: the kubeconfig context's namespace, else default)")
	if lists {
		fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list the objects of every namespace")
	}
}

// Resolve returns the namespace a command works in: -n, else the namespace
// of the kubeconfig context in force, else "default".
func (o *NamespaceOptions) Resolve(conn *clientconfig.Options) (string, error) {
	if o.Namespace != "" {
		return o.Namespace, nil
	}
	path, source := conn.Path()
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: path}
	if source == "$KUBECONFIG" {
		rules = &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(path)}
	}
	ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: conn.Context}).Namespace()
	if err != nil && !clientcmd.IsEmptyConfig(err) {
		return "", err
	}
	if ns == "" {
		ns = "default"
	}
	return ns, nil
}
