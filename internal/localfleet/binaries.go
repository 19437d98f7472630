package localfleet

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Versions of the Kubernetes components the local fleet runs. They match the
// pins in hack/tools.
const (
	KubeVersion = "v1.37.2"
	EtcdVersion = "v3.6.6"
	KwokVersion = "v0.8.0"
)

// Binaries are the paths of the component binaries.
type Binaries struct {
	Etcd                  string
	KubeAPIServer         string
	KubeControllerManager string
	KubeScheduler         string
	Kwok                  string
	Kwokctl               string
	Kubectl               string
}

// binarySpec names one binary and the environment variable that may point at
// it.
var binarySpecs = []struct {
	name, env string
	field     func(*Binaries) *string
}{
	{"etcd", "ETCD_BINARY", func(b *Binaries) *string { return &b.Etcd }},
	{"kube-apiserver", "KUBE_APISERVER_BINARY", func(b *Binaries) *string { return &b.KubeAPIServer }},
	{"kube-controller-manager", "KUBE_CONTROLLER_MANAGER_BINARY", func(b *Binaries) *string { return &b.KubeControllerManager }},
	{"kube-scheduler", "KUBE_SCHEDULER_BINARY", func(b *Binaries) *string { return &b.KubeScheduler }},
	{"kwok", "KWOK_BINARY", func(b *Binaries) *string { return &b.Kwok }},
	{"kwokctl", "KWOKCTL_BINARY", func(b *Binaries) *string { return &b.Kwokctl }},
	{"kubectl", "KUBECTL_BINARY", func(b *Binaries) *string { return &b.Kubectl }},
}

// CacheDir is the per-user, per-version directory where hack/k8s-binaries.sh
// caches the binaries it builds.
func CacheDir() string {
	if d := os.Getenv("FLOTILLA_K8S_CACHE"); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "flotilla", "k8s", KubeVersion+"-etcd"+EtcdVersion+"-kwok"+KwokVersion)
}

// FindBinaries locates every component binary. For each it takes, in order:
// the environment variable (ETCD_BINARY, KUBE_APISERVER_BINARY, ...), the
// directory FLOTILLA_K8S_BIN_DIR, bin/k8s beside the running flotilla binary
// or under extraDirs, the build cache, and PATH.
func FindBinaries(extraDirs ...string) (Binaries, error) {
	var dirs []string
	if d := os.Getenv("FLOTILLA_K8S_BIN_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Join(filepath.Dir(exe), "k8s"))
	}
	for _, d := range extraDirs {
		dirs = append(dirs, filepath.Join(d, "bin", "k8s"))
	}
	dirs = append(dirs, CacheDir())

	var b Binaries
	var missing []string
	for _, s := range binarySpecs {
		p := findOne(s.name, s.env, dirs)
		if p == "" {
			missing = append(missing, s.name)
			continue
		}
		*s.field(&b) = p
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("kubernetes binaries not found: %s; build them once with `make k8s-binaries` "+
			"(about 10 minutes cold, cached in %s), or point %s at them",
			strings.Join(missing, ", "), CacheDir(), "FLOTILLA_K8S_BIN_DIR")
	}
	return b, nil
}

func findOne(name, env string, dirs []string) string {
	if p := os.Getenv(env); p != "" && executable(p) {
		return p
	}
	for _, d := range dirs {
		if p := filepath.Join(d, name); executable(p) {
			if abs, err := filepath.EvalSymlinks(p); err == nil {
				return abs
			}
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

func executable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
