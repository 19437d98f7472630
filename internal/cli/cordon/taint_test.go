package cordon

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func taint(key, value string, effect corev1.TaintEffect) corev1.Taint {
	return corev1.Taint{Key: key, Value: value, Effect: effect}
}

func TestParseArgs(t *testing.T) {
	for name, tc := range map[string]struct {
		args      []string
		wantName  string
		wantSpecs []string
		wantErr   string
	}{
		"clusters NAME":         {args: []string{"clusters", "edge", "a:NoSchedule"}, wantName: "edge", wantSpecs: []string{"a:NoSchedule"}},
		"cluster NAME":          {args: []string{"cluster", "edge", "a:NoSchedule", "b-"}, wantName: "edge", wantSpecs: []string{"a:NoSchedule", "b-"}},
		"full resource name":    {args: []string{"cluster.cluster.flotilla.io", "edge", "a:NoSchedule"}, wantName: "edge", wantSpecs: []string{"a:NoSchedule"}},
		"plural resource name":  {args: []string{"clusters.cluster.flotilla.io", "edge", "a-"}, wantName: "edge", wantSpecs: []string{"a-"}},
		"short name":            {args: []string{"fc", "edge", "a-"}, wantName: "edge", wantSpecs: []string{"a-"}},
		"cluster/NAME":          {args: []string{"cluster/edge", "a:NoSchedule"}, wantName: "edge", wantSpecs: []string{"a:NoSchedule"}},
		"unknown resource":      {args: []string{"nodes", "edge", "a:NoSchedule"}, wantErr: `unknown resource "nodes"`},
		"no name":               {args: []string{"clusters"}, wantErr: "name the cluster"},
		"a taint for a name":    {args: []string{"clusters", "a=b:NoSchedule"}, wantErr: "name the cluster"},
		"no taint":              {args: []string{"clusters", "edge"}, wantErr: "give at least one taint"},
		"cluster/NAME no taint": {args: []string{"cluster/edge"}, wantErr: "give at least one taint"},
		"cluster/ without name": {args: []string{"cluster/", "a-"}, wantErr: "name the cluster"},
	} {
		t.Run(name, func(t *testing.T) {
			gotName, gotSpecs, err := parseArgs(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if gotName != tc.wantName {
				t.Errorf("name: got %q, want %q", gotName, tc.wantName)
			}
			if diff := cmp.Diff(tc.wantSpecs, gotSpecs); diff != "" {
				t.Errorf("specs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTaints(t *testing.T) {
	for name, tc := range map[string]struct {
		specs   []string
		want    Change
		wantErr string
	}{
		"key=value:effect": {specs: []string{"dedicated=edge:NoSchedule"},
			want: Change{Add: []corev1.Taint{taint("dedicated", "edge", corev1.TaintEffectNoSchedule)}}},
		"key:effect, every effect": {specs: []string{"example.com/a:NoSchedule", "b:PreferNoSchedule", "c:NoExecute"},
			want: Change{Add: []corev1.Taint{taint("example.com/a", "", corev1.TaintEffectNoSchedule),
				taint("b", "", corev1.TaintEffectPreferNoSchedule), taint("c", "", corev1.TaintEffectNoExecute)}}},
		"empty value": {specs: []string{"a=:NoSchedule"}, want: Change{Add: []corev1.Taint{taint("a", "", corev1.TaintEffectNoSchedule)}}},
		"remove key:effect": {specs: []string{"dedicated:NoSchedule-"},
			want: Change{Remove: []corev1.Taint{taint("dedicated", "", corev1.TaintEffectNoSchedule)}}},
		"remove key": {specs: []string{"dedicated-"}, want: Change{Remove: []corev1.Taint{taint("dedicated", "", "")}}},
		"remove key=value:effect": {specs: []string{"dedicated=edge:NoExecute-"},
			want: Change{Remove: []corev1.Taint{taint("dedicated", "edge", corev1.TaintEffectNoExecute)}}},
		"add and remove": {specs: []string{"a=1:NoSchedule", "b-"},
			want: Change{Add: []corev1.Taint{taint("a", "1", corev1.TaintEffectNoSchedule)}, Remove: []corev1.Taint{taint("b", "", "")}}},
		"replace every taint of a key": {specs: []string{"a-", "a=2:NoSchedule"},
			want: Change{Add: []corev1.Taint{taint("a", "2", corev1.TaintEffectNoSchedule)}, Remove: []corev1.Taint{taint("a", "", "")}}},
		"unschedulable is the user's": {specs: []string{"cluster.flotilla.io/unschedulable:NoSchedule"},
			want: Change{Add: []corev1.Taint{taint("cluster.flotilla.io/unschedulable", "", corev1.TaintEffectNoSchedule)}}},

		"no effect":          {specs: []string{"dedicated=edge"}, wantErr: `invalid taint "dedicated=edge": no effect`},
		"invalid effect":     {specs: []string{"a:NoSchedule", "dedicated=edge:Sometimes"}, wantErr: `invalid taint "dedicated=edge:Sometimes": effect "Sometimes"`},
		"lower-case effect":  {specs: []string{"a:noschedule"}, wantErr: `invalid taint "a:noschedule": effect "noschedule"`},
		"invalid effect out": {specs: []string{"a:Bad-"}, wantErr: `invalid taint "a:Bad-": effect "Bad"`},
		"invalid key":        {specs: []string{"b@d:NoSchedule"}, wantErr: `invalid taint "b@d:NoSchedule": key "b@d"`},
		"invalid prefix":     {specs: []string{"Example.com/a:NoSchedule"}, wantErr: `invalid taint "Example.com/a:NoSchedule": key "Example.com/a"`},
		"empty key":          {specs: []string{":NoSchedule"}, wantErr: `invalid taint ":NoSchedule": key ""`},
		"a dash alone":       {specs: []string{"-"}, wantErr: `invalid taint "-": key ""`},
		"invalid value":      {specs: []string{"a=b c:NoSchedule"}, wantErr: `invalid taint "a=b c:NoSchedule": value "b c"`},
		"twice":              {specs: []string{"a=1:NoSchedule", "a=2:NoSchedule"}, wantErr: "taint a:NoSchedule is given twice"},
		"added and removed":  {specs: []string{"a=1:NoSchedule", "a:NoSchedule-"}, wantErr: "taint a:NoSchedule is both added and removed"},
		"not-ready added": {specs: []string{"cluster.flotilla.io/not-ready:NoExecute"},
			wantErr: `taint "cluster.flotilla.io/not-ready:NoExecute": the hub manages cluster.flotilla.io/not-ready`},
		"not-ready removed": {specs: []string{"cluster.flotilla.io/not-ready-"},
			wantErr: "cannot be added or removed by hand"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := ParseTaints(tc.specs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestChangeApply(t *testing.T) {
	before := metav1.NewTime(now.Add(-time.Hour))
	added := metav1.NewTime(now)
	at := func(tn corev1.Taint, when *metav1.Time) corev1.Taint { tn.TimeAdded = when; return tn }
	notReady := at(taint("cluster.flotilla.io/not-ready", "", corev1.TaintEffectNoExecute), &before)
	dedicated := at(taint("dedicated", "edge", corev1.TaintEffectNoSchedule), &before)
	dedicatedExec := at(taint("dedicated", "edge", corev1.TaintEffectNoExecute), &before)
	for name, tc := range map[string]struct {
		have      []corev1.Taint
		specs     []string
		overwrite bool
		want      []corev1.Taint
		wantOp    string
		wantErr   string
	}{
		"add to none": {specs: []string{"dedicated=edge:NoSchedule"},
			want: []corev1.Taint{at(taint("dedicated", "edge", corev1.TaintEffectNoSchedule), &added)}, wantOp: "tainted"},
		"add keeps the hub's taint": {have: []corev1.Taint{notReady}, specs: []string{"a:PreferNoSchedule"},
			want: []corev1.Taint{notReady, at(taint("a", "", corev1.TaintEffectPreferNoSchedule), &added)}, wantOp: "tainted"},
		"same key, other effect": {have: []corev1.Taint{dedicated}, specs: []string{"dedicated=edge:NoExecute"},
			want: []corev1.Taint{dedicated, at(taint("dedicated", "edge", corev1.TaintEffectNoExecute), &added)}, wantOp: "tainted"},
		"same value again": {have: []corev1.Taint{dedicated}, specs: []string{"dedicated=edge:NoSchedule"},
			want: []corev1.Taint{dedicated}, wantOp: "unchanged"},
		"other value": {have: []corev1.Taint{dedicated}, specs: []string{"dedicated=batch:NoSchedule"},
			wantErr: "the cluster already has taint dedicated=edge:NoSchedule; to set it to dedicated=batch:NoSchedule, add --overwrite"},
		"other value, overwrite": {have: []corev1.Taint{notReady, dedicated}, specs: []string{"dedicated=batch:NoSchedule"}, overwrite: true,
			want: []corev1.Taint{notReady, at(taint("dedicated", "batch", corev1.TaintEffectNoSchedule), &added)}, wantOp: "tainted"},
		"remove key:effect": {have: []corev1.Taint{dedicated, dedicatedExec, notReady}, specs: []string{"dedicated:NoSchedule-"},
			want: []corev1.Taint{dedicatedExec, notReady}, wantOp: "untainted"},
		"remove key": {have: []corev1.Taint{dedicated, notReady, dedicatedExec}, specs: []string{"dedicated-"},
			want: []corev1.Taint{notReady}, wantOp: "untainted"},
		"remove the last": {have: []corev1.Taint{dedicated}, specs: []string{"dedicated-"},
			want: []corev1.Taint{}, wantOp: "untainted"},
		"remove with a value": {have: []corev1.Taint{dedicated}, specs: []string{"dedicated=batch:NoSchedule-"},
			wantErr: "taint dedicated=batch:NoSchedule not found"},
		"remove missing": {have: []corev1.Taint{dedicated}, specs: []string{"other-"}, wantErr: "taint other not found"},
		"remove missing effect": {have: []corev1.Taint{dedicated}, specs: []string{"dedicated:NoExecute-"},
			wantErr: "taint dedicated:NoExecute not found"},
		"replace a key": {have: []corev1.Taint{dedicated, dedicatedExec}, specs: []string{"dedicated-", "dedicated=batch:NoSchedule"},
			want: []corev1.Taint{at(taint("dedicated", "batch", corev1.TaintEffectNoSchedule), &added)}, wantOp: "modified"},
	} {
		t.Run(name, func(t *testing.T) {
			ch, err := ParseTaints(tc.specs)
			if err != nil {
				t.Fatal(err)
			}
			have := append([]corev1.Taint(nil), tc.have...)
			got, op, err := ch.Apply(have, tc.overwrite, now)
			if diff := cmp.Diff(tc.have, have); diff != "" {
				t.Errorf("Apply changed its input (-before +after):\n%s", diff)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if op != tc.wantOp {
				t.Errorf("op: got %q, want %q", op, tc.wantOp)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("taints (-want +got):\n%s", diff)
			}
		})
	}
}
