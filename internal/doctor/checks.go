package doctor

// DefaultChecks is the checklist `flotilla doctor` runs, in order, grouped
// as the seed's operator checklist. The first check reports whether the
// hub can be reached at all; the others are skipped when it cannot.
var DefaultChecks = []Check{
	{Group: Federation, Name: "hub-api", Needs: NeedNothing, Run: checkHubAPI},
	{Group: Federation, Name: "hub-controllers", Needs: NeedHub, Run: checkHubControllers},
	{Group: Federation, Name: "clusters-ready", Needs: NeedAPI, Run: checkClustersReady},
	{Group: Federation, Name: "cluster-probes", Needs: NeedAPI, Run: checkClusterProbes},
	{Group: Federation, Name: "credentials-expiry", Needs: NeedAPI, Run: checkCredentials},

	{Group: Applications, Name: "policies-claim-templates", Needs: NeedAPI, Run: checkPoliciesClaim},
	{Group: Applications, Name: "bindings-scheduled-applied", Needs: NeedAPI, Run: checkBindings},
	{Group: Applications, Name: "unclaimed-workloads", Needs: NeedHub, Run: checkUnclaimedTemplates},
	{Group: Applications, Name: "failover", Needs: NeedAPI, Run: checkFailover},

	{Group: Edge, Name: "pull-clusters", Needs: NeedAPI, Run: checkPullClusters},

	{Group: Security, Name: "tls", Needs: NeedAPI, Run: checkTLS},
	{Group: Security, Name: "agent-rbac", Needs: NeedHub, Run: checkAgentRBAC},
	{Group: Security, Name: "secrets-encryption-at-rest", Needs: NeedHub, Run: checkEncryptionAtRest},
	{Group: Security, Name: "audit-log", Needs: NeedHub, Run: checkAuditLog},

	{Group: Monitoring, Name: "hub-metrics", Needs: NeedHub, Run: checkHubMetrics},
}
