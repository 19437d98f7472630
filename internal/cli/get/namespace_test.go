package get

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
)

func TestNamespaceResolve(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "hub.yaml")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- name: hub
  cluster: {server: "https://127.0.0.1:6443"}
users:
- name: admin
  user: {token: t}
contexts:
- name: hub
  context: {cluster: hub, user: admin}
- name: web
  context: {cluster: hub, user: admin, namespace: web}
current-context: hub
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", "")
	for name, tc := range map[string]struct {
		flag, context, want string
	}{
		"no namespace in the context": {want: "default"},
		"the context's namespace":     {context: "web", want: "web"},
		"-n wins":                     {flag: "shop", context: "web", want: "shop"},
	} {
		t.Run(name, func(t *testing.T) {
			o := NamespaceOptions{Namespace: tc.flag}
			got, err := o.Resolve(&clientconfig.Options{Kubeconfig: kubeconfig, Context: tc.context})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
