package doctor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

var errNoMetricsURL = errors.New("no metrics URL")

// Sample is one series of a scrape.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Scrape is a parsed Prometheus text exposition: the samples of each
// metric name.
type Scrape struct {
	Samples map[string][]Sample
}

// Has reports whether the scrape holds any series of the metric.
func (s *Scrape) Has(name string) bool { return len(s.Samples[name]) > 0 }

// Sum adds the values of every series of the metric.
func (s *Scrape) Sum(name string) float64 {
	var t float64
	for _, x := range s.Samples[name] {
		t += x.Value
	}
	return t
}

// ParseMetrics reads the Prometheus text format, as controller-runtime's
// metrics server writes it. Comments, timestamps and exemplars are
// ignored; a line that does not parse is an error, since an endpoint
// that serves something else is not the hub's.
func ParseMetrics(body []byte) (*Scrape, error) {
	s := &Scrape{Samples: map[string][]Sample{}}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, labels, rest, err := splitSample(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("line %d: no value", n)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value %q: %w", n, fields[0], err)
		}
		s.Samples[name] = append(s.Samples[name], Sample{Labels: labels, Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// splitSample splits `name{a="b",c="d"} rest` into its parts.
func splitSample(line string) (string, map[string]string, string, error) {
	i := strings.IndexAny(line, "{ \t")
	if i < 0 {
		return "", nil, "", fmt.Errorf("no value in %q", truncate(line, 80))
	}
	name := line[:i]
	if name == "" {
		return "", nil, "", fmt.Errorf("no metric name in %q", truncate(line, 80))
	}
	if line[i] != '{' {
		return name, nil, line[i:], nil
	}
	labels := map[string]string{}
	j := i + 1
	for {
		for j < len(line) && (line[j] == ' ' || line[j] == ',') {
			j++
		}
		if j >= len(line) {
			return "", nil, "", fmt.Errorf("unterminated labels in %q", truncate(line, 80))
		}
		if line[j] == '}' {
			return name, labels, line[j+1:], nil
		}
		eq := strings.IndexByte(line[j:], '=')
		if eq < 0 || j+eq+1 >= len(line) || line[j+eq+1] != '"' {
			return "", nil, "", fmt.Errorf("malformed label in %q", truncate(line, 80))
		}
		key := strings.TrimSpace(line[j : j+eq])
		k := j + eq + 2
		var val strings.Builder
		for ; k < len(line) && line[k] != '"'; k++ {
			if line[k] == '\\' && k+1 < len(line) {
				k++
				switch line[k] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(line[k])
				}
				continue
			}
			val.WriteByte(line[k])
		}
		if k >= len(line) {
			return "", nil, "", fmt.Errorf("unterminated label value in %q", truncate(line, 80))
		}
		labels[key] = val.String()
		j = k + 1
	}
}
