package bench

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// report prints the summary table and reports the benchmark's metrics.
func report(b *testing.B, bulks []bulkResult, lat latencyResult, rs restartResult, usages []phaseUsage) {
	var sb strings.Builder
	row := func(measure, flotilla, lower, ratio string) {
		fmt.Fprintf(&sb, "| %-62s | %-14s | %-14s | %-7s |\n", measure, flotilla, lower, ratio)
	}
	sb.WriteString("\nPropagation: hub + 2 kwok members (3 nodes each), hub controllers in a `flotilla hub` process\n\n")
	row("Measure", "Flotilla", "Lower bound", "Ratio")
	sb.WriteString("|" + strings.Repeat("-", 64) + "|" + strings.Repeat("-", 16) + "|" + strings.Repeat("-", 16) + "|" + strings.Repeat("-", 9) + "|\n")
	for _, r := range bulks {
		ratio := r.Exists.Seconds() / r.LowerBound.Seconds()
		row(fmt.Sprintf("Bulk %d Deployments x 2 clusters: every member object exists", r.N), secs(r.Exists), secs(r.LowerBound), fmt.Sprintf("%.2fx", ratio))
		row(fmt.Sprintf("Bulk %d: the same, seen by a list every %s", r.N, pollInterval), secs(r.Listed), secs(r.LowerBound), fmt.Sprintf("%.2fx", r.Listed.Seconds()/r.LowerBound.Seconds()))
		floorRatio := r.Exists.Seconds() / r.Floor.Seconds()
		row(fmt.Sprintf("Bulk %d: the same against the floor (templates on the hub too)", r.N), secs(r.Exists), secs(r.Floor), fmt.Sprintf("%.2fx", floorRatio))
		bindingsRatio := r.Exists.Seconds() / r.FloorBindings.Seconds()
		row(fmt.Sprintf("Bulk %d: the same against the floor with bindings", r.N), secs(r.Exists), secs(r.FloorBindings), fmt.Sprintf("%.2fx", bindingsRatio))
		row(fmt.Sprintf("Bulk %d: floor against the lower bound", r.N), secs(r.Floor), secs(r.LowerBound), fmt.Sprintf("%.2fx", r.Floor.Seconds()/r.LowerBound.Seconds()))
		row(fmt.Sprintf("Bulk %d: floor with bindings against the lower bound", r.N), secs(r.FloorBindings), secs(r.LowerBound), fmt.Sprintf("%.2fx", r.FloorBindings.Seconds()/r.LowerBound.Seconds()))
		row(fmt.Sprintf("Bulk %d: templates created on the hub (32 workers)", r.N), secs(r.HubCreates), secs(r.FloorHub), "")
		row(fmt.Sprintf("Bulk %d: floor with bindings: templates and bindings created", r.N), "", secs(r.FloorBindingsHub), "")
		for _, name := range benchMembers {
			row(fmt.Sprintf("Bulk %d: every object exists in %s", r.N, name), secs(r.PerMember[name]), "", "")
		}
		row(fmt.Sprintf("Bulk %d: every template shows 2/2 ready replicas", r.N), secs(r.Ready), secs(r.MembersReady), "")
		if r.Deleted > 0 {
			row(fmt.Sprintf("Bulk %d: hub namespace deleted -> member objects gone", r.N), secs(r.Deleted), secs(r.LowerBoundClean), "")
		}
		b.ReportMetric(r.Exists.Seconds(), fmt.Sprintf("bulk%d_exists_s", r.N))
		b.ReportMetric(r.LowerBound.Seconds(), fmt.Sprintf("lowerbound%d_s", r.N))
		b.ReportMetric(ratio, fmt.Sprintf("bulk%d_ratio", r.N))
		b.ReportMetric(r.Listed.Seconds(), fmt.Sprintf("bulk%d_listed_s", r.N))
		b.ReportMetric(r.Floor.Seconds(), fmt.Sprintf("floor%d_s", r.N))
		b.ReportMetric(floorRatio, fmt.Sprintf("bulk%d_floor_ratio", r.N))
		b.ReportMetric(r.FloorBindings.Seconds(), fmt.Sprintf("floorb%d_s", r.N))
		b.ReportMetric(bindingsRatio, fmt.Sprintf("bulk%d_floorb_ratio", r.N))
		b.ReportMetric(r.Ready.Seconds(), fmt.Sprintf("bulk%d_ready_s", r.N))
	}
	row("Latency, 100 at 2/s, until in both members: p50", ms(lat.P50), ms(lat.CreateP50), fmt.Sprintf("%.1fx", float64(lat.P50)/float64(lat.CreateP50)))
	row("Latency: p99", ms(lat.P99), ms(lat.CreateP99), "")
	row("Latency: max", ms(lat.Max), "", "")
	row(fmt.Sprintf("Restart with %d bulk templates, %d bindings: until steady", rs.Templates, rs.Bindings), secs(rs.Steady), "", "")
	row("Restart: execution reconciles until steady, success (requeue)", fmt.Sprintf("%.0f (%.0f)", rs.Reconciles, rs.Requeues), fmt.Sprintf("%d", rs.Bindings), "")
	row("Restart: member writes until steady", fmt.Sprintf("%.0f", rs.Writes), "0 (target)", "")
	row(fmt.Sprintf("Restart: member writes until %s after steady", quietAfterRestart), fmt.Sprintf("%.0f", rs.WritesLater), "0 (target)", "")
	b.ReportMetric(float64(lat.P50)/float64(time.Millisecond), "latency_p50_ms")
	b.ReportMetric(float64(lat.P99)/float64(time.Millisecond), "latency_p99_ms")
	b.ReportMetric(float64(lat.Max)/float64(time.Millisecond), "latency_max_ms")
	b.ReportMetric(float64(lat.CreateP50)/float64(time.Millisecond), "hub_create_p50_ms")
	b.ReportMetric(rs.Steady.Seconds(), "restart_s")
	b.ReportMetric(rs.WritesLater, "restart_writes")

	sb.WriteString("\nHub process (`flotilla hub`) per phase, and the CPU time of the rest of the machine in the phase\n\n")
	fmt.Fprintf(&sb, "| %-40s | %-7s | %-8s | %-8s | %-8s | %-8s | %-8s | %-14s |\n", "Phase", "Wall", "Hub RSS", "Hub CPU", "Hub k8s", "Members", "Bench", "Machine busy")
	sb.WriteString("|" + strings.Repeat("-", 42) + "|" + strings.Repeat("-", 9) + "|" + strings.Repeat("-", 10) + "|" + strings.Repeat("-", 10) + "|" + strings.Repeat("-", 10) + "|" + strings.Repeat("-", 10) + "|" + strings.Repeat("-", 10) + "|" + strings.Repeat("-", 16) + "|\n")
	for _, u := range usages {
		f := u.Fleet
		fmt.Fprintf(&sb, "| %-40s | %-7s | %-8s | %-8s | %-8s | %-8s | %-8s | %-14s |\n", u.Phase,
			fmt.Sprintf("%.0f s", f.Wall.Seconds()), fmt.Sprintf("%d MiB", u.PeakRSS>>20), fmt.Sprintf("%.1f s", u.CPU.Seconds()),
			fmt.Sprintf("%.1f s", f.Groups["hub k8s"].Seconds()), fmt.Sprintf("%.1f s", f.Groups["members"].Seconds()),
			fmt.Sprintf("%.1f s", f.Bench.Seconds()),
			fmt.Sprintf("%.1f s (%.2f cores)", f.Busy.Seconds(), f.Busy.Seconds()/max(f.Wall.Seconds(), 0.001)))
		b.ReportMetric(float64(u.PeakRSS)/(1<<20), "hub_rss_"+u.Key+"_MiB")
		b.ReportMetric(u.CPU.Seconds(), "hub_cpu_"+u.Key+"_s")
	}

	sb.WriteString("\nHub metrics per bulk phase\n\n")
	for _, r := range bulks {
		fmt.Fprintf(&sb, "bulk %d: reconciles %s; member writes %s; execution delayed requeues (AddAfter, e.g. status coalescing) %.0f\n", r.N, fmtMap(r.Reconciles), fmtMap(r.Writes), r.Retries)
	}
	for _, r := range bulks {
		fmt.Fprintf(&sb, "\nbulk %d: hub writes by the hub process (audit log)\n%s", r.N, r.Audit)
	}
	fmt.Fprintf(&sb, "\nlatency: the hub's histograms over the phase (bucket upper bounds)\n%s", lat.Histograms)
	fmt.Fprintf(&sb, "\nlatency: the steps, from the hub's audit log\n%s", lat.Stages)
	fmt.Fprintf(&sb, "\nlatency: the slowest objects\n%s", lat.Slowest)
	if rs.WritesByOp != "" {
		fmt.Fprintf(&sb, "restart: member writes by operation/result %s\n", rs.WritesByOp)
	}
	fmt.Print(sb.String())
}

func fmtMap(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%.0f", k, m[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}
