// Package heartbeat keeps a pull-mode cluster alive on the hub: the agent
// renews the cluster's Lease (in the cluster's namespace on the hub) every
// interval, and reports the local cluster's version and node and resource
// summaries into its Cluster's status. The hub turns the lease into the
// Ready and Offline conditions (internal/registration).
package heartbeat
