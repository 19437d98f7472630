package doctor

import (
	"context"
	"fmt"
)

// Status is the verdict of one check.
type Status string

// Statuses. Only Fail makes `flotilla doctor` exit non-zero.
const (
	// Pass: the check verified what it looks for.
	Pass Status = "pass"
	// Warn: something deserves attention, but the fleet works.
	Warn Status = "warn"
	// Fail: the fleet does not do what it should.
	Fail Status = "fail"
	// Skip: the check could not run, or checks a capability Flotilla
	// does not have yet; Reason says which.
	Skip Status = "skip"
)

// Group is a section of the checklist, as in the seed's operator checklist.
type Group string

// Groups, in the order they are printed.
const (
	Federation   Group = "Federation"
	Applications Group = "Applications"
	Edge         Group = "Edge"
	Security     Group = "Security"
	Monitoring   Group = "Monitoring"
)

// Need says what a check needs before it can run.
type Need int

const (
	// NeedNothing: the check runs whatever the state of the hub.
	NeedNothing Need = iota
	// NeedHub: the check reads the hub's API server.
	NeedHub
	// NeedAPI: the check reads Flotilla's own kinds on the hub.
	NeedAPI
)

// Skip reasons when a check cannot run.
const (
	ReasonHubUnreachable = "the hub is unreachable"
	ReasonNoAPI          = "Flotilla's API is not installed on the hub (run flotilla install)"
)

// Check is one item of the checklist.
type Check struct {
	Group Group
	// Name identifies the check, in kebab-case; scripts may rely on it.
	Name string
	// Needs is what must work before Run is called; otherwise the check
	// is skipped with ReasonHubUnreachable or ReasonNoAPI.
	Needs Need
	// Run performs the check. It sets Status, Summary, Evidence and Fix
	// or Reason; Run fills in Group and Name.
	Run func(ctx context.Context, e *Env) Result
}

// Result is the outcome of one check.
type Result struct {
	Group  Group  `json:"group"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Summary is one line that says what was found.
	Summary string `json:"summary"`
	// Evidence are the facts behind the verdict, one per line.
	Evidence []string `json:"evidence"`
	// Fix says what to run or do, for a warning or a failure. It may hold
	// several lines.
	Fix string `json:"fix,omitempty"`
	// Reason says why a check was skipped.
	Reason string `json:"reason,omitempty"`
}

// Summary counts results by status.
type Summary struct {
	Passed   int `json:"passed"`
	Warnings int `json:"warnings"`
	Failed   int `json:"failed"`
	Skipped  int `json:"skipped"`
}

// String is the summary line, such as "12 passed, 1 warnings, 0 failed, 3 skipped".
func (s Summary) String() string {
	return fmt.Sprintf("%d passed, %d warnings, %d failed, %d skipped", s.Passed, s.Warnings, s.Failed, s.Skipped)
}

// Report is the outcome of a run, in the order the checks ran.
type Report struct {
	Checks  []Result `json:"checks"`
	Summary Summary  `json:"summary"`
}

// Failed reports whether any check failed.
func (r Report) Failed() bool { return r.Summary.Failed > 0 }

// Run probes the hub, then runs the checks in order. A check whose needs
// are not met is skipped with the reason; the first check of
// DefaultChecks reports why.
func Run(ctx context.Context, e *Env, checks []Check) Report {
	e.connect(ctx)
	rep := Report{Checks: make([]Result, 0, len(checks))}
	for _, c := range checks {
		var r Result
		switch {
		case c.Needs >= NeedHub && !e.hub.reachable:
			r = skip("not checked", ReasonHubUnreachable)
		case c.Needs >= NeedAPI && !e.hub.apiInstalled:
			r = skip("not checked", ReasonNoAPI)
		default:
			r = c.Run(ctx, e)
		}
		r.Group, r.Name = c.Group, c.Name
		r.Evidence = capLines(r.Evidence, MaxEvidence)
		if r.Evidence == nil {
			r.Evidence = []string{}
		}
		rep.Checks = append(rep.Checks, r)
		switch r.Status {
		case Pass:
			rep.Summary.Passed++
		case Warn:
			rep.Summary.Warnings++
		case Fail:
			rep.Summary.Failed++
		case Skip:
			rep.Summary.Skipped++
		}
	}
	return rep
}

// MaxEvidence bounds the evidence lines of one check, so that a fleet of
// thousands of templates still reads on one screen.
const MaxEvidence = 20

func capLines(lines []string, n int) []string {
	if len(lines) <= n {
		return lines
	}
	out := append([]string(nil), lines[:n-1]...)
	return append(out, fmt.Sprintf("... and %d more", len(lines)-n+1))
}

func pass(summary string, evidence ...string) Result {
	return Result{Status: Pass, Summary: summary, Evidence: evidence}
}

func warn(summary, fix string, evidence ...string) Result {
	return Result{Status: Warn, Summary: summary, Fix: fix, Evidence: evidence}
}

func fail(summary, fix string, evidence ...string) Result {
	return Result{Status: Fail, Summary: summary, Fix: fix, Evidence: evidence}
}

func skip(summary, reason string, evidence ...string) Result {
	return Result{Status: Skip, Summary: summary, Reason: reason, Evidence: evidence}
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

// all says that every one of n things is so: "the 1 cluster is Ready",
// "all 3 clusters are Ready".
func all(n int, one, many, isOne, isMany string) string {
	if n == 1 {
		return "the 1 " + one + " " + isOne
	}
	return fmt.Sprintf("all %d %s %s", n, many, isMany)
}

// verb picks the singular or plural form for a count.
func verb(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// plural returns "1 cluster" or "3 clusters".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
