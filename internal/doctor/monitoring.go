package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// DefaultMetricsURL is where `flotilla hub` serves metrics by default
// (--metrics-bind-address 127.0.0.1:8080).
const DefaultMetricsURL = "http://127.0.0.1:8080/metrics"

func metricsWhere(e *Env) string {
	if e.Metrics.Source == "" {
		return e.Metrics.URL
	}
	return e.Metrics.URL + ", " + e.Metrics.Source
}

func checkHubMetrics(ctx context.Context, e *Env) Result {
	where := metricsWhere(e)
	s, err := e.metrics(ctx)
	if err != nil {
		ev := "GET " + where + ": " + truncate(err.Error(), 200)
		switch {
		case e.Metrics.Explicit:
		case e.Metrics.URL == DefaultMetricsURL:
			return warn("the hub's metrics endpoint is unknown: nothing answers at "+e.Metrics.URL,
				"name it: flotilla doctor --metrics-url http://HOST:PORT/metrics (flotilla hub serves it on --metrics-bind-address, default 127.0.0.1:8080)", ev)
		default:
			// Found, not named: the local fleet's hub, which may just be down.
			return warn("nothing answers at "+e.Metrics.URL+" ("+e.Metrics.Source+")",
				"check that the hub's controllers run (see hub-controllers); flotilla up starts the local fleet's again", ev)
		}
		return fail("the hub's metrics endpoint does not answer at "+e.Metrics.URL,
			"check --metrics-url against flotilla hub's --metrics-bind-address, and that the hub's controllers run (see hub-controllers)", ev)
	}
	ready := s.Samples["flotilla_cluster_ready"]
	if len(ready) == 0 {
		ev := fmt.Sprintf("GET %s: %d metrics, no series of flotilla_cluster_ready", where, len(s.Samples))
		if cls, err := e.listClusters(ctx); err == nil && len(cls) == 0 && servesHub(s) {
			return pass("the hub serves metrics at "+e.Metrics.URL+"; flotilla_cluster_ready has no series until a cluster joins", ev)
		}
		fix := "point --metrics-url at the metrics of the hub replica that holds the lease flotilla-system/flotilla-hub: only the leader probes clusters"
		summary := "the endpoint at " + e.Metrics.URL + " does not serve flotilla_cluster_ready"
		if !e.Metrics.Explicit {
			return warn(summary, fix, ev)
		}
		return fail(summary, fix, ev)
	}
	up := 0
	var ev []string
	sort.Slice(ready, func(i, j int) bool { return ready[i].Labels["cluster"] < ready[j].Labels["cluster"] })
	for _, x := range ready {
		if x.Value == 1 {
			up++
		}
		ev = append(ev, fmt.Sprintf("flotilla_cluster_ready{cluster=%q} %g", x.Labels["cluster"], x.Value))
	}
	ev = append([]string{"GET " + where + ": ok"}, ev...)
	return pass(fmt.Sprintf("the hub serves metrics at %s: flotilla_cluster_ready reports %d of %s ready", e.Metrics.URL, up,
		plural(len(ready), "cluster", "clusters")), ev...)
}

// servesHub reports whether a scrape looks like the hub's: it has
// Flotilla's or controller-runtime's series.
func servesHub(s *Scrape) bool {
	for name := range s.Samples {
		if strings.HasPrefix(name, "flotilla_") || strings.HasPrefix(name, "controller_runtime_") {
			return true
		}
	}
	return false
}
