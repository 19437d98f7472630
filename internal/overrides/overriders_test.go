package overrides

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	policyv1alpha1 "github.com/flotilla-io/flotilla/api/policy/v1alpha1"
	workv1alpha1 "github.com/flotilla-io/flotilla/api/work/v1alpha1"
)

// applyOne applies one rule of an OverridePolicy default/op to template and
// returns the overridden object, the change lines and the error.
func applyOne(t *testing.T, template *unstructured.Unstructured, o policyv1alpha1.Overriders) (*unstructured.Unstructured, []string, error) {
	t.Helper()
	obj := template.DeepCopy()
	p := MakeOverridePolicy("default", "op").Rule(nil, o).Policy()
	got, err := Apply(obj, MakeCluster("m1", nil), []Policy{p})
	if err != nil {
		if diff := cmp.Diff(template.Object, obj.Object); diff != "" {
			t.Errorf("a failed Apply changed the object (-before +after):\n%s", diff)
		}
		return obj, nil, err
	}
	if len(got) != 1 || got[0].Policy != "OverridePolicy/default/op" {
		t.Fatalf("applied = %+v, want one entry for OverridePolicy/default/op", got)
	}
	return obj, got[0].Changes, nil
}

func TestCommandArgsOverrider(t *testing.T) {
	web := MakeDeployment("default", "web").Container("web", "app").Container("side", "envoy").InitContainer("init", "busybox").
		List("containers", 0, "args", "--a").
		List("containers", 0, "command", "/app", "--v=2").
		List("initContainers", 0, "args", "--once").Obj()
	args := func(c string, op policyv1alpha1.OverriderOperator, v ...string) policyv1alpha1.Overriders {
		return policyv1alpha1.Overriders{ArgsOverrider: []policyv1alpha1.CommandArgsOverrider{{ContainerName: c, Operator: op, Value: v}}}
	}
	command := func(c string, op policyv1alpha1.OverriderOperator, v ...string) policyv1alpha1.Overriders {
		return policyv1alpha1.Overriders{CommandOverrider: []policyv1alpha1.CommandArgsOverrider{{ContainerName: c, Operator: op, Value: v}}}
	}
	cases := map[string]struct {
		o        policyv1alpha1.Overriders
		want     []string
		wantErr  string
		field    []string // a field to check afterwards
		wantList []string // its value; nil: absent
	}{
		"args add appends": {
			o:     args("web", add, "--b"),
			want:  []string{"spec.template.spec.containers[web].args: [--a] -> [--a --b]"},
			field: []string{"containers", "0", "args"}, wantList: []string{"--a", "--b"},
		},
		"args add where there are none": {
			o:     args("side", add, "--b", "--c"),
			want:  []string{"spec.template.spec.containers[side].args: (none) -> [--b --c]"},
			field: []string{"containers", "1", "args"}, wantList: []string{"--b", "--c"},
		},
		"args add nothing changes nothing": {o: args("web", add)},
		"command remove drops matching items": {
			o:     command("web", remove, "--v=2", "--absent"),
			want:  []string{"spec.template.spec.containers[web].command: [/app --v=2] -> [/app]"},
			field: []string{"containers", "0", "command"}, wantList: []string{"/app"},
		},
		"command remove of every item drops the field": {
			o:     command("web", remove, "/app", "--v=2"),
			want:  []string{"spec.template.spec.containers[web].command: [/app --v=2] -> (none)"},
			field: []string{"containers", "0", "command"},
		},
		"remove of items not there changes nothing": {o: args("web", remove, "--zz")},
		"command replace sets the list": {
			o:     command("web", replace, "/other", "--x"),
			want:  []string{"spec.template.spec.containers[web].command: [/app --v=2] -> [/other --x]"},
			field: []string{"containers", "0", "command"}, wantList: []string{"/other", "--x"},
		},
		"replace with no value drops the field": {
			o:     args("web", replace),
			want:  []string{"spec.template.spec.containers[web].args: [--a] -> (none)"},
			field: []string{"containers", "0", "args"},
		},
		"replace with the same list changes nothing": {o: args("web", replace, "--a")},
		"an init container by name": {
			o:     args("init", add, "--twice"),
			want:  []string{"spec.template.spec.initContainers[init].args: [--once] -> [--once --twice]"},
			field: []string{"initContainers", "0", "args"}, wantList: []string{"--once", "--twice"},
		},
		"a container not present": {
			o:       args("api", add, "--b"),
			wantErr: "OverridePolicy/default/op rule 0 argsOverrider container api: no container or initContainer is named api in spec.template.spec (it has: web, side, init)",
		},
		"command and args in one rule": {
			o: policyv1alpha1.Overriders{
				CommandOverrider: []policyv1alpha1.CommandArgsOverrider{{ContainerName: "side", Operator: add, Value: []string{"envoy"}}},
				ArgsOverrider:    []policyv1alpha1.CommandArgsOverrider{{ContainerName: "side", Operator: add, Value: []string{"-c", "/etc/envoy.yaml"}}},
			},
			want: []string{
				"spec.template.spec.containers[side].command: (none) -> [envoy]",
				"spec.template.spec.containers[side].args: (none) -> [-c /etc/envoy.yaml]",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj, changes, err := applyOne(t, web, tc.o)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if tc.field != nil {
				v, ok := lookup(obj.Object, append([]string{"spec", "template", "spec"}, tc.field...))
				var got []string
				if ok {
					for _, s := range v.([]any) {
						got = append(got, s.(string))
					}
				}
				if diff := cmp.Diff(tc.wantList, got); diff != "" {
					t.Errorf("%v (-want +got):\n%s", tc.field, diff)
				}
			}
		})
	}
}

