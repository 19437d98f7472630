// Package output prints API objects the way kubectl users expect: a table
// (and a wide table), JSON or YAML of a v1 List, or kind/name lines.
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"
)

// Formats accepted by -o.
const (
	Table = ""
	Wide  = "wide"
	JSON  = "json"
	YAML  = "yaml"
	Name  = "name"
)

// Options hold -o.
type Options struct{ Format string }

// AddFlags registers -o/--output.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Format, "output", "o", "", "output format: wide, json, yaml or name (default: a table)")
}

// Validate rejects unknown formats.
func (o *Options) Validate() error {
	switch o.Format {
	case Table, Wide, JSON, YAML, Name:
		return nil
	}
	return fmt.Errorf("unknown output format %q: use wide, json, yaml or name", o.Format)
}

// Column is one column of a table.
type Column struct {
	Header string
	// Wide columns show only with -o wide.
	Wide bool
}

// Row is the cells of one object.
type Row []string

// PrintTable writes a kubectl-style table.
func PrintTable(w io.Writer, wide bool, cols []Column, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	var hdr []string
	for _, c := range cols {
		if !c.Wide || wide {
			hdr = append(hdr, c.Header)
		}
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t"))
	for _, r := range rows {
		var cells []string
		for i, c := range cols {
			if !c.Wide || wide {
				cells = append(cells, r[i])
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// PrintList writes objects as a v1 List in JSON or YAML. Each object must
// carry its apiVersion and kind.
func PrintList(w io.Writer, format string, objs []runtime.Object) error {
	items := make([]any, 0, len(objs))
	for _, o := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			return err
		}
		items = append(items, m)
	}
	list := map[string]any{
		"apiVersion": "v1",
		"kind":       "List",
		"metadata":   map[string]any{"resourceVersion": ""},
		"items":      items,
	}
	return PrintValue(w, format, list)
}

// PrintObject writes one object as JSON or YAML.
func PrintObject(w io.Writer, format string, o runtime.Object) error {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return err
	}
	return PrintValue(w, format, (&unstructured.Unstructured{Object: m}).Object)
}

// PrintValue writes v as indented JSON or as YAML.
func PrintValue(w io.Writer, format string, v any) error {
	if format == YAML {
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// Age formats the time since t the way kubectl does ("40s", "3d2h").
func Age(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}

// OrNone returns s, or "<none>" when empty.
func OrNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
