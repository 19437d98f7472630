package propagation

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// hubMetadata is what the hub's API server adds to every template.
func hubMetadata(name, namespace string, labels, annotations map[string]any) map[string]any {
	m := map[string]any{
		"name":              name,
		"resourceVersion":   "4711",
		"uid":               "0c6f3d4e-hub-uid",
		"generation":        int64(3),
		"creationTimestamp": "2024-01-02T03:04:05Z",
		"managedFields": []any{map[string]any{
			"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
			"fieldsType": "FieldsV1", "fieldsV1": map[string]any{"f:data": map[string]any{}},
		}},
		"finalizers": []any{"example.com/hold"},
	}
	if namespace != "" {
		m["namespace"] = namespace
	}
	if labels != nil {
		m["labels"] = labels
	}
	if annotations != nil {
		m["annotations"] = annotations
	}
	return m
}

// deploymentTemplate is a Deployment as the hub stores it.
func deploymentTemplate() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata": hubMetadata("web", "shop", map[string]any{"app": "web"}, map[string]any{
			"kubectl.kubernetes.io/last-applied-configuration": `{"kind":"Deployment"}`,
			"deployment.kubernetes.io/revision":                "3",
			workv1alpha1.AnnotationPolicy:                      "PropagationPolicy/shop/web",
			"team":                                             "checkout",
		}),
		"spec": map[string]any{
			"replicas": int64(6),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec": map[string]any{"containers": []any{
					map[string]any{"name": "web", "image": "nginx:1.27", "ports": []any{map[string]any{"containerPort": int64(80)}}},
				}},
			},
		},
		"status": map[string]any{"replicas": int64(6), "readyReplicas": int64(6), "observedGeneration": int64(3)},
	}}
}

