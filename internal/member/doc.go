// Package member talks to member clusters from the hub: it turns a Cluster
// and its credentials Secret into a client, probes the member's API server
// and classifies what went wrong, and keeps per-member informers that sum
// nodes' capacity and pods' requests.
package member