func TestCommandArgsOverriderOnOtherKinds(t *testing.T) {
	o := policyv1alpha1.Overriders{ArgsOverrider: []policyv1alpha1.CommandArgsOverrider{{ContainerName: "web", Operator: add, Value: []string{"--b"}}}}
	cm := MakeTemplate("v1", "ConfigMap", "default", "cm").Set("x", "data", "a").Obj()
	if _, changes, err := applyOne(t, cm, o); err != nil || len(changes) != 0 {
		t.Errorf("a ConfigMap: changes %v, error %v; want it left alone", changes, err)
	}
	bare := MakeTemplate("apps/v1", "Deployment", "default", "web").Obj()
	_, _, err := applyOne(t, bare, o)
	if want := "OverridePolicy/default/op rule 0 argsOverrider container web: the Deployment has no pod template"; err == nil || err.Error() != want {
		t.Errorf("a Deployment without template: error %v, want %q", err, want)
	}
}

func TestLabelsAndAnnotationsOverriders(t *testing.T) {
	web := MakeDeployment("default", "web").Labels(map[string]string{"app": "web", "tier": "silver"}).
		Annotations(map[string]string{"owner": "team-a"}).Obj()
	labels := func(op policyv1alpha1.OverriderOperator, v map[string]string) policyv1alpha1.Overriders {
		return policyv1alpha1.Overriders{LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: op, Value: v}}}
	}
	annotations := func(op policyv1alpha1.OverriderOperator, v map[string]string) policyv1alpha1.Overriders {
		return policyv1alpha1.Overriders{AnnotationsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: op, Value: v}}}
	}
	cases := map[string]struct {
		o                         policyv1alpha1.Overriders
		want                      []string
		wantErr                   string
		wantLabels, wantAnnotated map[string]string
	}{
		"add a new label and overwrite one, in key order": {
			o:          labels(add, map[string]string{"zone": "eu", "tier": "gold"}),
			want:       []string{"metadata.labels.tier: silver -> gold", "metadata.labels.zone: (none) -> eu"},
			wantLabels: map[string]string{"app": "web", "tier": "gold", "zone": "eu"},
		},
		"add the same value changes nothing": {
			o:          labels(add, map[string]string{"app": "web"}),
			wantLabels: map[string]string{"app": "web", "tier": "silver"},
		},
		"replace only keys that exist": {
			o:          labels(replace, map[string]string{"tier": "gold", "zone": "eu"}),
			want:       []string{"metadata.labels.tier: silver -> gold"},
			wantLabels: map[string]string{"app": "web", "tier": "gold"},
		},
		"remove by key, whatever the value": {
			o:          labels(remove, map[string]string{"tier": "", "absent": ""}),
			want:       []string{"metadata.labels.tier: silver -> (none)"},
			wantLabels: map[string]string{"app": "web"},
		},
		"an invalid label value": {
			o:       labels(add, map[string]string{"tier": "not valid!"}),
			wantErr: "OverridePolicy/default/op rule 0 labelsOverrider: value not valid! of label tier is not valid",
		},
		"an invalid key": {
			o:       labels(add, map[string]string{"-bad": "x"}),
			wantErr: "OverridePolicy/default/op rule 0 labelsOverrider: key -bad is not valid",
		},
		"annotations take any value": {
			o:             annotations(add, map[string]string{"example.com/note": "hello, world!"}),
			want:          []string{"metadata.annotations.example.com/note: (none) -> hello, world!"},
			wantAnnotated: map[string]string{"owner": "team-a", "example.com/note": "hello, world!"},
		},
		"remove the last annotation": {
			o:             annotations(remove, map[string]string{"owner": ""}),
			want:          []string{"metadata.annotations.owner: team-a -> (none)"},
			wantAnnotated: map[string]string{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj, changes, err := applyOne(t, web, tc.o)
			if tc.wantErr != "" {
				if err == nil || len(err.Error()) < len(tc.wantErr) || err.Error()[:len(tc.wantErr)] != tc.wantErr {
					t.Fatalf("error = %v, want one starting %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if tc.wantLabels != nil {
				if diff := cmp.Diff(tc.wantLabels, obj.GetLabels()); diff != "" {
					t.Errorf("labels (-want +got):\n%s", diff)
				}
			}
			if tc.wantAnnotated != nil {
				got := obj.GetAnnotations()
				if got == nil {
					got = map[string]string{}
				}
				if diff := cmp.Diff(tc.wantAnnotated, got); diff != "" {
					t.Errorf("annotations (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestPlaintextOverrider(t *testing.T) {
	web := MakeDeployment("default", "web").Labels(map[string]string{"app": "web"}).Container("web", "nginx").
		Set("v", "spec", "template", "metadata", "annotations", "a/b").Obj()
	ops := func(o ...policyv1alpha1.PlaintextOverrider) policyv1alpha1.Overriders {
		return policyv1alpha1.Overriders{Plaintext: o}
	}
	cases := map[string]struct {
		o       policyv1alpha1.Overriders
		want    []string
		wantErr string
		check   []string // pointer whose value is then compared with value
		value   any
	}{
		"replace a number": {
			o:     ops(plain(replace, "/spec/replicas", 5)),
			want:  []string{"spec.replicas: 3 -> 5"},
			check: []string{"spec", "replicas"}, value: int64(5),
		},
		"replace with the same value changes nothing": {o: ops(plain(replace, "/spec/replicas", 3))},
		"add a label": {
			o:     ops(plain(add, "/metadata/labels/tier", "gold")),
			want:  []string{"metadata.labels.tier: (none) -> gold"},
			check: []string{"metadata", "labels", "tier"}, value: "gold",
		},
		"add an object": {
			o:     ops(plain(add, "/spec/strategy", map[string]any{"type": "Recreate"})),
			want:  []string{`spec.strategy: (none) -> {"type":"Recreate"}`},
			check: []string{"spec", "strategy", "type"}, value: "Recreate",
		},
		"add over an existing field replaces it": {
			o:    ops(plain(add, "/spec/replicas", 1)),
			want: []string{"spec.replicas: 3 -> 1"},
		},
		"add to the end of a list": {
			o:     ops(plain(add, "/spec/template/spec/containers/-", map[string]any{"name": "side", "image": "envoy"})),
			want:  []string{`spec.template.spec.containers[1]: (none) -> {"image":"envoy","name":"side"}`},
			check: []string{"spec", "template", "spec", "containers", "1", "name"}, value: "side",
		},
		"add at an index inserts": {
			o:     ops(plain(add, "/spec/template/spec/containers/0", map[string]any{"name": "first"})),
			want:  []string{`spec.template.spec.containers[0]: (none) -> {"name":"first"}`},
			check: []string{"spec", "template", "spec", "containers", "1", "name"}, value: "web",
		},
		"escaped key": {
			o:     ops(plain(replace, "/spec/template/metadata/annotations/a~1b", "w")),
			want:  []string{"spec.template.metadata.annotations.a/b: v -> w"},
			check: []string{"spec", "template", "metadata", "annotations", "a/b"}, value: "w",
		},
		"remove": {
			o:    ops(plain(remove, "/spec/replicas", nil)),
			want: []string{"spec.replicas: 3 -> (none)"},
		},
		"operations apply in order": {
			o:     ops(plain(add, "/spec/paused", true), plain(replace, "/spec/paused", false)),
			want:  []string{"spec.paused: (none) -> true", "spec.paused: true -> false"},
			check: []string{"spec", "paused"}, value: false,
		},
		"replace of a path that does not exist": {
			o:       ops(plain(replace, "/spec/foo", 1)),
			wantErr: "OverridePolicy/default/op rule 0 plaintext /spec/foo: replace of a path that does not exist",
		},
		"remove of a path that does not exist": {
			o:       ops(plain(remove, "/spec/template/spec/containers/4", nil)),
			wantErr: "OverridePolicy/default/op rule 0 plaintext /spec/template/spec/containers/4: remove of a path that does not exist",
		},
		"add under a parent that does not exist": {
			o:       ops(plain(add, "/spec/strategy/type", "Recreate")),
			wantErr: "OverridePolicy/default/op rule 0 plaintext /spec/strategy/type: add under /spec/strategy, which does not exist: add its parent first, or add the parent with this field in its value",
		},
		"add into a number": {
			o:       ops(plain(add, "/spec/replicas/x", 1)),
			wantErr: "OverridePolicy/default/op rule 0 plaintext /spec/replicas/x: add into /spec/replicas, which is a number, not an object or a list",
		},
		"add past the end of a list": {
			o:       ops(plain(add, "/spec/template/spec/containers/5", map[string]any{})),
			wantErr: "OverridePolicy/default/op rule 0 plaintext /spec/template/spec/containers/5: add at index 5 of a list of 1 items: use an index from 0 to 1, or - to append",
		},
		"add without a value": {
			o:       ops(plain(add, "/spec/x", nil)),
			wantErr: "OverridePolicy/default/op rule 0 plaintext /spec/x: add needs a value",
		},
		"a path that is not a pointer": {
			o:       ops(plain(replace, "spec/replicas", 1)),
			wantErr: "OverridePolicy/default/op rule 0 plaintext spec/replicas: a JSON pointer must start with /, for example /spec/replicas",
		},
		"changing the kind": {
			o:       ops(plain(replace, "/kind", "StatefulSet")),
			wantErr: "OverridePolicy/default/op rule 0 plaintext /kind: an override must not change the object's kind",
		},
		"changing the name": {
			o:       ops(plain(replace, "/metadata/name", "other")),
			wantErr: "OverridePolicy/default/op rule 0 plaintext /metadata/name: an override must not change the object's name",
		},
		"metadata that is not an object": {
			o:       ops(plain(replace, "/metadata", "x")),
			wantErr: "OverridePolicy/default/op rule 0 plaintext /metadata: the result's metadata is not an object",
		},
		"labels that are not strings": {
			o:       ops(plain(replace, "/metadata/labels", map[string]any{"app": 1})),
			wantErr: "OverridePolicy/default/op rule 0 plaintext /metadata/labels: the result's metadata.labels is not a map of strings",
		},
		"a failing operation undoes the earlier ones": {
			o:       ops(plain(replace, "/spec/replicas", 9), plain(remove, "/spec/nothing", nil)),
			wantErr: "OverridePolicy/default/op rule 0 plaintext /spec/nothing: remove of a path that does not exist",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj, changes, err := applyOne(t, web, tc.o)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				var re *RuleError
				if !asRuleError(err, &re) || re.Rule != 0 || re.Policy != "OverridePolicy/default/op" {
					t.Errorf("error %#v is not a RuleError for rule 0 of the policy", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, changes); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
			if tc.check != nil {
				got, ok := lookup(obj.Object, tc.check)
				if !ok || !cmp.Equal(got, tc.value) {
					t.Errorf("%v = %#v (present %v), want %#v", tc.check, got, ok, tc.value)
				}
			}
			// The result stays a valid object of the same identity.
			if obj.GetKind() != "Deployment" || obj.GetName() != "web" {
				t.Errorf("identity changed: %s %s", obj.GetKind(), obj.GetName())
			}
		})
	}
}

func TestOverridersApplyInFixedOrder(t *testing.T) {
	// plaintext comes last, so it sees (and can undo) what the image
	// overrider did, whatever the order of the fields in the rule.
	web := MakeDeployment("default", "web").Container("web", "nginx:1.25").Obj()
	o := policyv1alpha1.Overriders{
		Plaintext:       []policyv1alpha1.PlaintextOverrider{plain(replace, "/spec/template/spec/containers/0/image", "nginx:1.27")},
		LabelsOverrider: []policyv1alpha1.LabelAnnotationOverrider{{Operator: add, Value: map[string]string{"a": "b"}}},
		ImageOverrider:  []policyv1alpha1.ImageOverrider{image(tag, replace, "1.26")},
		ArgsOverrider:   []policyv1alpha1.CommandArgsOverrider{{ContainerName: "web", Operator: add, Value: []string{"--x"}}},
	}
	obj, changes, err := applyOne(t, web, o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"spec.template.spec.containers[web].image: nginx:1.25 -> nginx:1.26",
		"spec.template.spec.containers[web].args: (none) -> [--x]",
		"metadata.labels.a: (none) -> b",
		"spec.template.spec.containers[0].image: nginx:1.26 -> nginx:1.27",
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if got, _ := lookup(obj.Object, []string{"spec", "template", "spec", "containers", "0", "image"}); got != "nginx:1.27" {
		t.Errorf("image = %v, want plaintext's nginx:1.27", got)
	}
}

func TestApplyRecordsPoliciesThatChangeNothing(t *testing.T) {
	web := MakeDeployment("default", "web").Obj()
	p := MakeOverridePolicy("default", "noop").Rule(nil, replicas(3)).Policy()
	got, err := Apply(web, MakeCluster("m1", nil), []Policy{p})
	if err != nil {
		t.Fatal(err)
	}
	want := []workv1alpha1.AppliedOverride{{Policy: "OverridePolicy/default/noop"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
}
