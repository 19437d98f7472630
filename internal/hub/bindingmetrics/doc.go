// Package bindingmetrics exports how many bindings (ResourceBindings and
// ClusterResourceBindings) are in each phase, as the gauge
// flotilla_bindings{phase}. The collector counts on each scrape, from the
// hub manager's cache, so there is no state to keep in step with the
// bindings and no series left behind by deleted ones.
//
// A binding's phase comes from its conditions, the first that applies:
//
//	Scheduled=False                           Unschedulable
//	Applied!=True, reason ApplyFailed,
//	  Conflict or OverrideFailed              Failed
//	Applied!=True                             Applying
//	Healthy!=True                             Progressing
//	otherwise                                 Healthy
//
// A binding the scheduler has not decided yet counts as Applying.
package bindingmetrics
