package propagation

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// toUnstructured converts a typed object, whose TypeMeta must be set.
func toUnstructured(t *testing.T, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatalf("ToUnstructured: %v", err)
	}
	return &unstructured.Unstructured{Object: m}
}

func TestDivisible(t *testing.T) {
	cases := map[string]struct {
		apiVersion, kind string
		want             bool
	}{
		"Deployment":                {"apps/v1", "Deployment", true},
		"StatefulSet":               {"apps/v1", "StatefulSet", true},
		"ReplicaSet":                {"apps/v1", "ReplicaSet", true},
		"DaemonSet":                 {"apps/v1", "DaemonSet", false},
		"Job":                       {"batch/v1", "Job", false},
		"Pod":                       {"v1", "Pod", false},
		"Deployment of another API": {"extensions/v1beta1", "Deployment", false},
		"CRD named Deployment":      {"example.com/v1", "Deployment", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := divisible(tc.apiVersion, tc.kind); got != tc.want {
				t.Errorf("divisible(%q, %q) = %v, want %v", tc.apiVersion, tc.kind, got, tc.want)
			}
		})
	}
}

func TestReplicasOf(t *testing.T) {
	withSpec := func(apiVersion, kind string, spec map[string]any) *unstructured.Unstructured {
		u := makeTemplate(apiVersion, kind, "default", "w", nil)
		if spec != nil {
			u.Object["spec"] = spec
		}
		return u
	}
	cases := map[string]struct {
		obj  *unstructured.Unstructured
		want int32
	}{
		"Deployment with replicas":      {obj: withSpec("apps/v1", "Deployment", map[string]any{"replicas": int64(3)}), want: 3},
		"Deployment scaled to zero":     {obj: withSpec("apps/v1", "Deployment", map[string]any{"replicas": int64(0)}), want: 0},
		"Deployment without replicas":   {obj: withSpec("apps/v1", "Deployment", map[string]any{"paused": false}), want: 1},
		"Deployment without spec":       {obj: withSpec("apps/v1", "Deployment", nil), want: 1},
		"StatefulSet":                   {obj: withSpec("apps/v1", "StatefulSet", map[string]any{"replicas": int64(5)}), want: 5},
		"ReplicaSet":                    {obj: withSpec("apps/v1", "ReplicaSet", map[string]any{"replicas": int64(2)}), want: 2},
		"DaemonSet is not divisible":    {obj: withSpec("apps/v1", "DaemonSet", map[string]any{}), want: 0},
		"Job is not divisible":          {obj: withSpec("batch/v1", "Job", map[string]any{"parallelism": int64(4)}), want: 0},
		"CRD with replicas is not":      {obj: withSpec("example.com/v1", "Deployment", map[string]any{"replicas": int64(4)}), want: 0},
		"ConfigMap is not divisible":    {obj: makeTemplate("v1", "ConfigMap", "default", "c", nil), want: 0},
		"typed Deployment, 7 replicas":  {obj: toUnstructured(t, &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](7)}}), want: 7},
		"typed Deployment, nil replica": {obj: toUnstructured(t, &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}}), want: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := replicasOf(tc.obj); got != tc.want {
				t.Errorf("replicasOf() = %d, want %d", got, tc.want)
			}
		})
	}
}

func podSpecNamed(container string) corev1.PodSpec {
	return corev1.PodSpec{
		ServiceAccountName: "sa-" + container,
		Containers:         []corev1.Container{{Name: container, Image: container + ":1"}},
	}
}

