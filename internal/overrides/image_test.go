package overrides

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

const (
	sha  = "sha256:50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c"
	sha2 = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"
)

func TestParseImage(t *testing.T) {
	cases := map[string]struct {
		image   string
		want    imageRef
		wantErr string
	}{
		"repository only":        {image: "nginx", want: imageRef{repository: "nginx"}},
		"tag":                    {image: "nginx:1.25", want: imageRef{repository: "nginx", tag: "1.25"}},
		"path without registry":  {image: "library/nginx:1.25", want: imageRef{repository: "library/nginx", tag: "1.25"}},
		"registry with a dot":    {image: "docker.io/library/nginx:1.25", want: imageRef{registry: "docker.io", repository: "library/nginx", tag: "1.25"}},
		"localhost":              {image: "localhost/app", want: imageRef{registry: "localhost", repository: "app"}},
		"registry with port":     {image: "localhost:5000/app:v1", want: imageRef{registry: "localhost:5000", repository: "app", tag: "v1"}},
		"registry, port, digest": {image: "fictional.registry.example:10443/karmada/app@" + sha, want: imageRef{registry: "fictional.registry.example:10443", repository: "karmada/app", digest: sha}},
		"tag and digest":         {image: "nginx:1.25@" + sha, want: imageRef{repository: "nginx", tag: "1.25", digest: sha}},
		"IPv6 registry":          {image: "[::1]:5000/app", want: imageRef{registry: "[::1]:5000", repository: "app"}},
		"empty":                  {image: "", wantErr: "the repository is empty"},
		"uppercase repository":   {image: "Nginx", wantErr: "not a valid image reference"},
		"empty tag":              {image: "nginx:", wantErr: `tag "" is not letters`},
		"bad digest":             {image: "nginx@sha256:xyz", wantErr: `digest "sha256:xyz" is not algorithm:hex`},
		"registry only":          {image: "registry.eu/", wantErr: "the repository is empty"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := parseImage(tc.image)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseImage(%q) error = %v, want one saying %q", tc.image, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseImage(%q): %v", tc.image, err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(imageRef{})); diff != "" {
				t.Errorf("parseImage(%q) (-want +got):\n%s", tc.image, diff)
			}
			if got.String() != tc.image {
				t.Errorf("String() = %q, want the input back", got.String())
			}
		})
	}
}

