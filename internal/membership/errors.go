package membership

import (
	"errors"
	"fmt"
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
