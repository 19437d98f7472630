// Package membership joins member clusters to the hub and removes them.
//
// Join checks everything it can before it writes anything: the name, the
// kubeconfig, that the hub serves the Cluster API and does not know the name
// or the endpoint yet, that the member answers, accepts the credentials and
// grants what joining needs. Only then does it create, in the member, a
// service account that Flotilla will use (so the hub never stores the
// user's own credentials), and on the hub a credentials Secret and the
// Cluster. Any failure after the first write rolls every write back.
package membership
