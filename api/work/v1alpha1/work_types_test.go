package v1alpha1

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestWorkName(t *testing.T) {
	if got := WorkName("shop", "web-deployment"); got != "shop.web-deployment" {
		t.Errorf("WorkName(shop, web-deployment) = %q", got)
	}
	// A cluster-scoped binding whose name has a dot does not collide with
	// a namespaced one that reads the same.
	if a, b := WorkName("", "a.b-configmap"), WorkName("a", "b-configmap"); a == b {
		t.Errorf("cluster-scoped and namespaced bindings share the name %q", a)
	}
	long := WorkName(strings.Repeat("n", 63), strings.Repeat("x", 240)+".y-deployment")
	if len(long) > 253 || len(validation.IsDNS1123Subdomain(long)) > 0 {
		t.Errorf("long name %q (%d) is not a valid object name: %v", long, len(long), validation.IsDNS1123Subdomain(long))
	}
	if long == WorkName(strings.Repeat("n", 63), strings.Repeat("x", 240)+".z-deployment") {
		t.Error("two long names that differ only past the cut collide")
	}
}