func memberLabels(extra map[string]any, bindingUID string) map[string]any {
	out := map[string]any{clusterv1alpha1.LabelManagedBy: clusterv1alpha1.ManagedByValue}
	if bindingUID != "" {
		out[workv1alpha1.LabelBindingUID] = bindingUID
	} else {
		out[workv1alpha1.LabelDependency] = "true"
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

var hashPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// withoutHash returns a copy of o without the manifest-hash annotation, and
// the hash.
func withoutHash(t *testing.T, o *unstructured.Unstructured) (map[string]any, string) {
	t.Helper()
	c := o.DeepCopy()
	ann := c.GetAnnotations()
	h, ok := ann[workv1alpha1.AnnotationManifestHash]
	if !ok {
		t.Fatalf("rendered manifest has no %s annotation", workv1alpha1.AnnotationManifestHash)
	}
	if !hashPattern.MatchString(h) {
		t.Errorf("manifest hash %q is not 16 hex digits", h)
	}
	delete(ann, workv1alpha1.AnnotationManifestHash)
	c.SetAnnotations(ann)
	return c.Object, h
}

func TestRender(t *testing.T) {
	service := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": hubMetadata("web", "shop", nil, nil),
		"spec": map[string]any{
			"type":       "ClusterIP",
			"clusterIP":  "10.96.12.34",
			"clusterIPs": []any{"10.96.12.34"},
			"selector":   map[string]any{"app": "web"},
			"ports":      []any{map[string]any{"port": int64(80), "protocol": "TCP", "targetPort": int64(8080)}},
		},
		"status": map[string]any{"loadBalancer": map[string]any{}},
	}}
	job := toUnstructured(t, &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: "migrate", Namespace: "shop", UID: "hub-job-uid", ResourceVersion: "9", Labels: map[string]string{"app": "migrate"}},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](2),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/controller-uid": "hub-job-uid"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
					"app":                                "migrate",
					"controller-uid":                     "hub-job-uid",
					"batch.kubernetes.io/controller-uid": "hub-job-uid",
					"job-name":                           "migrate",
					"batch.kubernetes.io/job-name":       "migrate",
				}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "m", Image: "migrate:1"}}},
			},
		},
		Status: batchv1.JobStatus{Active: 1},
	})
	configMap := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": hubMetadata("web-env", "shop", map[string]any{"app": "web"}, map[string]any{
			"kubectl.kubernetes.io/last-applied-configuration": "{}",
		}),
		"data": map[string]any{"MODE": "prod"},
	}}
	pvc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": hubMetadata("data", "shop", nil, nil),
		"spec": map[string]any{
			"accessModes": []any{"ReadWriteOnce"},
			"resources":   map[string]any{"requests": map[string]any{"storage": "1Gi"}},
			"volumeName":  "pvc-hub-volume",
		},
		"status": map[string]any{"phase": "Bound"},
	}}
	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": hubMetadata("once", "shop", nil, nil),
		"spec": map[string]any{
			"nodeName":   "hub-node-1",
			"containers": []any{map[string]any{"name": "c", "image": "busybox"}},
		},
		"status": map[string]any{"phase": "Running"},
	}}
	serviceAccount := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ServiceAccount",
		"metadata":                     hubMetadata("runner", "shop", nil, nil),
		"secrets":                      []any{map[string]any{"name": "runner-token-abcde"}},
		"automountServiceAccountToken": false,
	}}
	namespace := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": hubMetadata("shop", "", map[string]any{"kubernetes.io/metadata.name": "shop"}, nil),
		"spec":     map[string]any{"finalizers": []any{"kubernetes"}},
		"status":   map[string]any{"phase": "Active"},
	}}

	cases := map[string]struct {
		tmpl       *unstructured.Unstructured
		bindingRef string
		bindingUID string
		replicas   *int32
		want       map[string]any
	}{
		"Deployment with a replica count": {
			tmpl: deploymentTemplate(), bindingRef: "shop/web-deployment", bindingUID: "b-uid", replicas: ptr.To[int32](2),
			want: map[string]any{
				"apiVersion": "apps/v1", "kind": "Deployment",
				"metadata": map[string]any{
					"name": "web", "namespace": "shop",
					"labels": memberLabels(map[string]any{"app": "web"}, "b-uid"),
					"annotations": map[string]any{
						"team":                         "checkout",
						workv1alpha1.AnnotationBinding: "shop/web-deployment",
					},
				},
				"spec": map[string]any{
					"replicas": int64(2),
					"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
					"template": map[string]any{
						"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
						"spec": map[string]any{"containers": []any{
							map[string]any{"name": "web", "image": "nginx:1.27", "ports": []any{map[string]any{"containerPort": int64(80)}}},
						}},
					},
				},
			},
		},
		"Deployment without a replica count keeps the template's": {
			tmpl: deploymentTemplate(), bindingRef: "shop/web-deployment", bindingUID: "b-uid", replicas: nil,
			want: map[string]any{
				"apiVersion": "apps/v1", "kind": "Deployment",
				"metadata": map[string]any{
					"name": "web", "namespace": "shop",
					"labels": memberLabels(map[string]any{"app": "web"}, "b-uid"),
					"annotations": map[string]any{
						"team":                         "checkout",
						workv1alpha1.AnnotationBinding: "shop/web-deployment",
					},
				},
				"spec": deploymentTemplate().Object["spec"],
			},
		},
		"Deployment with zero replicas": {
			tmpl: deploymentTemplate(), bindingRef: "shop/web-deployment", bindingUID: "b-uid", replicas: ptr.To[int32](0),
			want: func() map[string]any {
				spec := deploymentTemplate().Object["spec"].(map[string]any)
				spec["replicas"] = int64(0)
				return map[string]any{
					"apiVersion": "apps/v1", "kind": "Deployment",
					"metadata": map[string]any{
						"name": "web", "namespace": "shop",
						"labels": memberLabels(map[string]any{"app": "web"}, "b-uid"),
						"annotations": map[string]any{
							"team":                         "checkout",
							workv1alpha1.AnnotationBinding: "shop/web-deployment",
						},
					},
					"spec": spec,
				}
			}(),
		},
		"dependency: dependency label, no binding annotation": {
			tmpl: configMap, bindingRef: "", bindingUID: "",
			want: map[string]any{
				"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{
					"name": "web-env", "namespace": "shop",
					"labels":      memberLabels(map[string]any{"app": "web"}, ""),
					"annotations": map[string]any{},
				},
				"data": map[string]any{"MODE": "prod"},
			},
		},
		"Service loses its cluster IPs": {
			tmpl: service, bindingRef: "shop/web-service", bindingUID: "s-uid",
			want: map[string]any{
				"apiVersion": "v1", "kind": "Service",
				"metadata": map[string]any{
					"name": "web", "namespace": "shop",
					"labels":      memberLabels(nil, "s-uid"),
					"annotations": map[string]any{workv1alpha1.AnnotationBinding: "shop/web-service"},
				},
				"spec": map[string]any{
					"type":     "ClusterIP",
					"selector": map[string]any{"app": "web"},
					"ports":    []any{map[string]any{"port": int64(80), "protocol": "TCP", "targetPort": int64(8080)}},
				},
			},
		},
		"Job loses its generated selector and labels": {
			tmpl: job, bindingRef: "shop/migrate-job", bindingUID: "j-uid",
			want: map[string]any{
				"apiVersion": "batch/v1", "kind": "Job",
				"metadata": map[string]any{
					"name": "migrate", "namespace": "shop",
					"labels":      memberLabels(map[string]any{"app": "migrate"}, "j-uid"),
					"annotations": map[string]any{workv1alpha1.AnnotationBinding: "shop/migrate-job"},
				},
				"spec": map[string]any{
					"backoffLimit": int64(2),
					"template": map[string]any{
						"metadata": map[string]any{"labels": map[string]any{"app": "migrate"}},
						"spec": map[string]any{
							"restartPolicy": "Never",
							"containers":    []any{map[string]any{"name": "m", "image": "migrate:1", "resources": map[string]any{}}},
						},
					},
				},
			},
		},
		"PersistentVolumeClaim loses its volume name": {
			tmpl: pvc, bindingRef: "shop/data-pvc", bindingUID: "p-uid",
			want: map[string]any{
				"apiVersion": "v1", "kind": "PersistentVolumeClaim",
				"metadata": map[string]any{
					"name": "data", "namespace": "shop",
					"labels":      memberLabels(nil, "p-uid"),
					"annotations": map[string]any{workv1alpha1.AnnotationBinding: "shop/data-pvc"},
				},
				"spec": map[string]any{
					"accessModes": []any{"ReadWriteOnce"},
					"resources":   map[string]any{"requests": map[string]any{"storage": "1Gi"}},
				},
			},
		},
		"Pod loses its node": {
			tmpl: pod, bindingRef: "shop/once-pod", bindingUID: "o-uid",
			want: map[string]any{
				"apiVersion": "v1", "kind": "Pod",
				"metadata": map[string]any{
					"name": "once", "namespace": "shop",
					"labels":      memberLabels(nil, "o-uid"),
					"annotations": map[string]any{workv1alpha1.AnnotationBinding: "shop/once-pod"},
				},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "busybox"}}},
			},
		},
		"ServiceAccount loses its token secrets": {
			tmpl: serviceAccount, bindingRef: "", bindingUID: "",
			want: map[string]any{
				"apiVersion": "v1", "kind": "ServiceAccount",
				"metadata": map[string]any{
					"name": "runner", "namespace": "shop",
					"labels":      memberLabels(nil, ""),
					"annotations": map[string]any{},
				},
				"automountServiceAccountToken": false,
			},
		},
		"cluster-scoped template": {
			tmpl: namespace, bindingRef: "shop-namespace", bindingUID: "n-uid",
			want: map[string]any{
				"apiVersion": "v1", "kind": "Namespace",
				"metadata": map[string]any{
					"name":        "shop",
					"labels":      memberLabels(map[string]any{"kubernetes.io/metadata.name": "shop"}, "n-uid"),
					"annotations": map[string]any{workv1alpha1.AnnotationBinding: "shop-namespace"},
				},
				"spec": map[string]any{"finalizers": []any{"kubernetes"}},
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := tc.tmpl.DeepCopy()
			got := render(tc.tmpl, tc.bindingRef, tc.bindingUID, tc.replicas)
			gotObj, _ := withoutHash(t, got)
			if diff := cmp.Diff(tc.want, gotObj); diff != "" {
				t.Errorf("render() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before.Object, tc.tmpl.Object); diff != "" {
				t.Errorf("render() changed the template (-before +after):\n%s", diff)
			}
		})
	}
}