func TestPodSpecOf(t *testing.T) {
	tm := func(apiVersion, kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
	}
	tmplOf := func(c string) corev1.PodTemplateSpec { return corev1.PodTemplateSpec{Spec: podSpecNamed(c)} }

	cases := map[string]struct {
		obj  *unstructured.Unstructured
		want *corev1.PodSpec
	}{
		"Deployment": {
			obj:  toUnstructured(t, &appsv1.Deployment{TypeMeta: tm("apps/v1", "Deployment"), Spec: appsv1.DeploymentSpec{Template: tmplOf("deploy")}}),
			want: ptr.To(podSpecNamed("deploy")),
		},
		"StatefulSet": {
			obj:  toUnstructured(t, &appsv1.StatefulSet{TypeMeta: tm("apps/v1", "StatefulSet"), Spec: appsv1.StatefulSetSpec{Template: tmplOf("sts")}}),
			want: ptr.To(podSpecNamed("sts")),
		},
		"DaemonSet": {
			obj:  toUnstructured(t, &appsv1.DaemonSet{TypeMeta: tm("apps/v1", "DaemonSet"), Spec: appsv1.DaemonSetSpec{Template: tmplOf("ds")}}),
			want: ptr.To(podSpecNamed("ds")),
		},
		"Job": {
			obj:  toUnstructured(t, &batchv1.Job{TypeMeta: tm("batch/v1", "Job"), Spec: batchv1.JobSpec{Template: tmplOf("job")}}),
			want: ptr.To(podSpecNamed("job")),
		},
		"CronJob": {
			obj: toUnstructured(t, &batchv1.CronJob{TypeMeta: tm("batch/v1", "CronJob"), Spec: batchv1.CronJobSpec{
				Schedule:    "* * * * *",
				JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmplOf("cron")}},
			}}),
			want: ptr.To(podSpecNamed("cron")),
		},
		"Pod": {
			obj:  toUnstructured(t, &corev1.Pod{TypeMeta: tm("v1", "Pod"), Spec: podSpecNamed("pod")}),
			want: ptr.To(podSpecNamed("pod")),
		},
		"ConfigMap has none": {
			obj:  toUnstructured(t, &corev1.ConfigMap{TypeMeta: tm("v1", "ConfigMap"), Data: map[string]string{"spec": "x"}}),
			want: nil,
		},
		"Deployment without template spec": {
			obj:  makeTemplate("apps/v1", "Deployment", "default", "w", nil),
			want: nil,
		},
		"pod spec that does not convert": {
			obj: &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Pod",
				"spec": map[string]any{"containers": "not a list"},
			}},
			want: nil,
		},
		"Job of another API version": {
			obj: &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "batch/v2", "kind": "Job",
				"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "x"}}}}},
			}},
			want: nil,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, podSpecOf(tc.obj)); diff != "" {
				t.Errorf("podSpecOf() (-want +got):\n%s", diff)
			}
		})
	}
}

