package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// Check is one SLO check of a run, as a CI system should see it.
type Check struct {
	// Name says what was checked, e.g. "p99 < 250ms".
	Name string
	// Pass is the verdict.
	Pass bool
	// Message explains the verdict, e.g. "p99 was 312.5ms".
	Message string
	// Group is the result the check applies to (the JUnit classname);
	// empty means the suite's name.
	Group string
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the checks as a JUnit XML report (one testsuite named
// suite, one testcase per check, a <failure> for each failed check), the
// format Jenkins, GitLab, GitHub test reporters and most CI systems read.
// start is the run's start time (zero to leave it out) and elapsed its
// length, given as the suite's time.
func WriteJUnit(w io.Writer, suite string, checks []Check, start time.Time, elapsed time.Duration) error {
	if suite == "" {
		suite = "smp"
	}
	s := junitSuite{Name: suite, Tests: len(checks), Time: seconds(elapsed)}
	if !start.IsZero() {
		s.Timestamp = start.UTC().Format("2006-01-02T15:04:05")
	}
	for _, c := range checks {
		tc := junitCase{Name: c.Name, Classname: suite, Time: "0", SystemOut: c.Message}
		if c.Group != "" {
			tc.Classname = c.Group
		}
		if tc.Name == "" {
			tc.Name = "check"
		}
		if !c.Pass {
			s.Failures++
			tc.Failure = &junitFailure{Message: firstLine(c.Message), Type: "SLO", Text: c.Message}
		}
		s.Cases = append(s.Cases, tc)
	}
	doc := junitSuites{Name: suite, Tests: s.Tests, Failures: s.Failures, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	return nil
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.3f", max(d, 0).Seconds())
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
