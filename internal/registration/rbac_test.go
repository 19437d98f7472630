package registration

import (
	"slices"
	"testing"
)

// TestAgentRulesAreLeastPrivilege pins the agent's rights: no wildcard,
// nothing on Secrets, and cluster-wide only what names the agent's own
// objects, but for create, which RBAC cannot limit by name.
func TestAgentRulesAreLeastPrivilege(t *testing.T) {
	for _, r := range append(AgentNamespaceRules("edge-1"), AgentClusterRules("edge-1")...) {
		for _, s := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.ResourceNames} {
			if slices.Contains(s, "*") {
				t.Errorf("rule %+v has a wildcard", r)
			}
		}
		if slices.Contains(r.Resources, "secrets") {
			t.Errorf("rule %+v grants Secrets", r)
		}
	}
	for _, r := range AgentClusterRules("edge-1") {
		if len(r.ResourceNames) == 0 && !slices.Equal(r.Verbs, []string{"create"}) {
			t.Errorf("cluster-wide rule %+v is not limited to the agent's own objects", r)
		}
		for _, n := range r.ResourceNames {
			if n != "edge-1" && n != RenewalCSRName("edge-1") {
				t.Errorf("cluster-wide rule %+v names another object", r)
			}
		}
	}
	for _, r := range AgentNamespaceRules("edge-1") {
		if slices.Contains(r.Resources, "works") && slices.ContainsFunc(r.Verbs, func(v string) bool { return v != "get" && v != "list" && v != "watch" }) {
			t.Errorf("rule %+v lets the agent write Works", r)
		}
	}
}
