package v1alpha1

// Condition types of a Cluster.
const (
	// ConditionReady is True when the hub can use the cluster: its API server
	// answers, accepts the hub's credentials and reports itself ready. It is
	// False when the last probes failed for longer than the hub's failure
	// threshold, and Unknown before the first probe.
	ConditionReady = "Ready"

	// ConditionReachable is True when the last probe reached the cluster's
	// API server over the network (whatever it answered), and False when the
	// connection itself failed.
	ConditionReachable = "Reachable"

	// ConditionOffline is True for a Pull cluster whose agent stopped
	// heartbeating. Push clusters do not carry it.
	ConditionOffline = "Offline"
)

// Reasons of the Ready and Reachable conditions.
const (
	// ReasonPending: the hub has not probed the cluster yet.
	ReasonPending = "Pending"
	// ReasonHealthy: the API server answered /readyz with ok.
	ReasonHealthy = "Healthy"
	// ReasonConnected: the probe reached the API server.
	ReasonConnected = "Connected"
	// ReasonUnreachable: the connection to the API server failed.
	ReasonUnreachable = "Unreachable"
	// ReasonUnauthorized: the API server rejected the hub's credentials.
	ReasonUnauthorized = "Unauthorized"
	// ReasonUnhealthy: the API server answered but reported itself not ready.
	ReasonUnhealthy = "Unhealthy"
	// ReasonCredentialsInvalid: the credentials Secret is missing or malformed.
	ReasonCredentialsInvalid = "CredentialsInvalid"
)

// Labels and annotations Flotilla puts on objects.
const (
	// LabelClusterName marks hub objects that belong to one member cluster,
	// such as its credentials Secret.
	LabelClusterName = "cluster.flotilla.io/name"
	// LabelManagedBy marks objects that Flotilla created, with the value
	// "flotilla".
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = "flotilla"
)

// Taints Flotilla puts on Clusters.
const (
	// TaintNotReady (NoExecute) marks a cluster whose Ready condition is
	// not True. Templates leave it once their failover toleration runs out.
	// While much of the fleet is not Ready at once the hub puts it with
	// effect NoSchedule instead, so that an outage of the hub's own network
	// does not move everything.
	TaintNotReady = "cluster.flotilla.io/not-ready"
	// TaintUnschedulable marks a cordoned cluster: NoSchedule keeps new
	// templates off it, and NoExecute (flotilla cordon --drain) moves the
	// ones it runs away.
	TaintUnschedulable = "cluster.flotilla.io/unschedulable"
)
