package doctor

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

func checkTLS(ctx context.Context, e *Env) Result {
	var ev, bad, fixes []string
	if u, err := url.Parse(e.Conn.Server); err != nil || !strings.EqualFold(u.Scheme, "https") {
		bad = append(bad, "hub: "+e.Conn.Server+" is not https")
		fixes = append(fixes, "serve the hub's API over https and set server: https://... in the kubeconfig")
	} else {
		ev = append(ev, "hub: "+e.Conn.Server)
	}
	switch {
	case e.Conn.Insecure:
		bad = append(bad, "kubeconfig: insecure-skip-tls-verify is set: the hub's identity is not verified")
		fixes = append(fixes, "remove insecure-skip-tls-verify from the kubeconfig and set certificate-authority-data to the hub's CA")
	case len(e.Conn.CACerts) > 0:
		ev = append(ev, "kubeconfig: verifies the hub's certificate against its certificate-authority")
	default:
		ev = append(ev, "kubeconfig: verifies the hub's certificate against the system's roots")
	}
	cls, err := e.listClusters(ctx)
	if err != nil {
		return cannotRead("clusters", err)
	}
	for _, c := range cls {
		if c.Spec.SyncMode == clusterv1alpha1.Pull {
			ev = append(ev, c.Name+": Pull mode: no hub-to-member link")
			continue
		}
		if u, err := url.Parse(c.Spec.APIEndpoint); err != nil || !strings.EqualFold(u.Scheme, "https") {
			bad = append(bad, c.Name+": spec.apiEndpoint "+c.Spec.APIEndpoint+" is not https")
			fixes = append(fixes, c.Name+": re-join it with an https endpoint: "+fmt.Sprintf(rejoinFix, c.Name))
			continue
		}
		ev = append(ev, c.Name+": "+c.Spec.APIEndpoint+", verified against the CA in its credentials secret")
	}
	if len(bad) > 0 {
		return fail(plural(len(bad), "link is", "links are")+" not secured by TLS", strings.Join(fixes, "\n"), append(bad, ev...)...)
	}
	return pass("every link uses TLS with a verified server certificate: the CLI to the hub, and the hub to each Push member", ev...)
}

func checkEncryptionAtRest(context.Context, *Env) Result {
	return skip("encryption of Secrets at rest is not checked",
		"not observable through the Kubernetes API; check the hub kube-apiserver's --encryption-provider-config (the local hub of flotilla up sets one)")
}

func checkAuditLog(context.Context, *Env) Result {
	return skip("the hub's audit log is not checked",
		"not observable through the Kubernetes API; check the hub kube-apiserver's --audit-log-path and --audit-policy-file (the local hub of flotilla up sets both)")
}
