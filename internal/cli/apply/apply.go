// Package apply implements `flotilla apply -f`: server-side apply of
// templates and policies to the hub, accepting Karmada's policies unchanged.
package apply

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-io/flotilla/internal/cli/clientconfig"
	"github.com/flotilla-io/flotilla/internal/compat"
)

// FieldManager is the server-side apply field manager of `flotilla apply`.
const FieldManager = "flotilla-apply"

// NewCommand returns `flotilla apply`.
func NewCommand(conn *clientconfig.Options) *cobra.Command {
	var (
		files     []string
		namespace string
		dryRun    bool
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Apply templates and policies to the hub (accepts Karmada policies unchanged)",
		Long: `Apply YAML or JSON documents to the hub by server-side apply.

policy.karmada.io/v1alpha1 PropagationPolicy and ClusterPropagationPolicy
documents are translated to policy.flotilla.io/v1alpha1, which has the same
fields. Unknown fields are errors, never silently dropped. Every document is
checked by the hub (server-side dry run) before any is applied.`,
		Example: `  flotilla apply -f myapp.yaml
  flotilla apply -f karmada-propagation-policies.yaml -n web
  cat policy.yaml | flotilla apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return errors.New("name the documents with -f FILE (or -f - for standard input)")
			}
			var docs []*unstructured.Unstructured
			for _, f := range files {
				more, err := read(f, cmd.InOrStdin())
				if err != nil {
					return err
				}
				docs = append(docs, more...)
			}
			if len(docs) == 0 {
				return errors.New("no documents found")
			}
			c, cfg, err := conn.Client()
			if err != nil {
				return err
			}
			dc, err := discovery.NewDiscoveryClientForConfig(cfg)
			if err != nil {
				return err
			}
			mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
			return Apply(cmd, c, mapper, docs, namespace, dryRun)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file, directory of .yaml/.yml/.json files, or - for standard input (repeatable)")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "default", "namespace for namespaced documents that name none")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check every document on the hub without changing anything")
	return cmd
}

// Apply validates every document on the hub, then applies them in order.
func Apply(cmd *cobra.Command, c client.Client, mapper meta.RESTMapper, docs []*unstructured.Unstructured, namespace string, dryRun bool) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	var notes []string
	for i, d := range docs {
		nd, translated := compat.Translate(d)
		if translated {
			notes = append(notes, fmt.Sprintf("%s %s: translated from %s to %s", d.GetKind(), d.GetName(), d.GetAPIVersion(), nd.GetAPIVersion()))
		}
		gvk := nd.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("document %d (%s %s): the hub does not serve %s: %w", i+1, gvk.Kind, nd.GetName(), gvk.GroupVersion(), err)
		}
		if m.Scope.Name() == meta.RESTScopeNameNamespace && nd.GetNamespace() == "" {
			nd.SetNamespace(namespace)
		}
		if m.Scope.Name() == meta.RESTScopeNameRoot {
			nd.SetNamespace("")
		}
		docs[i] = nd
	}
	// Check everything first, so that a bad document leaves nothing half
	// applied.
	var problems []string
	for _, d := range docs {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(d.DeepCopy()), client.FieldOwner(FieldManager), client.ForceOwnership, client.DryRunAll); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", describe(d), err))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the hub rejected %d of %d documents; nothing was applied:\n  %s", len(problems), len(docs), strings.Join(problems, "\n  "))
	}
	for _, n := range notes {
		fmt.Fprintln(cmd.ErrOrStderr(), n)
	}
	suffix := ""
	if dryRun {
		suffix = " (dry run)"
	}
	for _, d := range docs {
		if !dryRun {
			if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(d), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
				return fmt.Errorf("%s: %w", describe(d), err)
			}
		}
		fmt.Fprintf(out, "%s applied%s\n", describe(d), suffix)
	}
	return nil
}

func describe(d *unstructured.Unstructured) string {
	gk := d.GroupVersionKind().GroupKind()
	s := strings.ToLower(gk.Kind)
	if gk.Group != "" {
		s += "." + gk.Group
	}
	s += "/" + d.GetName()
	if d.GetNamespace() != "" {
		s = d.GetNamespace() + "/" + s
	}
	return s
}

// read decodes every document of a file, a directory or standard input.
func read(path string, stdin io.Reader) ([]*unstructured.Unstructured, error) {
	if path == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, err
		}
		return Decode(b, "standard input")
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return Decode(b, path)
	}
	var files []string
	for _, ext := range []string{"*.yaml", "*.yml", "*.json"} {
		m, _ := filepath.Glob(filepath.Join(path, ext))
		files = append(files, m...)
	}
	sort.Strings(files)
	var out []*unstructured.Unstructured
	for _, f := range files {
		more, err := read(f, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// Decode splits YAML or JSON into documents, skipping empty ones.
func Decode(b []byte, source string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for i := 1; ; i++ {
		obj := map[string]any{}
		if err := d.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("%s, document %d: malformed YAML or JSON: %w", source, i, err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetAPIVersion() == "" || u.GetKind() == "" {
			return nil, fmt.Errorf("%s, document %d: apiVersion and kind are required", source, i)
		}
		if u.GetName() == "" {
			return nil, fmt.Errorf("%s, document %d (%s): metadata.name is required", source, i, u.GetKind())
		}
		out = append(out, u)
	}
}
