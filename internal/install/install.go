package install

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flotilla-io/flotilla/config"
	"github.com/flotilla-io/flotilla/internal/member"
)

// FieldManager is the server-side apply field manager of the installer.
const FieldManager = "flotilla-install"

// Names of the hub controller's identity and RBAC.
const (
	HubClusterRole = "flotilla-hub"
	// HubControllerUser is the user `flotilla hub` runs as when it
	// authenticates with a client certificate (the local fleet does).
	HubControllerUser = "system:flotilla:hub"
	// HubServiceAccount in flotilla-system is the identity of a hub that
	// runs in a cluster.
	HubServiceAccount = "flotilla-hub"
)

// Objects returns everything Install applies, in order.
func Objects() ([]*unstructured.Unstructured, error) {
	objs, err := decodeFS(config.CRDs)
	if err != nil {
		return nil, err
	}
	admission, err := decodeFS(config.Admission)
	if err != nil {
		return nil, err
	}
	objs = append(objs, admission...)
	objs = append(objs, toUnstructured(&corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: member.Namespace},
	}))
	roles, err := decode(config.RBAC)
	if err != nil {
		return nil, err
	}
	objs = append(objs, roles...)
	subjects := []rbacv1.Subject{
		{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: HubControllerUser},
		{Kind: rbacv1.ServiceAccountKind, Name: HubServiceAccount, Namespace: member.Namespace},
	}
	for _, r := range roles {
		ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: r.GetKind(), Name: r.GetName()}
		if r.GetKind() == "ClusterRole" {
			objs = append(objs, toUnstructured(&rbacv1.ClusterRoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: r.GetName()},
				RoleRef:    ref, Subjects: subjects,
			}))
		} else {
			objs = append(objs, toUnstructured(&rbacv1.RoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: r.GetName(), Namespace: r.GetNamespace()},
				RoleRef:    ref, Subjects: subjects,
			}))
		}
	}
	objs = append(objs, toUnstructured(&corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: HubServiceAccount, Namespace: member.Namespace},
	}))
	return objs, nil
}

// decodeFS decodes every file of fsys, in lexical order.
func decodeFS(fsys fs.ReadFileFS) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fsys.ReadFile(path)
		if err != nil {
			return err
		}
		more, err := decode(b)
		objs = append(objs, more...)
		return err
	})
	return objs, err
}

func decode(b []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := d.Decode(&u.Object); err != nil {
			if err == io.EOF {
				return out, nil
			}
			return nil, err
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

func toUnstructured(o client.Object) *unstructured.Unstructured {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		panic(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// Install applies every object by server-side apply and waits until the
// CRDs are established.
func Install(ctx context.Context, cfg *rest.Config, progress io.Writer) error {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	objs, err := Objects()
	if err != nil {
		return fmt.Errorf("decode embedded manifests: %w", err)
	}
	for _, o := range objs {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		name := o.GetName()
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
			if err := c.Get(ctx, client.ObjectKey{Name: name}, u); err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, ci := range conds {
				m, _ := ci.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s not established: %w", name, err)
		}
	}
	if progress != nil {
		fmt.Fprintf(progress, "installed %d objects on the hub\n", len(objs))
	}
	return nil
}