func TestOverrideImage(t *testing.T) {
	cases := map[string]struct {
		image   string
		o       policyv1alpha1.ImageOverrider
		want    string
		wantErr string
	}{
		// Karmada's documented examples.
		"Karmada: add a registry":       {image: "myapp:1.0.0", o: image(registry, add, "test-repo"), want: "test-repo/myapp:1.0.0"},
		"Karmada: replace a repository": {image: "myapp:1.0.0", o: image(repository, replace, "myapp2"), want: "myapp2:1.0.0"},
		"Karmada: remove the tag":       {image: "myapp:1.0.0", o: image(tag, remove, ""), want: "myapp"},

		"registry add appends to the registry":    {image: "docker.io/nginx:1.25", o: image(registry, add, "-mirror"), want: "docker.io-mirror/nginx:1.25"},
		"registry add a path segment":             {image: "myapp:1.0.0", o: image(registry, add, "my_org"), want: "my_org/myapp:1.0.0"},
		"registry add an invalid host":            {image: "docker.io/nginx", o: image(registry, add, "_x"), wantErr: `Registry add makes "docker.io_x/nginx", which is not a valid image: registry "docker.io_x" is not a host[:port]`},
		"registry add a path prefix":              {image: "harbor.io/nginx:1.25", o: image(registry, add, "/proxy"), want: "harbor.io/proxy/nginx:1.25"},
		"registry replace where there is none":    {image: "nginx:1.25", o: image(registry, replace, "registry.eu"), want: "registry.eu/nginx:1.25"},
		"registry replace keeps a path":           {image: "library/nginx:1.25", o: image(registry, replace, "registry.eu"), want: "registry.eu/library/nginx:1.25"},
		"registry replace drops the port":         {image: "registry.example:10443/team/app:v1", o: image(registry, replace, "registry.eu"), want: "registry.eu/team/app:v1"},
		"registry replace with a port":            {image: "docker.io/library/nginx", o: image(registry, replace, "mirror.local:5000"), want: "mirror.local:5000/library/nginx"},
		"registry replace with a mirror's prefix": {image: "docker.io/library/nginx", o: image(registry, replace, "harbor.example.com/dockerhub"), want: "harbor.example.com/dockerhub/library/nginx"},
		"registry replace keeps the digest":       {image: "docker.io/app@" + sha, o: image(registry, replace, "registry.eu"), want: "registry.eu/app@" + sha},
		"registry remove":                         {image: "docker.io/library/nginx:1.25", o: image(registry, remove, ""), want: "library/nginx:1.25"},
		"registry remove with a port":             {image: "localhost:5000/app:v1", o: image(registry, remove, ""), want: "app:v1"},
		"registry remove where there is none":     {image: "nginx:1.25", o: image(registry, remove, ""), want: "nginx:1.25"},
		"registry replace with garbage":           {image: "nginx", o: image(registry, replace, "Bad Registry!"), wantErr: `Registry replace makes "Bad Registry!/nginx", which is not a valid image`},

		"repository add appends":                    {image: "registry.eu/nginx:1.25", o: image(repository, add, "-debug"), want: "registry.eu/nginx-debug:1.25"},
		"repository replace keeps registry, digest": {image: "registry.eu/app@" + sha, o: image(repository, replace, "team/other"), want: "registry.eu/team/other@" + sha},
		"repository remove":                         {image: "nginx:1.25", o: image(repository, remove, ""), wantErr: "an image needs a repository"},
		"repository replace uppercase":              {image: "nginx:1.25", o: image(repository, replace, "Nginx"), wantErr: "not lowercase"},

		"tag add appends":                     {image: "nginx:1.25", o: image(tag, add, "-alpine"), want: "nginx:1.25-alpine"},
		"tag add where there is none sets it": {image: "nginx", o: image(tag, add, "1.25"), want: "nginx:1.25"},
		"tag add to a digest":                 {image: "nginx@" + sha, o: image(tag, add, "-alpine"), wantErr: "neither a tag"},
		"tag replace":                         {image: "registry.eu:443/nginx:1.25", o: image(tag, replace, "1.26"), want: "registry.eu:443/nginx:1.26"},
		"tag replace a digest with a tag":     {image: "nginx@" + sha, o: image(tag, replace, "1.26"), want: "nginx:1.26"},
		"tag replace a tag with a digest":     {image: "nginx:1.25", o: image(tag, replace, "@"+sha2), want: "nginx@" + sha2},
		"tag replace tag and digest":          {image: "nginx:1.25@" + sha, o: image(tag, replace, "1.26"), want: "nginx:1.26"},
		"tag replace with garbage":            {image: "nginx:1.25", o: image(tag, replace, "not a tag"), wantErr: "neither a tag"},
		"tag remove a digest":                 {image: "nginx@" + sha, o: image(tag, remove, ""), want: "nginx"},
		"tag remove keeps the digest of both": {image: "nginx:1.25@" + sha, o: image(tag, remove, ""), want: "nginx@" + sha},
		"tag remove where there is none":      {image: "nginx", o: image(tag, remove, ""), want: "nginx"},
		"add without a value":                 {image: "nginx", o: image(tag, add, ""), wantErr: "add needs a value"},
		"the template's image is invalid":     {image: "Nginx:1.25", o: image(tag, replace, "1.26"), wantErr: `image "Nginx:1.25" is not a valid image reference`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := overrideImage(tc.image, &tc.o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("overrideImage(%q) = %q, %v; want an error saying %q", tc.image, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("overrideImage(%q): %v", tc.image, err)
			}
			if got != tc.want {
				t.Errorf("overrideImage(%q) = %q, want %q", tc.image, got, tc.want)
			}
		})
	}
}