func requests(kv ...string) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{Requests: corev1.ResourceList{}}
	for i := 0; i < len(kv); i += 2 {
		r.Requests[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return r
}

func TestRequirementsOf(t *testing.T) {
	cases := map[string]struct {
		ps   *corev1.PodSpec
		want map[string]string
	}{
		"no pod spec": {ps: nil, want: nil},
		"no requests": {
			ps:   &corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
			want: nil,
		},
		"one container": {
			ps:   &corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: requests("cpu", "250m", "memory", "64Mi")}}},
			want: map[string]string{"cpu": "250m", "memory": "64Mi"},
		},
		"containers are summed": {
			ps: &corev1.PodSpec{Containers: []corev1.Container{
				{Name: "a", Resources: requests("cpu", "100m", "memory", "64Mi")},
				{Name: "b", Resources: requests("cpu", "200m", "memory", "128Mi")},
				{Name: "c", Resources: requests("nvidia.com/gpu", "1")},
			}},
			want: map[string]string{"cpu": "300m", "memory": "192Mi", "nvidia.com/gpu": "1"},
		},
		"mixed units": {
			ps: &corev1.PodSpec{Containers: []corev1.Container{
				{Name: "a", Resources: requests("cpu", "1")},
				{Name: "b", Resources: requests("cpu", "500m")},
			}},
			want: map[string]string{"cpu": "1500m"},
		},
		"a larger init container wins": {
			ps: &corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "init", Resources: requests("cpu", "2", "memory", "32Mi")}},
				Containers: []corev1.Container{
					{Name: "a", Resources: requests("cpu", "500m", "memory", "64Mi")},
					{Name: "b", Resources: requests("cpu", "500m", "memory", "64Mi")},
				},
			},
			want: map[string]string{"cpu": "2", "memory": "128Mi"},
		},
		"init containers take the max, not the sum": {
			ps: &corev1.PodSpec{
				InitContainers: []corev1.Container{
					{Name: "i1", Resources: requests("cpu", "500m")},
					{Name: "i2", Resources: requests("cpu", "700m")},
					{Name: "i3", Resources: requests("cpu", "600m")},
				},
				Containers: []corev1.Container{{Name: "a", Resources: requests("cpu", "100m")}},
			},
			want: map[string]string{"cpu": "700m"},
		},
		"a resource only init containers request": {
			ps: &corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "init", Resources: requests("ephemeral-storage", "1Gi")}},
				Containers:     []corev1.Container{{Name: "a", Resources: requests("cpu", "100m")}},
			},
			want: map[string]string{"cpu": "100m", "ephemeral-storage": "1Gi"},
		},
		"limits are not requests": {
			ps: &corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")},
			}}}},
			want: nil,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := requirementsOf(tc.ps)
			var gotS map[string]string
			if got != nil {
				gotS = map[string]string{}
				for n, q := range got {
					gotS[string(n)] = q.String()
				}
			}
			if diff := cmp.Diff(tc.want, gotS); diff != "" {
				t.Errorf("requirementsOf() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequirementsOfDoesNotMutate(t *testing.T) {
	ps := &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "i", Resources: requests("cpu", "3")}},
		Containers: []corev1.Container{
			{Name: "a", Resources: requests("cpu", "1")},
			{Name: "b", Resources: requests("cpu", "1")},
		},
	}
	got := requirementsOf(ps)
	q := got[corev1.ResourceCPU]
	q.Add(resource.MustParse("10"))
	got[corev1.ResourceCPU] = q
	for _, c := range slices.Concat(ps.InitContainers, ps.Containers) {
		want := map[string]string{"i": "3", "a": "1", "b": "1"}[c.Name]
		if cpu := c.Resources.Requests[corev1.ResourceCPU]; cpu.String() != want {
			t.Errorf("container %s cpu request = %s after requirementsOf, want %s", c.Name, cpu.String(), want)
		}
	}
}

