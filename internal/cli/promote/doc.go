// Package promote implements `flotilla promote`: bring an object that
// already runs in one member cluster under Flotilla's management without
// recreating it.
//
// The command talks to the hub only. It reads the object from the member
// with the credentials the hub keeps for it (the Cluster's spec.secretRef
// and spec.apiEndpoint), creates on the hub a template of it (stripped of
// its status and of what the member assigned) and a policy that places
// exactly that template on exactly that cluster with conflictResolution:
// Overwrite. The propagation pipeline then takes the member's object over
// in place by server-side apply; promote waits until the binding reports
// it applied, and checks that the member's object kept its UID.
package promote
