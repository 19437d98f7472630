// Package framework holds the scheduler's plugin interfaces: one small
// interface per extension point, in the manner of kube-scheduler. A filter
// says whether a cluster may take a template; a nil *Status means yes, and a
// non-nil one says why not, in words a user reads in the binding's
// Scheduled condition.
package framework

import (
	"context"
	"fmt"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
)

// Code says what a Status means.
type Code int

const (
	// Unschedulable: this cluster cannot take the template.
	Unschedulable Code = iota + 1
	// Error: the plugin failed; retrying may help.
	Error
)

// Status is a plugin's verdict on one cluster. A nil *Status is success.
type Status struct {
	Code   Code
	Plugin string
	Reason string
}

// NewStatus returns a Status.
func NewStatus(code Code, plugin, format string, args ...any) *Status {
	return &Status{Code: code, Plugin: plugin, Reason: fmt.Sprintf(format, args...)}
}

// IsSuccess reports whether s is nil.
func (s *Status) IsSuccess() bool { return s == nil }

func (s *Status) String() string {
	if s == nil {
		return "ok"
	}
	return s.Plugin + ": " + s.Reason
}

// Plugin is any scheduler plugin.
type Plugin interface {
	Name() string
}

// FilterPlugin decides whether a cluster may take a template.
type FilterPlugin interface {
	Plugin
	Filter(ctx context.Context, placement *policyv1alpha1.Placement, cluster *clusterv1alpha1.Cluster) *Status
}

// RunFilters runs every filter on a cluster and returns the first failure.
func RunFilters(ctx context.Context, filters []FilterPlugin, placement *policyv1alpha1.Placement, cluster *clusterv1alpha1.Cluster) *Status {
	for _, f := range filters {
		if s := f.Filter(ctx, placement, cluster); !s.IsSuccess() {
			return s
		}
	}
	return nil
}