func TestImageOverriderOnWorkloads(t *testing.T) {
	toEU := image(registry, replace, "registry.eu")
	cases := map[string]struct {
		template *templateWrapper
		o        policyv1alpha1.ImageOverrider
		want     []string // change lines
		wantErr  string
		check    func(t *testing.T, got *templateWrapper)
	}{
		"every container and init container of a Deployment": {
			template: MakeDeployment("default", "web").Container("web", "nginx:1.25").Container("proxy", "docker.io/envoy:1.30").InitContainer("init", "busybox"),
			o:        toEU,
			want: []string{
				"spec.template.spec.containers[web].image: nginx:1.25 -> registry.eu/nginx:1.25",
				"spec.template.spec.containers[proxy].image: docker.io/envoy:1.30 -> registry.eu/envoy:1.30",
				"spec.template.spec.initContainers[init].image: busybox -> registry.eu/busybox",
			},
		},
		"images already right are not changes": {
			template: MakeDeployment("default", "web").Container("web", "registry.eu/nginx:1.25").Container("proxy", "envoy"),
			o:        toEU,
			want:     []string{"spec.template.spec.containers[proxy].image: envoy -> registry.eu/envoy"},
		},
		"a Pod": {
			template: MakeTemplate("v1", "Pod", "default", "p").Container("c", "nginx"),
			o:        toEU,
			want:     []string{"spec.containers[c].image: nginx -> registry.eu/nginx"},
		},
		"a CronJob": {
			template: MakeTemplate("batch/v1", "CronJob", "default", "nightly").Container("run", "app:1"),
			o:        image(tag, replace, "2"),
			want:     []string{"spec.jobTemplate.spec.template.spec.containers[run].image: app:1 -> app:2"},
		},
		"a StatefulSet": {
			template: MakeTemplate("apps/v1", "StatefulSet", "default", "db").Container("db", "postgres:16"),
			o:        image(tag, replace, "17"),
			want:     []string{"spec.template.spec.containers[db].image: postgres:16 -> postgres:17"},
		},
		"a DaemonSet": {
			template: MakeTemplate("apps/v1", "DaemonSet", "default", "db").Container("db", "postgres:16"),
			o:        image(tag, replace, "17"),
			want:     []string{"spec.template.spec.containers[db].image: postgres:16 -> postgres:17"},
		},
		"a ReplicaSet": {
			template: MakeTemplate("apps/v1", "ReplicaSet", "default", "db").Container("db", "postgres:16"),
			o:        image(tag, replace, "17"),
			want:     []string{"spec.template.spec.containers[db].image: postgres:16 -> postgres:17"},
		},
		"a Job": {
			template: MakeTemplate("batch/v1", "Job", "default", "db").Container("db", "postgres:16"),
			o:        image(tag, replace, "17"),
			want:     []string{"spec.template.spec.containers[db].image: postgres:16 -> postgres:17"},
		},
		"a kind without a pod template is left alone": {
			template: MakeTemplate("v1", "ConfigMap", "default", "cm").Set("nginx", "data", "image"),
			o:        toEU,
		},
		"a Deployment of another group is not a workload": {
			template: MakeTemplate("example.com/v1", "Deployment", "default", "x").Set("nginx", "spec", "template", "spec", "containers", "image"),
			o:        toEU,
		},
		"a container without an image is skipped": {
			template: MakeDeployment("default", "web").Container("web", ""),
			o:        toEU,
		},
		"an invalid image names its container": {
			template: MakeDeployment("default", "web").Container("web", "Nginx"),
			o:        toEU,
			wantErr:  `OverridePolicy/default/op rule 0 imageOverrider spec.template.spec.containers[web].image: image "Nginx" is not a valid image reference: repository "Nginx" is not lowercase letters, digits and separators (. _ - /)`,
		},
		"predicate: only that image": {
			template: MakeDeployment("default", "web").Container("web", "nginx:1.25").Container("proxy", "envoy"),
			o:        policyv1alpha1.ImageOverrider{Predicate: &policyv1alpha1.ImagePredicate{Path: "/spec/template/spec/containers/1/image"}, Component: registry, Operator: replace, Value: "registry.eu"},
			want:     []string{"spec.template.spec.containers[1].image: envoy -> registry.eu/envoy"},
			check: func(t *testing.T, got *templateWrapper) {
				images, _, _ := unstructuredImages(got)
				if diff := cmp.Diff([]string{"nginx:1.25", "registry.eu/envoy"}, images); diff != "" {
					t.Errorf("images (-want +got):\n%s", diff)
				}
			},
		},
		"predicate: any kind": {
			template: MakeTemplate("example.com/v1", "App", "default", "a").Set("nginx:1", "spec", "image"),
			o:        policyv1alpha1.ImageOverrider{Predicate: &policyv1alpha1.ImagePredicate{Path: "/spec/image"}, Component: tag, Operator: replace, Value: "2"},
			want:     []string{"spec.image: nginx:1 -> nginx:2"},
		},
		"predicate: path does not exist": {
			template: MakeDeployment("default", "web").Container("web", "nginx"),
			o:        policyv1alpha1.ImageOverrider{Predicate: &policyv1alpha1.ImagePredicate{Path: "/spec/template/spec/containers/3/image"}, Component: tag, Operator: replace, Value: "2"},
			wantErr:  "OverridePolicy/default/op rule 0 imageOverrider /spec/template/spec/containers/3/image: predicate.path does not exist in the object",
		},
		"predicate: path is not a string": {
			template: MakeDeployment("default", "web").Container("web", "nginx"),
			o:        policyv1alpha1.ImageOverrider{Predicate: &policyv1alpha1.ImagePredicate{Path: "/spec/replicas"}, Component: tag, Operator: replace, Value: "2"},
			wantErr:  "OverridePolicy/default/op rule 0 imageOverrider /spec/replicas: predicate.path points to a number, not an image string",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := tc.template.Obj()
			p := MakeOverridePolicy("default", "op").Rule(nil, policyv1alpha1.Overriders{ImageOverrider: []policyv1alpha1.ImageOverrider{tc.o}}).Policy()
			got, err := Apply(obj, MakeCluster("m1", nil), []Policy{p})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Apply error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			want := []workv1alpha1.AppliedOverride{{Policy: "OverridePolicy/default/op", Changes: tc.want}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("applied (-want +got):\n%s", diff)
			}
			if tc.check != nil {
				tc.check(t, &templateWrapper{u: obj, podSpec: tc.template.podSpec})
			}
		})
	}
}

// unstructuredImages lists the images of the containers of w.
func unstructuredImages(w *templateWrapper) ([]string, bool, error) {
	spec, err := findPodSpec(w.u)
	if err != nil || spec == nil {
		return nil, false, err
	}
	cs, err := spec.containers()
	var out []string
	for _, c := range cs {
		s, _ := c.m["image"].(string)
		out = append(out, s)
	}
	return out, true, err
}