// TestRenderDoesNotAlias: the manifest is applied and may be changed; the
// template is the informer's cached object and must not change with it.
func TestRenderDoesNotAlias(t *testing.T) {
	tmpl := deploymentTemplate()
	out := render(tmpl, "shop/web-deployment", "b-uid", nil)
	out.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"] = "evil:1"
	out.Object["spec"].(map[string]any)["selector"].(map[string]any)["matchLabels"].(map[string]any)["app"] = "evil"
	lbls := out.GetLabels()
	lbls["app"] = "evil"
	out.SetLabels(lbls)

	if diff := cmp.Diff(deploymentTemplate().Object, tmpl.Object); diff != "" {
		t.Errorf("changing the manifest changed the template (-want +got):\n%s", diff)
	}
}

// TestRenderHeadlessService: a headless Service (clusterIP None) is not an
// address the hub assigned; without it the member allocates a cluster IP
// and the Service, whose clusterIP is immutable, is no longer headless.
// Karmada keeps clusterIP when it is None.
func TestRenderHeadlessService(t *testing.T) {
	svc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": hubMetadata("db", "shop", nil, nil),
		"spec": map[string]any{
			"clusterIP":  "None",
			"clusterIPs": []any{"None"},
			"selector":   map[string]any{"app": "db"},
			"ports":      []any{map[string]any{"port": int64(5432)}},
		},
	}}
	out := render(svc, "shop/db-service", "uid", nil)
	got, found, _ := unstructured.NestedString(out.Object, "spec", "clusterIP")
	if !found || got != "None" {
		t.Errorf("rendered spec.clusterIP = %q (found %v), want \"None\"", got, found)
	}
}