func TestDependenciesOf(t *testing.T) {
	ref := func(kind, name string) workv1alpha1.ObjectReference {
		return workv1alpha1.ObjectReference{APIVersion: "v1", Kind: kind, Namespace: "team-a", Name: name}
	}
	cmKey := func(name string) *corev1.ConfigMapKeySelector {
		return &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: "k"}
	}
	secretKey := func(name string) *corev1.SecretKeySelector {
		return &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: "k"}
	}

	cases := map[string]struct {
		ps   *corev1.PodSpec
		want []workv1alpha1.ObjectReference
	}{
		"no pod spec": {ps: nil, want: nil},
		"nothing referenced": {
			ps:   &corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "a"}}},
			want: nil,
		},
		"default service account is not a dependency": {
			ps:   &corev1.PodSpec{ServiceAccountName: "default"},
			want: nil,
		},
		"service account": {
			ps:   &corev1.PodSpec{ServiceAccountName: "runner"},
			want: []workv1alpha1.ObjectReference{ref("ServiceAccount", "runner")},
		},
		"image pull secrets": {
			ps:   &corev1.PodSpec{ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}, {Name: ""}, {Name: "mirror"}}},
			want: []workv1alpha1.ObjectReference{ref("Secret", "mirror"), ref("Secret", "regcred")},
		},
		"volumes": {
			ps: &corev1.PodSpec{Volumes: []corev1.Volume{
				{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app-config"}}}},
				{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
			}},
			want: []workv1alpha1.ObjectReference{ref("ConfigMap", "app-config"), ref("PersistentVolumeClaim", "data"), ref("Secret", "tls")},
		},
		"projected sources": {
			ps: &corev1.PodSpec{Volumes: []corev1.Volume{{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-cm"}}},
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-secret"}}},
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
					{DownwardAPI: &corev1.DownwardAPIProjection{}},
				},
			}}}}},
			want: []workv1alpha1.ObjectReference{ref("ConfigMap", "proj-cm"), ref("Secret", "proj-secret")},
		},
		"envFrom in containers and init containers": {
			ps: &corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "i", EnvFrom: []corev1.EnvFromSource{
					{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "init-secret"}}},
				}}},
				Containers: []corev1.Container{{Name: "a", EnvFrom: []corev1.EnvFromSource{
					{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "env-cm"}}},
				}}},
			},
			want: []workv1alpha1.ObjectReference{ref("ConfigMap", "env-cm"), ref("Secret", "init-secret")},
		},
		"env valueFrom": {
			ps: &corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Env: []corev1.EnvVar{
				{Name: "PLAIN", Value: "x"},
				{Name: "CM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: cmKey("key-cm")}},
				{Name: "SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: secretKey("key-secret")}},
				{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			}}}},
			want: []workv1alpha1.ObjectReference{ref("ConfigMap", "key-cm"), ref("Secret", "key-secret")},
		},
		"sorted by kind then name, without duplicates": {
			ps: &corev1.PodSpec{
				ServiceAccountName: "runner",
				ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "shared"}},
				Volumes: []corev1.Volume{
					{Name: "z", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "z-config"}}}},
					{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "shared"}}},
					{Name: "a", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "a-config"}}}},
					{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
				},
				Containers: []corev1.Container{
					{Name: "a",
						EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "a-config"}}}},
						Env:     []corev1.EnvVar{{Name: "S", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: secretKey("shared")}}}},
					{Name: "b",
						Env: []corev1.EnvVar{{Name: "C", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: cmKey("z-config")}}}},
				},
			},
			want: []workv1alpha1.ObjectReference{
				ref("ConfigMap", "a-config"),
				ref("ConfigMap", "z-config"),
				ref("PersistentVolumeClaim", "data"),
				ref("Secret", "shared"),
				ref("ServiceAccount", "runner"),
			},
		},
		"a ConfigMap and a Secret of the same name are two dependencies": {
			ps: &corev1.PodSpec{Volumes: []corev1.Volume{
				{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "app"}}},
				{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}},
			}},
			want: []workv1alpha1.ObjectReference{ref("ConfigMap", "app"), ref("Secret", "app")},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := dependenciesOf(tc.ps, "team-a")
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("dependenciesOf() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDependenciesOfTemplate runs the two together, as the detector does.
func TestDependenciesOfTemplate(t *testing.T) {
	d := toUnstructured(t, &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			ServiceAccountName: "web",
			Containers: []corev1.Container{{Name: "web", EnvFrom: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web-env"}}},
			}}},
		}}},
	})
	want := []workv1alpha1.ObjectReference{
		{APIVersion: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "web-env"},
		{APIVersion: "v1", Kind: "ServiceAccount", Namespace: "shop", Name: "web"},
	}
	if diff := cmp.Diff(want, dependenciesOf(podSpecOf(d), d.GetNamespace())); diff != "" {
		t.Errorf("dependenciesOf(podSpecOf()) (-want +got):\n%s", diff)
	}
}

func TestRequirementsOfSidecars(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	req := func(cpu string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}
	}
	ps := &corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "proxy", RestartPolicy: &always, Resources: req("100m")},
			{Name: "migrate", Resources: req("1")},
		},
		Containers: []corev1.Container{{Name: "app", Resources: req("200m")}},
	}
	// The init container runs beside the sidecar: 1 + 100m beats the
	// steady 200m + 100m.
	got := requirementsOf(ps)
	if q := got[corev1.ResourceCPU]; q.Cmp(resource.MustParse("1100m")) != 0 {
		t.Errorf("cpu = %s, want 1100m", q.String())
	}
	ps.InitContainers[1].Resources = req("50m")
	got = requirementsOf(ps)
	if q := got[corev1.ResourceCPU]; q.Cmp(resource.MustParse("300m")) != 0 {
		t.Errorf("cpu = %s, want 300m (app plus the sidecar)", q.String())
	}
}
