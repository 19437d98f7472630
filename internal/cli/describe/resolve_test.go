package describe

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
)

// TestResolveKindNotYet: kinds of capabilities Flotilla does not have yet
// get a troubleshooting answer, not "no resource type".
func TestResolveKindNotYet(t *testing.T) {
	mapper := meta.NewDefaultRESTMapper(nil)
	cases := map[string]string{
		"serviceexport":        "cross-cluster services are not available in Flotilla yet",
		"MultiClusterService":  "cross-cluster services are not available in Flotilla yet",
		"gitrepos":             "GitOps is not available in Flotilla yet",
		"frobnicators.example": `the hub serves no resource type "frobnicators.example"`,
	}
	for arg, want := range cases {
		_, err := ResolveKind(mapper, arg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ResolveKind(%q) = %v, want an error saying %q", arg, err, want)
		}
	}
}