// TestRenderJobWithManualSelector: with spec.manualSelector true the
// selector is the user's, not generated, and the API server requires it.
// Karmada removes a Job's selector only when manualSelector is not true.
func TestRenderJobWithManualSelector(t *testing.T) {
	job := toUnstructured(t, &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: "batch", Namespace: "shop"},
		Spec: batchv1.JobSpec{
			ManualSelector: ptr.To(true),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"run": "batch-1"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"run": "batch-1"}},
				Spec:       corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "c"}}},
			},
		},
	})
	out := render(job, "shop/batch-job", "uid", nil)
	got, found, _ := unstructured.NestedStringMap(out.Object, "spec", "selector", "matchLabels")
	if diff := cmp.Diff(map[string]string{"run": "batch-1"}, got); !found || diff != "" {
		t.Errorf("rendered spec.selector.matchLabels (found %v) (-want +got):\n%s", found, diff)
	}
}

func hashOfRender(t *testing.T, tmpl *unstructured.Unstructured, bindingUID string, replicas *int32) string {
	t.Helper()
	_, h := withoutHash(t, render(tmpl, "shop/web-deployment", bindingUID, replicas))
	return h
}

func TestRenderHash(t *testing.T) {
	base := hashOfRender(t, deploymentTemplate(), "b-uid", ptr.To[int32](2))

	// The same template, from JSON with its keys in another order; JSON
	// numbers decode as float64.
	fromJSON := func(t *testing.T, s string) *unstructured.Unstructured {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return &unstructured.Unstructured{Object: m}
	}
	canonical, _ := json.Marshal(deploymentTemplate().Object)
	reordered := `{"status":{"readyReplicas":6,"replicas":6},
		"spec":{"template":{"spec":{"containers":[{"ports":[{"containerPort":80}],"image":"nginx:1.27","name":"web"}]},"metadata":{"labels":{"app":"web"}}},
		        "selector":{"matchLabels":{"app":"web"}},"replicas":6},
		"metadata":{"annotations":{"team":"checkout","deployment.kubernetes.io/revision":"3"},"labels":{"app":"web"},"namespace":"shop","name":"web"},
		"kind":"Deployment","apiVersion":"apps/v1"}`

	mutate := func(f func(u *unstructured.Unstructured)) *unstructured.Unstructured {
		u := deploymentTemplate()
		f(u)
		return u
	}

	cases := map[string]struct {
		tmpl       *unstructured.Unstructured
		bindingUID string
		replicas   *int32
		same       bool
	}{
		"a second call": {
			tmpl: deploymentTemplate(), bindingUID: "b-uid", replicas: ptr.To[int32](2), same: true,
		},
		"decoded from JSON": {
			tmpl: fromJSON(t, string(canonical)), bindingUID: "b-uid", replicas: ptr.To[int32](2), same: true,
		},
		"decoded from JSON in another key order, without hub metadata": {
			tmpl: fromJSON(t, reordered), bindingUID: "b-uid", replicas: ptr.To[int32](2), same: true,
		},
		"new resourceVersion, generation, managedFields and status": {
			tmpl: mutate(func(u *unstructured.Unstructured) {
				u.SetResourceVersion("9999")
				u.SetGeneration(42)
				u.SetManagedFields(nil)
				u.SetUID(types.UID("another"))
				u.Object["status"] = map[string]any{"replicas": int64(1)}
			}),
			bindingUID: "b-uid", replicas: ptr.To[int32](2), same: true,
		},
		"new last-applied-configuration": {
			tmpl: mutate(func(u *unstructured.Unstructured) {
				a := u.GetAnnotations()
				a["kubectl.kubernetes.io/last-applied-configuration"] = `{"changed":true}`
				u.SetAnnotations(a)
			}),
			bindingUID: "b-uid", replicas: ptr.To[int32](2), same: true,
		},
		"template's own replicas differ but are overridden": {
			tmpl: mutate(func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, int64(9), "spec", "replicas")
			}),
			bindingUID: "b-uid", replicas: ptr.To[int32](2), same: true,
		},
		"image changed": {
			tmpl: mutate(func(u *unstructured.Unstructured) {
				u.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"] = "nginx:1.28"
			}),
			bindingUID: "b-uid", replicas: ptr.To[int32](2), same: false,
		},
		"selector changed": {
			tmpl: mutate(func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedStringMap(u.Object, map[string]string{"app": "web", "v": "2"}, "spec", "selector", "matchLabels")
			}),
			bindingUID: "b-uid", replicas: ptr.To[int32](2), same: false,
		},
		"another replica count": {
			tmpl: deploymentTemplate(), bindingUID: "b-uid", replicas: ptr.To[int32](3), same: false,
		},
		"no replica count (template's 6)": {
			tmpl: deploymentTemplate(), bindingUID: "b-uid", replicas: nil, same: false,
		},
		"label changed": {
			tmpl: mutate(func(u *unstructured.Unstructured) {
				u.SetLabels(map[string]string{"app": "web", "version": "2"})
			}),
			bindingUID: "b-uid", replicas: ptr.To[int32](2), same: false,
		},
		"annotation changed": {
			tmpl: mutate(func(u *unstructured.Unstructured) {
				a := u.GetAnnotations()
				a["team"] = "payments"
				u.SetAnnotations(a)
			}),
			bindingUID: "b-uid", replicas: ptr.To[int32](2), same: false,
		},
		"another binding": {
			tmpl: deploymentTemplate(), bindingUID: "other-uid", replicas: ptr.To[int32](2), same: false,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := hashOfRender(t, tc.tmpl, tc.bindingUID, tc.replicas)
			if (got == base) != tc.same {
				t.Errorf("hash = %s, base hash = %s; want same = %v", got, base, tc.same)
			}
		})
	}
}

