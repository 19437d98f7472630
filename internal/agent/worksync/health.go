package worksync

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/flotilla-io/flotilla/internal/workload"
)

// objectHealth is the kind's health rule, the one push execution applies
// (internal/workload).
func objectHealth(live *unstructured.Unstructured) string { return workload.Health(live) }

// trimmedStatus is the status fields the hub keeps of live, or nil for
// kinds it does not aggregate (internal/workload).
func trimmedStatus(live *unstructured.Unstructured) map[string]any {
	return workload.TrimmedStatus(live)
}
