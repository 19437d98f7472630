package top

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	"github.com/flotilla-io/flotilla/internal/cli/output"
)

// Sort keys of --sort-by.
const (
	SortByCPU    = "cpu"
	SortByMemory = "memory"
	SortByPods   = "pods"
)

// unknown fills the cells of a cluster the hub has not summarized yet.
const unknown = "<unknown>"

// Options are what Clusters prints.
type Options struct {
	// Names limits the output to these clusters; empty means all.
	Names []string
	// Format is output.Table, output.Wide, output.JSON or output.YAML.
	Format string
	// SortBy is empty (by name) or SortByCPU, SortByMemory or SortByPods.
	SortBy string
}

// ClusterAllocation is one cluster's allocation: a row of the table, and an
// item of -o json|yaml.
type ClusterAllocation struct {
	// Name of the cluster.
	Name string `json:"name"`
	// Ready is the status of the cluster's Ready condition: True, False or
	// Unknown.
	Ready string `json:"ready"`
	// Nodes counts the cluster's nodes; nil until the hub summarized them.
	Nodes *clusterv1alpha1.NodeSummary `json:"nodes,omitempty"`
	// CPU, Memory and Pods are nil until the hub summarized the cluster's
	// resources.
	CPU    *Allocation `json:"cpu,omitempty"`
	Memory *Allocation `json:"memory,omitempty"`
	Pods   *Allocation `json:"pods,omitempty"`
}

// Allocation is one resource of a cluster.
type Allocation struct {
	// Requested is what the pods bound to a node request.
	Requested resource.Quantity `json:"requested"`
	// Allocatable is what the ready, schedulable nodes can allocate.
	Allocatable resource.Quantity `json:"allocatable"`
	// Allocating is what the pods not yet bound to a node request.
	Allocating resource.Quantity `json:"allocating"`
	// Percent is Requested over Allocatable, in whole percent rounded
	// down; nil when nothing is allocatable.
	Percent *int64 `json:"percent,omitempty"`
}

// Allocations returns the allocation of a cluster from its status.
func Allocations(cl *clusterv1alpha1.Cluster) ClusterAllocation {
	a := ClusterAllocation{Name: cl.Name, Ready: string(metav1.ConditionUnknown)}
	if cond := meta.FindStatusCondition(cl.Status.Conditions, clusterv1alpha1.ConditionReady); cond != nil {
		a.Ready = string(cond.Status)
	}
	if ns := cl.Status.NodeSummary; ns != nil {
		n := *ns
		a.Nodes = &n
	}
	if rs := cl.Status.ResourceSummary; rs != nil {
		of := func(r corev1.ResourceName) *Allocation {
			al := &Allocation{Requested: zeroOr(rs.Requested, r), Allocatable: zeroOr(rs.Allocatable, r), Allocating: zeroOr(rs.Allocating, r)}
			al.Percent = percent(al.Requested, al.Allocatable)
			return al
		}
		a.CPU, a.Memory, a.Pods = of(corev1.ResourceCPU), of(corev1.ResourceMemory), of(corev1.ResourcePods)
	}
	return a
}

func zeroOr(l corev1.ResourceList, r corev1.ResourceName) resource.Quantity {
	if q, ok := l[r]; ok {
		return q.DeepCopy()
	}
	return resource.Quantity{Format: resource.DecimalSI}
}

// percent is req over alloc in whole percent, rounded down, or nil when
// alloc is zero.
func percent(req, alloc resource.Quantity) *int64 {
	if alloc.Sign() <= 0 {
		return nil
	}
	var p int64
	r, a := req.MilliValue(), alloc.MilliValue()
	if r >= 0 && r <= math.MaxInt64/100 && a > 0 {
		p = r * 100 / a
	} else {
		p = int64(req.AsApproximateFloat64() / alloc.AsApproximateFloat64() * 100)
	}
	return &p
}