// TestRenderHashIsOfTheManifest: the annotation is the hash of the rendered
// manifest without it, so a member object can be checked against it.
func TestRenderHashIsOfTheManifest(t *testing.T) {
	out := render(deploymentTemplate(), "shop/web-deployment", "b-uid", ptr.To[int32](2))
	obj, h := withoutHash(t, out)
	if got := hashOf(obj); got != h {
		t.Errorf("hashOf(manifest without the hash) = %s, annotation = %s", got, h)
	}
}

// memberCopy is what a member returns for manifest after applying it: the
// manifest plus whatever the member adds.
func memberCopy(manifest *unstructured.Unstructured, f func(o map[string]any)) *unstructured.Unstructured {
	live := manifest.DeepCopy()
	if f != nil {
		f(live.Object)
	}
	return live
}

func container0(o map[string]any) map[string]any {
	return o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
}

func TestUpToDate(t *testing.T) {
	manifest := render(deploymentTemplate(), "shop/web-deployment", "b-uid", ptr.To[int32](2))
	cm := render(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "env", "namespace": "shop"},
		"data":     map[string]any{"A": "1"},
	}}, "", "", nil)

	setLabels := func(f func(l map[string]any)) func(o map[string]any) {
		return func(o map[string]any) {
			l := o["metadata"].(map[string]any)["labels"].(map[string]any)
			f(l)
		}
	}

	cases := map[string]struct {
		manifest *unstructured.Unstructured
		live     *unstructured.Unstructured
		want     bool
	}{
		"no live object": {manifest: manifest, live: nil, want: false},
		"exactly the manifest": {
			manifest: manifest, live: memberCopy(manifest, nil), want: true,
		},
		"hash differs": {
			manifest: manifest,
			live: memberCopy(manifest, func(o map[string]any) {
				o["metadata"].(map[string]any)["annotations"].(map[string]any)[workv1alpha1.AnnotationManifestHash] = "0000000000000000"
			}),
			want: false,
		},
		"hash missing": {
			manifest: manifest,
			live: memberCopy(manifest, func(o map[string]any) {
				delete(o["metadata"].(map[string]any)["annotations"].(map[string]any), workv1alpha1.AnnotationManifestHash)
			}),
			want: false,
		},
		"member added defaults, metadata and status": {
			manifest: manifest,
			live: memberCopy(manifest, func(o map[string]any) {
				md := o["metadata"].(map[string]any)
				md["uid"] = "member-uid"
				md["resourceVersion"] = "12"
				md["generation"] = int64(1)
				md["annotations"].(map[string]any)["deployment.kubernetes.io/revision"] = "1"
				md["labels"].(map[string]any)["pod-template-hash"] = "abc"
				spec := o["spec"].(map[string]any)
				spec["strategy"] = map[string]any{"type": "RollingUpdate"}
				spec["revisionHistoryLimit"] = int64(10)
				c := container0(o)
				c["imagePullPolicy"] = "IfNotPresent"
				c["terminationMessagePath"] = "/dev/termination-log"
				c["ports"].([]any)[0].(map[string]any)["protocol"] = "TCP"
				o["status"] = map[string]any{"replicas": int64(2), "readyReplicas": int64(2)}
			}),
			want: true,
		},
		"image drifted": {
			manifest: manifest,
			live:     memberCopy(manifest, func(o map[string]any) { container0(o)["image"] = "nginx:latest" }),
			want:     false,
		},
		"replicas drifted": {
			manifest: manifest,
			live:     memberCopy(manifest, func(o map[string]any) { o["spec"].(map[string]any)["replicas"] = int64(5) }),
			want:     false,
		},
		"replicas removed": {
			manifest: manifest,
			live:     memberCopy(manifest, func(o map[string]any) { delete(o["spec"].(map[string]any), "replicas") }),
			want:     false,
		},
		"selector map removed": {
			manifest: manifest,
			live:     memberCopy(manifest, func(o map[string]any) { delete(o["spec"].(map[string]any), "selector") }),
			want:     false,
		},
		"container added": {
			manifest: manifest,
			live: memberCopy(manifest, func(o map[string]any) {
				ps := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
				ps["containers"] = append(ps["containers"].([]any), map[string]any{"name": "sidecar", "image": "envoy"})
			}),
			want: false,
		},
		"container removed": {
			manifest: manifest,
			live: memberCopy(manifest, func(o map[string]any) {
				o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"] = []any{}
			}),
			want: false,
		},
		"numbers read back as float64": {
			manifest: manifest,
			live: memberCopy(manifest, func(o map[string]any) {
				o["spec"].(map[string]any)["replicas"] = float64(2)
				container0(o)["ports"].([]any)[0].(map[string]any)["containerPort"] = float64(80)
			}),
			want: true,
		},
		"number read back as float64, but different": {
			manifest: manifest,
			live: memberCopy(manifest, func(o map[string]any) {
				container0(o)["ports"].([]any)[0].(map[string]any)["containerPort"] = float64(8080)
			}),
			want: false,
		},
		"number turned string": {
			manifest: manifest,
			live: memberCopy(manifest, func(o map[string]any) {
				container0(o)["ports"].([]any)[0].(map[string]any)["containerPort"] = "80"
			}),
			want: false,
		},
		"binding label removed in the member": {
			manifest: manifest,
			live:     memberCopy(manifest, setLabels(func(l map[string]any) { delete(l, workv1alpha1.LabelBindingUID) })),
			want:     false,
		},
		"template label changed in the member": {
			manifest: manifest,
			live:     memberCopy(manifest, setLabels(func(l map[string]any) { l["app"] = "other" })),
			want:     false,
		},
		"all labels removed in the member": {
			manifest: manifest,
			live: memberCopy(manifest, func(o map[string]any) {
				delete(o["metadata"].(map[string]any), "labels")
			}),
			want: false,
		},
		"ConfigMap unchanged": {
			manifest: cm, live: memberCopy(cm, nil), want: true,
		},
		"ConfigMap value drifted": {
			manifest: cm,
			live:     memberCopy(cm, func(o map[string]any) { o["data"].(map[string]any)["A"] = "2" }),
			want:     false,
		},
		"ConfigMap data removed": {
			manifest: cm,
			live:     memberCopy(cm, func(o map[string]any) { delete(o, "data") }),
			want:     false,
		},
		"ConfigMap key added by the member": {
			manifest: cm,
			live:     memberCopy(cm, func(o map[string]any) { o["data"].(map[string]any)["B"] = "x" }),
			want:     true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := upToDate(tc.manifest, tc.live); got != tc.want {
				t.Errorf("upToDate() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestUpToDateTypedRoundTrip: a Job rendered from a typed template compares
// equal with itself after a JSON round trip (all numbers float64), the way
// an object read back from a member may look.
func TestUpToDateTypedRoundTrip(t *testing.T) {
	job := toUnstructured(t, &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "shop"},
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr.To[int32](4),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "c", Image: "c", Args: []string{"a", "b"}}},
			}},
		},
	})
	manifest := render(job, "shop/j-job", "uid", nil)
	raw, err := json.Marshal(manifest.Object)
	if err != nil {
		t.Fatal(err)
	}
	live := &unstructured.Unstructured{}
	if err := json.Unmarshal(raw, &live.Object); err != nil {
		t.Fatal(err)
	}
	if !upToDate(manifest, live) {
		t.Errorf("upToDate(manifest, JSON round trip of manifest) = false, want true")
	}
	args := live.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	args["args"] = []any{"b", "a"}
	if upToDate(manifest, live) {
		t.Errorf("upToDate() = true with the args reordered in the member, want false")
	}
}

