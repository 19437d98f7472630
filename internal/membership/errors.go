package membership

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	clusterv1alpha1 "github.com/flotilla-io/flotilla/api/cluster/v1alpha1"
)

// Step names a phase of joining, for errors and progress output.
type Step string

// The steps of a join, in order.
const (
	StepValidate    Step = "validate"
	StepKubeconfig  Step = "kubeconfig"
	StepHub         Step = "hub"
	StepReach       Step = "reachability"
	StepCredentials Step = "credentials"
	StepPermissions Step = "permissions"
	StepIdentity    Step = "member-identity"
	StepRegister    Step = "register"
)

// Error is a failed join: which step failed, what happened and what to do.
type Error struct {
	Cluster string
	Step    Step
	// Problem says what went wrong.
	Problem string
	// Fix says what the user should do.
	Fix string
	Err error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("join %s failed at step %q: %s", e.Cluster, e.Step, e.Problem)
	if e.Fix != "" {
		msg += "\n  fix: " + e.Fix
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// StepOf returns the step at which err failed, or "".
func StepOf(err error) Step {
	var je *Error
	if errors.As(err, &je) {
		return je.Step
	}
	return ""
}

// ReasonJoinFailed is the reason of the event a failed join leaves on the
// hub, so that `flotilla describe cluster NAME` can say what went wrong.
const ReasonJoinFailed = "JoinFailed"

// RecordFailure leaves a Warning event about a failed join on the hub, in
// the default namespace, for the Cluster that was not created. It
// is best effort: a hub that cannot take it (it is not installed, or
// unreachable) gets nothing, and the error is returned for the caller to
// ignore or log. Steps before the hub was checked leave nothing.
func RecordFailure(ctx context.Context, hub client.Client, err error) error {
	var je *Error
	if !errors.As(err, &je) || je.Step == StepKubeconfig || je.Step == StepHub || ValidateName(je.Cluster) != nil {
		return nil
	}
	now := metav1.Now()
	msg := fmt.Sprintf("join failed at step %q: %s", je.Step, je.Problem)
	if je.Fix != "" {
		msg += "; fix: " + je.Fix
	}
	if len(msg) > 1024 {
		msg = msg[:1021] + "..."
	}
	ev := &corev1.Event{
		// A cluster-scoped object's events live in the default namespace.
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, GenerateName: je.Cluster + ".join-"},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: clusterv1alpha1.GroupVersion.String(), Kind: "Cluster", Name: je.Cluster,
		},
		Reason: ReasonJoinFailed, Message: msg, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "flotilla-join"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	return hub.Create(ctx, ev)
}
