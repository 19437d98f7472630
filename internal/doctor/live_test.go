package doctor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// apiServer is a TLS server that answers like a kube-apiserver serving
// Flotilla's API; ready says what /readyz answers.
func apiServer(t *testing.T, ready bool) (*httptest.Server, *rest.Config) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/apis", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"APIGroupList","apiVersion":"v1","groups":[
			{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}]},
			{"name":"cluster.flotilla.io","versions":[{"groupVersion":"cluster.flotilla.io/v1alpha1","version":"v1alpha1"}]},
			{"name":"policy.flotilla.io","versions":[{"groupVersion":"policy.flotilla.io/v1alpha1","version":"v1alpha1"}]},
			{"name":"work.flotilla.io","versions":[{"groupVersion":"work.flotilla.io/v1alpha1","version":"v1alpha1"}]}]}`))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("[-]etcd failed: reason withheld\nreadyz check failed"))
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("/version", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"gitVersion":"v1.37.2"}`))
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	cfg := &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: certPEM(srv.Certificate())}}
	return srv, cfg
}

func TestLiveHub(t *testing.T) {
	srv, cfg := apiServer(t, true)
	h, err := NewLiveHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := h.Probe(context.Background())
	if st.DiscoveryErr != nil || st.ReadyErr != nil || st.Version != "v1.37.2" || len(st.GroupVersions) != 4 {
		t.Errorf("probe: %+v", st)
	}
	chain, err := h.ServingCertificates(context.Background())
	if err != nil || len(chain) == 0 || !chain[0].Equal(srv.Certificate()) {
		t.Errorf("serving certificates: %v, %v", chain, err)
	}

	conn := NewConnection(cfg, "test")
	if conn.Server != srv.URL || conn.Insecure || len(conn.CACerts) != 1 || len(conn.ClientCerts) != 0 {
		t.Errorf("connection: %+v", conn)
	}
}

func TestLiveHubNotReady(t *testing.T) {
	_, cfg := apiServer(t, false)
	h, err := NewLiveHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := h.Probe(context.Background())
	if st.DiscoveryErr != nil || st.ReadyErr == nil {
		t.Errorf("probe: %+v", st)
	}
}

func TestLiveHubUnreachable(t *testing.T) {
	srv, cfg := apiServer(t, true)
	srv.Close()
	h, err := NewLiveHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st := h.Probe(context.Background()); st.DiscoveryErr == nil || !strings.Contains(st.DiscoveryErr.Error(), "connection refused") {
		t.Errorf("probe of a closed server: %+v", st)
	}
	if _, err := h.ServingCertificates(context.Background()); err == nil {
		t.Error("read certificates of a closed server")
	}
}

func TestHTTPGet(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("flotilla_cluster_ready{cluster=\"a\"} 1\n"))
	}))
	defer srv.Close()
	body, err := HTTPGet(context.Background(), srv.URL+"/metrics")
	if err != nil || !strings.Contains(string(body), "flotilla_cluster_ready") {
		t.Errorf("got %q, %v", body, err)
	}
	if _, err := HTTPGet(context.Background(), srv.URL+"/other"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: %v", err)
	}
}
