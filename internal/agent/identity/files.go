package identity

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/flotilla-io/flotilla/internal/pki"
)

// Files of an agent's directory.
const (
	// ConfigFile is the agent's configuration: the hub, the cluster and
	// its local kubeconfig.
	ConfigFile = "agent.yaml"
	// CAFile is the hub's CA, as registration proved it.
	CAFile = "hub-ca.crt"
	// CertFile holds the agent's current client certificate and its key,
	// in one file so that a rotation replaces both at once (0600).
	CertFile = "agent-client.pem"
	// PendingKeyFile holds the key of a registration that has not
	// finished, so that `flotilla register` run again resumes it (0600).
	PendingKeyFile = "pending-key.pem"
	// KubeconfigFile is a kubeconfig for the hub with the agent's identity,
	// for kubectl and for debugging; it names the files above, so it stays
	// valid across rotations.
	KubeconfigFile = "hub.kubeconfig"
)

// DefaultDir is the agent's directory when --dir is not given.
func DefaultDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".flotilla-agent")
	}
	return ".flotilla-agent"
}

// Config is what `flotilla register` records for `flotilla agent`.
type Config struct {
	// Hub is the hub's URL.
	Hub string `json:"hub"`
	// Cluster is the cluster's name in the fleet.
	Cluster string `json:"cluster"`
	// ClusterKubeconfig reaches the local cluster; empty means in-cluster.
	ClusterKubeconfig string `json:"clusterKubeconfig,omitempty"`
	// ClusterContext is the context in ClusterKubeconfig; empty means its
	// current one.
	ClusterContext string `json:"clusterContext,omitempty"`
	// CertLifetime is the lifetime the agent asks for its certificates.
	CertLifetime metav1.Duration `json:"certLifetime"`
}

// LoadConfig reads an agent directory's configuration.
func LoadConfig(dir string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s holds no registered agent (no %s): register the cluster first with `flotilla register`", dir, ConfigFile)
	}
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	if c.Hub == "" || c.Cluster == "" {
		return nil, fmt.Errorf("%s: hub and cluster must be set", filepath.Join(dir, ConfigFile))
	}
	return &c, nil
}

func saveConfig(dir string, c *Config) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, ConfigFile), b, 0o600)
}

// writeFileAtomic replaces path with data: readers see the old file or the
// new one, never a part.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// encodeCertAndKey is the content of CertFile.
func encodeCertAndKey(certDER []byte, key crypto.Signer) ([]byte, error) {
	k, err := pki.KeyPEM(key)
	if err != nil {
		return nil, err
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), k...), nil
}

// loadCertAndKey reads CertFile.
func loadCertAndKey(path string) (*tls.Certificate, *x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	pair, err := tls.X509KeyPair(b, b)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	pair.Leaf = leaf
	return &pair, leaf, nil
}

// writeKubeconfig writes KubeconfigFile, naming CAFile and CertFile.
func writeKubeconfig(dir, hub, cluster string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	user := "flotilla-agent-" + cluster
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["hub"] = &clientcmdapi.Cluster{Server: hub, CertificateAuthority: filepath.Join(abs, CAFile)}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificate: filepath.Join(abs, CertFile), ClientKey: filepath.Join(abs, CertFile)}
	cfg.Contexts["hub"] = &clientcmdapi.Context{Cluster: "hub", AuthInfo: user}
	cfg.CurrentContext = "hub"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, KubeconfigFile), b, 0o600)
}

// lifetimeOr returns d, or the default certificate lifetime when d is zero.
func lifetimeOr(d time.Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