// Clusters prints the allocation of clusters, all of them or the named
// ones.
func Clusters(ctx context.Context, c client.Reader, w io.Writer, o Options) error {
	var list clusterv1alpha1.ClusterList
	if err := c.List(ctx, &list); err != nil {
		if meta.IsNoMatchError(err) {
			return fmt.Errorf("the hub does not serve the cluster.flotilla.io API; install Flotilla on it with `flotilla install`")
		}
		return fmt.Errorf("list clusters: %w", err)
	}
	items := list.Items
	if len(o.Names) > 0 {
		byName := map[string]clusterv1alpha1.Cluster{}
		for _, cl := range list.Items {
			byName[cl.Name] = cl
		}
		items = nil
		var missing []string
		for _, n := range o.Names {
			if cl, ok := byName[n]; ok {
				items = append(items, cl)
			} else {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("cluster %s not found", strings.Join(missing, ", "))
		}
	}
	allocs := make([]ClusterAllocation, 0, len(items))
	for i := range items {
		allocs = append(allocs, Allocations(&items[i]))
	}
	Sort(allocs, o.SortBy)

	switch o.Format {
	case output.JSON, output.YAML:
		return output.PrintValue(w, o.Format, map[string]any{"clusters": allocs})
	}
	if len(allocs) == 0 {
		fmt.Fprintln(w, "No clusters joined. Join one with `flotilla join NAME --cluster-kubeconfig FILE`.")
		return nil
	}
	cols := []output.Column{{Header: "NAME"}, {Header: "READY"}, {Header: "NODES"},
		{Header: "CPU(REQ/ALLOC)"}, {Header: "CPU%"}, {Header: "MEMORY(REQ/ALLOC)"}, {Header: "MEMORY%"},
		{Header: "PODS(REQ/ALLOC)"}, {Header: "PODS%"},
		{Header: "NODES(READY)", Wide: true}, {Header: "CPU(PENDING)", Wide: true}, {Header: "MEMORY(PENDING)", Wide: true},
		{Header: "PODS(PENDING)", Wide: true}}
	rows := make([]output.Row, 0, len(allocs))
	for _, a := range allocs {
		rows = append(rows, Row(a))
	}
	return output.PrintTable(w, o.Format == output.Wide, cols, rows)
}

// Row is one cluster's table cells, wide columns included.
func Row(a ClusterAllocation) output.Row {
	nodes, ready := unknown, unknown
	if a.Nodes != nil {
		nodes, ready = strconv.Itoa(int(a.Nodes.Total)), strconv.Itoa(int(a.Nodes.Ready))
	}
	row := output.Row{a.Name, a.Ready, nodes}
	cells := func(al *Allocation, format func(resource.Quantity) string) (string, string, string) {
		if al == nil {
			return unknown, unknown, unknown
		}
		pct := "-"
		if al.Percent != nil {
			pct = strconv.FormatInt(*al.Percent, 10) + "%"
		}
		return format(al.Requested) + "/" + format(al.Allocatable), pct, format(al.Allocating)
	}
	cpu, cpuPct, cpuPending := cells(a.CPU, FormatCPU)
	mem, memPct, memPending := cells(a.Memory, FormatMemory)
	pods, podsPct, podsPending := cells(a.Pods, FormatCount)
	return append(row, cpu, cpuPct, mem, memPct, pods, podsPct, ready, cpuPending, memPending, podsPending)
}

// Sort orders allocations by name, or with by set, by that resource's
// percentage, the highest first; clusters without one come last, by name.
func Sort(allocs []ClusterAllocation, by string) {
	pick := func(a ClusterAllocation) *Allocation {
		switch by {
		case SortByCPU:
			return a.CPU
		case SortByMemory:
			return a.Memory
		case SortByPods:
			return a.Pods
		}
		return nil
	}
	sort.SliceStable(allocs, func(i, j int) bool {
		if by != "" {
			pi, pj := pick(allocs[i]), pick(allocs[j])
			vi, oki := pctOf(pi)
			vj, okj := pctOf(pj)
			switch {
			case oki != okj:
				return oki
			case oki && vi != vj:
				return vi > vj
			}
		}
		return allocs[i].Name < allocs[j].Name
	})
}

func pctOf(a *Allocation) (int64, bool) {
	if a == nil || a.Percent == nil {
		return 0, false
	}
	return *a.Percent, true
}

// FormatCPU writes CPU as millicores below one core ("250m"), else as
// cores with at most one decimal ("1.5", "24").
func FormatCPU(q resource.Quantity) string {
	m := q.MilliValue()
	switch {
	case m == 0:
		return "0"
	case m < 1000:
		return strconv.FormatInt(m, 10) + "m"
	}
	return trimZero(strconv.FormatFloat(float64(m)/1000, 'f', 1, 64))
}

// Binary units of memory.
const (
	ki = int64(1) << 10
	mi = int64(1) << 20
	gi = int64(1) << 30
)

// FormatMemory writes memory in Gi with at most one decimal from 1Gi up
// ("1.5Gi", "96Gi"), else in whole Mi, Ki or bytes.
func FormatMemory(q resource.Quantity) string {
	b := q.Value()
	switch {
	case b == 0:
		return "0"
	case b >= gi-mi/2: // what would round to 1024Mi is 1Gi
		return trimZero(strconv.FormatFloat(float64(b)/float64(gi), 'f', 1, 64)) + "Gi"
	case b >= mi-ki/2:
		return strconv.FormatInt((b+mi/2)/mi, 10) + "Mi"
	case b >= ki:
		return strconv.FormatInt((b+ki/2)/ki, 10) + "Ki"
	}
	return strconv.FormatInt(b, 10)
}

// FormatCount writes a count, such as pods.
func FormatCount(q resource.Quantity) string {
	return strconv.FormatInt(q.Value(), 10)
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }
