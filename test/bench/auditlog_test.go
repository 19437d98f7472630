package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/flotilla-io/flotilla/internal/install"
)

// auditEvent is what the benchmark reads of the hub's audit log, which
// records every write (reads are not audited).
type auditEvent struct {
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	UserAgent  string `json:"userAgent"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Received time.Time `json:"requestReceivedTimestamp"`
	Done     time.Time `json:"stageTimestamp"`
}

// what names the request: verb, resource[/subresource] and field manager.
func (a *auditEvent) what() string {
	s := a.Verb
	if a.ObjectRef != nil {
		s += " " + a.ObjectRef.Resource
		if a.ObjectRef.Subresource != "" {
			s += "/" + a.ObjectRef.Subresource
		}
	}
	if fm := a.fieldManager(); fm != "" {
		s += " (" + fm + ")"
	}
	return s
}

func (a *auditEvent) fieldManager() string {
	u, err := url.Parse(a.RequestURI)
	if err != nil {
		return ""
	}
	return u.Query().Get("fieldManager")
}

func (a *auditEvent) code() int {
	if a.ResponseStatus == nil {
		return 0
	}
	return a.ResponseStatus.Code
}

// readAudit reads the events of the hub's audit log (and its rotated
// files) received between from and to, for which keep is true.
func readAudit(home string, from, to time.Time, keep func(*auditEvent) bool) ([]auditEvent, error) {
	files, err := filepath.Glob(filepath.Join(home, "hub", "audit", "audit*.log"))
	if err != nil {
		return nil, err
	}
	var out []auditEvent
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
		for sc.Scan() {
			var ev auditEvent
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			if ev.Received.Before(from) || ev.Received.After(to) || !keep(&ev) {
				continue
			}
			out = append(out, ev)
		}
		err = sc.Err()
		fh.Close()
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Received.Before(out[j].Received) })
	return out, nil
}

func byHub(a *auditEvent) bool { return a.User.Username == install.HubControllerUser }

// writeSummary tells, for the hub process's writes in a window, how many of
// each kind there were per template, how many conflicted, how long the hub
// API server took, and how fast the writes that carry no field manager (the
// controller-runtime client's: binding create, the scheduler's and the
// finalizer's patches) went.
func writeSummary(all []auditEvent, templates int) string {
	type row struct {
		n, conflicts int
		took         []time.Duration
	}
	rows := map[string]*row{}
	perSecond := map[int64]int{}
	var first, last time.Time
	for i := range all {
		a := &all[i]
		if !byHub(a) {
			continue
		}
		r := rows[a.what()]
		if r == nil {
			r = &row{}
			rows[a.what()] = r
		}
		r.n++
		r.took = append(r.took, a.Done.Sub(a.Received))
		if a.code() == 409 {
			r.conflicts++
		}
		if a.fieldManager() == "" {
			perSecond[a.Received.Unix()]++
			if first.IsZero() {
				first = a.Received
			}
			last = a.Received
		}
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return rows[keys[i]].n > rows[keys[j]].n })
	var sb strings.Builder
	total := 0
	fmt.Fprintf(&sb, "    %-58s %7s %9s %6s %21s\n", "request", "count", "/template", "409s", "API server p50 / p90")
	for _, k := range keys {
		r := rows[k]
		total += r.n
		fmt.Fprintf(&sb, "    %-58s %7d %9.2f %6d %9s / %9s\n", k, r.n, float64(r.n)/float64(templates), r.conflicts,
			ms(percentile(r.took, 50)), ms(percentile(r.took, 90)))
	}
	fmt.Fprintf(&sb, "    %-58s %7d %9.2f\n", "all writes by the hub process", total, float64(total)/float64(templates))
	if len(perSecond) > 0 {
		rates := make([]int, 0, len(perSecond))
		sum := 0
		for _, n := range perSecond {
			rates = append(rates, n)
			sum += n
		}
		sort.Ints(rates)
		span := last.Sub(first).Seconds()
		fmt.Fprintf(&sb, "    writes without a field manager (controller-runtime client, QPS 50): %d in %.0f s, %.1f/s on average, median busy second %d, busiest second %d\n",
			sum, span, float64(sum)/max(span, 1), rates[len(rates)/2], rates[len(rates)-1])
	}
	return sb.String()
}

// stages breaks the way of each template of ns through the pipeline into
// the gaps between its hub writes, from the audit log: the template's
// create, the detector's binding create, the scheduler's spec.clusters
// patch (none when the detector placed the binding as it created it), and
// execution's first binding status write, which comes after
// the member applies. (The detector's claim patch is left out: it is not on
// the way to the members.)
func stages(all []auditEvent, ns string) string {
	type marks struct{ created, bound, bindDone, scheduled, schedDone, applied time.Time }
	per := map[string]*marks{}
	get := func(name string) *marks {
		m := per[name]
		if m == nil {
			m = &marks{}
			per[name] = m
		}
		return m
	}
	const suffix = "-deployment"
	for i := range all {
		a := &all[i]
		if a.ObjectRef == nil || a.ObjectRef.Namespace != ns || a.code() >= 300 {
			continue
		}
		ref := a.ObjectRef
		switch {
		case ref.Resource == "deployments" && ref.Subresource == "" && a.Verb == "create":
			get(ref.Name).created = a.Done
		case ref.Resource == "resourcebindings" && ref.Subresource == "" && a.Verb == "create":
			m := get(strings.TrimSuffix(ref.Name, suffix))
			m.bound, m.bindDone = a.Received, a.Done
		case ref.Resource == "resourcebindings" && ref.Subresource == "" && a.Verb == "patch" && a.fieldManager() == "":
			if m := get(strings.TrimSuffix(ref.Name, suffix)); m.scheduled.IsZero() {
				m.scheduled, m.schedDone = a.Received, a.Done
			}
		case ref.Resource == "resourcebindings" && ref.Subresource == "status" && a.fieldManager() == "flotilla-execution":
			if m := get(strings.TrimSuffix(ref.Name, suffix)); m.applied.IsZero() {
				m.applied = a.Received
			}
		}
	}
	for _, m := range per {
		if m.scheduled.IsZero() || (!m.applied.IsZero() && m.scheduled.After(m.applied)) {
			// Placed as the detector created it (scheduler.InitialPlacement):
			// the binding's create is its placement.
			m.scheduled, m.schedDone = m.bindDone, m.bindDone
		}
	}
	names := []string{
		"template created -> binding create sent (detector)",
		"binding created -> spec.clusters patch sent (scheduler; 0 if placed at create)",
		"scheduled -> first binding status write sent (execution, member applies)",
		"template created -> first binding status write sent (all)",
	}
	gaps := map[string][]time.Duration{}
	for _, m := range per {
		if m.created.IsZero() || m.bound.IsZero() || m.scheduled.IsZero() || m.applied.IsZero() {
			continue
		}
		gaps[names[0]] = append(gaps[names[0]], m.bound.Sub(m.created))
		gaps[names[1]] = append(gaps[names[1]], m.scheduled.Sub(m.bindDone))
		gaps[names[2]] = append(gaps[names[2]], m.applied.Sub(m.schedDone))
		gaps[names[3]] = append(gaps[names[3]], m.applied.Sub(m.created))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "    %-74s %9s %9s %9s   (%d templates)\n", "step (each includes its queue wait)", "p50", "p90", "max", len(gaps[names[0]]))
	for _, n := range names {
		g := gaps[n]
		fmt.Fprintf(&sb, "    %-74s %9s %9s %9s\n", n, ms(percentile(g, 50)), ms(percentile(g, 90)), ms(percentile(g, 100)))
	}
	return sb.String()
}

// timeline lists the hub writes about one template and its binding, as
// offsets from t0.
func timeline(events []auditEvent, ns, name, binding string, t0 time.Time) string {
	var sb strings.Builder
	for i := range events {
		a := &events[i]
		if a.ObjectRef == nil || a.ObjectRef.Namespace != ns || (a.ObjectRef.Name != name && a.ObjectRef.Name != binding) {
			continue
		}
		fmt.Fprintf(&sb, "      %+7.0f ms  %-24s %-58s %d (%.0f ms)\n",
			float64(a.Received.Sub(t0))/float64(time.Millisecond), userOf(a), a.what()+" "+a.ObjectRef.Name, a.code(),
			float64(a.Done.Sub(a.Received))/float64(time.Millisecond))
	}
	return sb.String()
}

func userOf(a *auditEvent) string {
	if a.User.Username == install.HubControllerUser {
		return "flotilla hub"
	}
	return a.User.Username
}
