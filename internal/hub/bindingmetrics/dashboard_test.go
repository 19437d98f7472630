package bindingmetrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The Grafana dashboard and the metrics documentation live at the
// repository root; this test keeps them in step.
var (
	dashboardPath = filepath.Join("..", "..", "..", "deploy", "grafana", "flotilla-dashboard.json")
	metricsDoc    = filepath.Join("..", "..", "..", "docs", "metrics.md")
)

type dashboard struct {
	SchemaVersion int     `json:"schemaVersion"`
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasource              `json:"datasource"`
	Targets    []panelTarget            `json:"targets"`
	Panels     []panel                  `json:"panels"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
}

type panelTarget struct {
	Expr       string      `json:"expr"`
	RefID      string      `json:"refId"`
	Datasource *datasource `json:"datasource"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardPath, err)
	}
	return d
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

var (
	labelMatchers = regexp.MustCompile(`\{[^}]*\}`)
	ranges        = regexp.MustCompile(`\[[^\]]*\]`)
	grouping      = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	numbers       = regexp.MustCompile(`(^|[^a-zA-Z0-9_:])[0-9][0-9a-zA-Z_.]*`) // 0.99, 1h, 1e3
	identifier    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlWords   = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
		"group_right": true, "bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true}
)

// metricNames returns the metric names a PromQL expression reads: the
// identifiers that are not functions, aggregations, keywords, label names
// or label values.
func metricNames(expr string) []string {
	e := labelMatchers.ReplaceAllString(expr, " ")
	e = ranges.ReplaceAllString(e, " ")
	e = grouping.ReplaceAllString(e, " ")
	e = numbers.ReplaceAllString(e, "$1 ")
	var out []string
	for _, loc := range identifier.FindAllStringIndex(e, -1) {
		word := e[loc[0]:loc[1]]
		rest := strings.TrimLeft(e[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") || promqlWords[strings.ToLower(word)] {
			continue
		}
		out = append(out, word)
	}
	return out
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`flotilla_cluster_ready{cluster=~"$cluster"}`: {"flotilla_cluster_ready"},
		`histogram_quantile(0.99, sum by (cluster, le) (rate(flotilla_cluster_probe_duration_seconds_bucket{cluster=~"$cluster"}[$__rate_interval])))`: {
			"flotilla_cluster_probe_duration_seconds_bucket"},
		`sum by (controller) (rate(a_total[5m])) / ignoring(x) sum without (y) (b_total offset 1h) > bool 0`: {"a_total", "b_total"},
	} {
		if diff := cmp.Diff(want, metricNames(expr)); diff != "" {
			t.Errorf("metricNames(%s) (-want +got):\n%s", expr, diff)
		}
	}
}

// documentedMetrics returns the metric names docs/metrics.md names in
// backquotes, and the prefixes it names with a trailing * (rest_client_*).
func documentedMetrics(t *testing.T) (names map[string]bool, prefixes []string) {
	t.Helper()
	b, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	names = map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z_:][a-z0-9_:]*)(\\*?)`").FindAllStringSubmatch(string(b), -1) {
		if m[2] == "*" {
			prefixes = append(prefixes, m[1])
			continue
		}
		names[m[1]] = true
	}
	return names, prefixes
}

// documented reports whether name, or the histogram it is a series of
// (NAME_bucket, NAME_sum, NAME_count), is documented.
func documented(name string, names map[string]bool, prefixes []string) bool {
	if names[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && names[base] {
			return true
		}
	}
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// TestDashboardMetricsAreDocumented: every metric a panel of the Grafana
// dashboard queries is one docs/metrics.md documents.
func TestDashboardMetricsAreDocumented(t *testing.T) {
	d := loadDashboard(t)
	names, prefixes := documentedMetrics(t)
	used := map[string]bool{}
	for _, p := range allPanels(d.Panels) {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			ms := metricNames(tg.Expr)
			if len(ms) == 0 {
				t.Errorf("panel %q, query %s: no metric in %q", p.Title, tg.RefID, tg.Expr)
			}
			for _, m := range ms {
				used[m] = true
				if !documented(m, names, prefixes) {
					t.Errorf("panel %q queries %s, which docs/metrics.md does not document", p.Title, m)
				}
			}
		}
	}
	// The panels the dashboard exists for.
	for _, m := range []string{
		"flotilla_cluster_ready", "flotilla_cluster_probe_duration_seconds_bucket",
		"controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
		"flotilla_propagation_reconcile_total", "flotilla_propagation_latency_seconds_bucket",
		"flotilla_member_writes_total", "workqueue_depth", MetricName, "flotilla_evictions_total",
		"flotilla_fleet_disrupted",
	} {
		if !used[m] {
			t.Errorf("no panel queries %s", m)
		}
	}
	var all []string
	for m := range used {
		all = append(all, m)
	}
	sort.Strings(all)
	t.Logf("metrics queried: %s", strings.Join(all, ", "))
}

// TestDashboardIsImportable: the dashboard has what Grafana needs to
// import it into any instance: a data source variable that every query
// uses, unique panel ids, and a current schema.
func TestDashboardIsImportable(t *testing.T) {
	d := loadDashboard(t)
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d: want 36 or later", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both are needed", d.UID, d.Title)
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "DS_PROMETHEUS" && v.Type == "datasource" && v.Query == "prometheus" {
			hasDS = true
		}
	}
	if !hasDS {
		t.Errorf("no data source variable DS_PROMETHEUS of type prometheus")
	}
	const ds = "${DS_PROMETHEUS}"
	ids := map[int]string{}
	for _, p := range allPanels(d.Panels) {
		if prev, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: gridPos %+v does not fit a 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != ds {
			t.Errorf("panel %q: datasource %+v, want uid %s", p.Title, p.Datasource, ds)
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || tg.Datasource.UID != ds {
				t.Errorf("panel %q, query %s: datasource %+v, want uid %s", p.Title, tg.RefID, tg.Datasource, ds)
			}
		}
	}
}