func TestRenderServiceDropsMemberAllocatedFields(t *testing.T) {
	svc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "web", "namespace": "shop"},
		"spec": map[string]any{
			"type": "LoadBalancer", "clusterIP": "10.96.0.9", "clusterIPs": []any{"10.96.0.9"},
			"healthCheckNodePort": int64(31000), "ipFamilies": []any{"IPv4"}, "ipFamilyPolicy": "SingleStack",
			"ports": []any{map[string]any{"port": int64(80), "nodePort": int64(30080)}},
		},
	}}
	out := render(svc, "shop/web-service", "uid", nil)
	spec, _, _ := unstructured.NestedMap(out.Object, "spec")
	for _, f := range []string{"clusterIP", "clusterIPs", "healthCheckNodePort", "ipFamilies", "ipFamilyPolicy"} {
		if _, ok := spec[f]; ok {
			t.Errorf("spec.%s survived rendering", f)
		}
	}
	ports, _, _ := unstructured.NestedSlice(out.Object, "spec", "ports")
	if len(ports) != 1 || ports[0].(map[string]any)["nodePort"] != nil || ports[0].(map[string]any)["port"] != int64(80) {
		t.Errorf("ports = %v, want port 80 without nodePort", ports)
	}
	if p, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports"); p[0].(map[string]any)["nodePort"] != int64(30080) {
		t.Errorf("render changed the template's ports: %v", p)
	}
}
