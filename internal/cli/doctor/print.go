package doctor

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/flotilla-io/flotilla/internal/cli/output"
	"github.com/flotilla-io/flotilla/internal/doctor"
)

// ANSI colours of the status markers.
const (
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	red    = "\x1b[31m"
	grey   = "\x1b[90m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

var markers = map[doctor.Status]struct{ text, color string }{
	doctor.Pass: {"PASS", green},
	doctor.Warn: {"WARN", yellow},
	doctor.Fail: {"FAIL", red},
	doctor.Skip: {"SKIP", grey},
}

// PrintText writes one line per check under its group's heading, the
// evidence and the fix of warnings and failures beneath, and the summary
// line. Colour marks the status only when color is true.
func PrintText(w io.Writer, rep doctor.Report, color bool) error {
	bw := bufio.NewWriter(w)
	paint := func(s, c string) string {
		if !color {
			return s
		}
		return c + s + reset
	}
	width := 0
	for _, r := range rep.Checks {
		width = max(width, len(r.Name))
	}
	const indent = "        "
	var group doctor.Group
	for _, r := range rep.Checks {
		if r.Group != group {
			if group != "" {
				fmt.Fprintln(bw)
			}
			group = r.Group
			fmt.Fprintln(bw, paint(string(group), bold))
		}
		m := markers[r.Status]
		text := r.Summary
		if r.Status == doctor.Skip && r.Reason != "" {
			text += ": " + r.Reason
		}
		fmt.Fprintf(bw, "  %s  %-*s  %s\n", paint(m.text, m.color), width, r.Name, text)
		if r.Status != doctor.Warn && r.Status != doctor.Fail {
			continue
		}
		for _, e := range r.Evidence {
			fmt.Fprintln(bw, indent+e)
		}
		for i, f := range strings.Split(r.Fix, "\n") {
			if r.Fix == "" {
				break
			}
			if i == 0 {
				fmt.Fprintln(bw, indent+"fix: "+f)
			} else {
				fmt.Fprintln(bw, indent+"     "+f)
			}
		}
	}
	if len(rep.Checks) > 0 {
		fmt.Fprintln(bw)
	}
	fmt.Fprintln(bw, rep.Summary.String())
	return bw.Flush()
}

// PrintJSON writes the report as {"checks":[...],"summary":{...}}.
func PrintJSON(w io.Writer, rep doctor.Report) error {
	return output.PrintValue(w, output.JSON, rep)
}
