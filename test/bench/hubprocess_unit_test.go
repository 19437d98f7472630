package bench

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	in := `# HELP workqueue_depth Current depth of workqueue
# TYPE workqueue_depth gauge
workqueue_depth{controller="execution",name="execution"} 3
workqueue_depth{controller="detector",name="detector"} 0
flotilla_member_writes_total{cluster="a",operation="apply",result="success"} 10
flotilla_member_writes_total{cluster="b",operation="apply",result="success"} 12
flotilla_member_writes_total{cluster="b",operation="create",result="success"} 1
flotilla_bindings_created_total 7
odd{msg="a \"quoted\", value}"} 1.5e+00
`
	m, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]struct{ got, want float64 }{
		"execution depth": {m.sum("workqueue_depth", "name", "execution"), 3},
		"all writes":      {m.sum("flotilla_member_writes_total"), 23},
		"applies":         {m.sum("flotilla_member_writes_total", "operation", "apply"), 22},
		"unlabelled":      {m.sum("flotilla_bindings_created_total"), 7},
		"quoted label":    {m.sum("odd", "msg", `a "quoted", value}`), 1.5},
	}
	for name, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", name, c.got, c.want)
		}
	}
	if m.has("workqueue_depth", "name", "scheduler") {
		t.Error("found a series that is not there")
	}
	if got := m.byLabel("flotilla_member_writes_total", "cluster"); got["a"] != 10 || got["b"] != 13 {
		t.Errorf("by cluster: %v", got)
	}
}
