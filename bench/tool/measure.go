package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// spec is one command to measure.
type spec struct {
	name  string   // the client's name in the tables
	argv  []string // the command
	stdin string   // a file for standard input, or ""
	env   []string // added to the harness's environment
	timeV bool     // run under /usr/bin/time to read the peak RSS
}

// sample is one run: whole-process wall time and, for a spec with timeV,
// the peak RSS that /usr/bin/time reports. (ru_maxrss of a child started by
// this Go program is no good: Go starts children with vfork semantics, and
// Linux counts the parent's RSS at exec in the child's maximum.)
type sample struct {
	wall   time.Duration
	rssKiB int64
	cpu    time.Duration // user + system time, with timeV
}

// lastLine is the last non-empty line of s (GNU time puts a note on the
// status of a failed command before its figures).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// runOnce runs s and fails unless it exits 0.
func (h *harness) runOnce(s spec) (sample, error) {
	argv := s.argv
	rssFile := h.path("rss.out")
	if s.timeV {
		argv = append([]string{"/usr/bin/time", "-f", "%M %U %S", "-o", rssFile}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(h.baseEnv(), s.env...)
	cmd.Dir = h.dir
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 8 << 10}
	cmd.Stdout = &limitedBuffer{b: &stderr, max: 8 << 10}
	if s.stdin != "" {
		f, err := os.Open(s.stdin)
		if err != nil {
			return sample{}, err
		}
		defer f.Close()
		cmd.Stdin = f
	}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s: %v: %s\n%s", s.name, err, strings.Join(s.argv, " "), stderr.String())
	}
	var rss int64
	var cpu time.Duration
	if s.timeV {
		b, err := os.ReadFile(rssFile)
		if err != nil {
			return sample{}, err
		}
		var user, sys float64
		if _, err := fmt.Sscanf(lastLine(string(b)), "%d %f %f", &rss, &user, &sys); err != nil {
			return sample{}, fmt.Errorf("%s: /usr/bin/time: %v", s.name, err)
		}
		cpu = time.Duration((user + sys) * float64(time.Second))
	}
	return sample{wall: wall, rssKiB: rss, cpu: cpu}, nil
}

type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// interleave runs the specs in turn, A B C A B C …, warmup rounds first
// (discarded), then rounds measured rounds. It returns samples[client][round].
func (h *harness) interleave(specs []spec, rounds, warmup int) ([][]sample, error) {
	out := make([][]sample, len(specs))
	for r := -warmup; r < rounds; r++ {
		for i, s := range specs {
			sm, err := h.runOnce(s)
			if err != nil {
				return nil, err
			}
			if r >= 0 {
				out[i] = append(out[i], sm)
			}
		}
	}
	return out, nil
}

// summary is the median and range of a series.
type summary struct {
	med, lo, hi float64
	n           int
}

func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{med: math.NaN(), lo: math.NaN(), hi: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{med: m, lo: s[0], hi: s[len(s)-1], n: len(s)}
}

func walls(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.wall.Seconds()
	}
	return out
}

func rsss(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = float64(s.rssKiB)
	}
	return out
}

// ratios is a[i]/b[i] for each round.
func ratios(a, b []float64) []float64 {
	out := make([]float64, min(len(a), len(b)))
	for i := range out {
		out[i] = a[i] / b[i]
	}
	return out
}

func fmtMS(s summary) string {
	return fmt.Sprintf("%.2f ms (%.2f–%.2f)", s.med*1000, s.lo*1000, s.hi*1000)
}

func fmtRatio(s summary) string {
	return fmt.Sprintf("%.3f (%.3f–%.3f)", s.med, s.lo, s.hi)
}

func fmtMiB(kib float64) string { return fmt.Sprintf("%.2f MiB", kib/1024) }

func cpus(ss []sample) []float64 {
	out := make([]float64, len(ss))
	for i, s := range ss {
		out[i] = s.cpu.Seconds()
	}
	return out
}
