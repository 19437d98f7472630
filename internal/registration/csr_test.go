package registration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
)

func TestParseAgentCSR(t *testing.T) {
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		csr      *certificatesv1.CertificateSigningRequest
		want     *Request
		wantDeny string // a substring of the denial; "" for none
	}{
		"bootstrap": {
			csr:  makeCSR(t, "edge-1").Obj(),
			want: &Request{Kind: KindBootstrap, Cluster: "edge-1", RegistrationID: testRegistrationID, TokenID: "tok123", Lifetime: 24 * time.Hour},
		},
		"renewal": {
			csr:  makeCSR(t, "edge-1").Renewal("edge-1").Lifetime(ptr(10 * time.Minute)).Obj(),
			want: &Request{Kind: KindRenewal, Cluster: "edge-1", RegistrationID: testRegistrationID, Lifetime: 10 * time.Minute},
		},
		"RSA 2048": {
			csr:  makeCSR(t, "edge-1").Key(rsaKey(t, 2048)).Obj(),
			want: &Request{Kind: KindBootstrap, Cluster: "edge-1", RegistrationID: testRegistrationID, TokenID: "tok123", Lifetime: 24 * time.Hour},
		},
		"another signer is not ours":      {csr: makeCSR(t, "edge-1").Signer(certificatesv1.KubeletServingSignerName).Obj()},
		"another common name is not ours": {csr: makeCSR(t, "edge-1").CN("system:node:edge-1").Obj()},
		"invalid cluster name":            {csr: makeCSR(t, "Edge_1").Obj(), wantDeny: "invalid cluster name"},
		"name too long":                   {csr: makeCSR(t, strings.Repeat("a", 49)).Obj(), wantDeny: "no more than 48"},
		"server usage": {
			csr:      makeCSR(t, "edge-1").Usages(certificatesv1.UsageClientAuth, certificatesv1.UsageServerAuth).Obj(),
			wantDeny: "exactly [client auth]",
		},
		"no expiration":   {csr: makeCSR(t, "edge-1").Lifetime(nil).Obj(), wantDeny: "expirationSeconds is not set"},
		"a year":          {csr: makeCSR(t, "edge-1").Lifetime(ptr(365 * 24 * time.Hour)).Obj(), wantDeny: "lives between"},
		"masters":         {csr: makeCSR(t, "edge-1").Orgs(AgentsGroup, RegistrationGroup(testRegistrationID), "system:masters").Obj(), wantDeny: `organization "system:masters"`},
		"no registration": {csr: makeCSR(t, "edge-1").Orgs(AgentsGroup).Obj(), wantDeny: "one system:flotilla:registration:<id>"},
		"two registrations": {
			csr:      makeCSR(t, "edge-1").Orgs(AgentsGroup, RegistrationGroup(testRegistrationID), RegistrationGroup("zzzzz99999")).Obj(),
			wantDeny: "organization",
		},
		"organizational unit": {csr: makeCSR(t, "edge-1").OU("x").Obj(), wantDeny: "besides the common name"},
		"SAN":                 {csr: makeCSR(t, "edge-1").DNS("hub.example.com").Obj(), wantDeny: "subject alternative names"},
		"weak RSA":            {csr: makeCSR(t, "edge-1").Key(rsaKey(t, 1024)).Obj(), wantDeny: "RSA key of 1024 bits"},
		"P-224":               {csr: makeCSR(t, "edge-1").Key(p224).Obj(), wantDeny: "ECDSA curve P-224"},
		"not a Flotilla token": {
			csr:      makeCSR(t, "edge-1").User(BootstrapUserPrefix+"tok123", "system:bootstrappers:kubeadm:default-node-token").Obj(),
			wantDeny: "not a Flotilla registration token",
		},
		"another agent": {
			csr:      makeCSR(t, "edge-1").Renewal("edge-2").Obj(),
			wantDeny: `requested by "system:flotilla:agent:edge-2"`,
		},
		"an administrator": {
			csr:      makeCSR(t, "edge-1").User("flotilla-admin", "system:masters").Obj(),
			wantDeny: "neither a Flotilla bootstrap token nor the agent",
		},
		"renewal into another registration": {
			csr:      makeCSR(t, "edge-1").Renewal("edge-1").User(AgentUser("edge-1"), AgentsGroup, RegistrationGroup("zzzzz99999")).Obj(),
			wantDeny: "not its own",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := ParseAgentCSR(tc.csr)
			if tc.wantDeny != "" {
				var d *DenyError
				if !errors.As(err, &d) || !strings.Contains(d.Message, tc.wantDeny) {
					t.Fatalf("ParseAgentCSR = %+v, %v; want a denial with %q", got, err, tc.wantDeny)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAgentCSR: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseAgentCSR (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCSRCluster(t *testing.T) {
	if got := CSRCluster(makeCSR(t, "edge-1").Obj()); got != "edge-1" {
		t.Errorf("CSRCluster = %q", got)
	}
	if got := CSRCluster(makeCSR(t, "edge-1").CN("someone").Obj()); got != "" {
		t.Errorf("CSRCluster of another CN = %q", got)
	}
}
