// Package propagation runs the hub's propagation pipeline, apart from the
// scheduler: the detector, which claims templates for policies and keeps one
// binding per claimed template, and execution, which applies each binding's
// template (and its dependencies) to the chosen member clusters by
// server-side apply, corrects drift, removes objects that leave, and reports
// member status back onto the binding and the template.
//
// Both watch only the kinds that some policy selects, through dynamic
// informers started on demand, so a CRD installed after the hub started
// can be propagated as soon as a policy names it.
package propagation
