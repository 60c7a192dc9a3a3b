package main

import (
	"fmt"
	"html"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var workersCase = regexp.MustCompile(`^noop-(\d+)sub-(\d+)w$`)

// chart draws Workqueue throughput (jobs per second = 1e9 / ns/op) for the
// one-submitter no-op cases, one group of bars per worker count, one bar per
// implementation.
func chart(samples []*sample, title string) string {
	var workers []int
	var impls []string
	val := map[string]float64{}
	for _, s := range samples {
		m := workersCase.FindStringSubmatch(s.kase)
		if s.area != "Workqueue" || m == nil || m[1] != "1" || s.nsMedian() == 0 {
			continue
		}
		w, _ := strconv.Atoi(m[2])
		if !slices.Contains(workers, w) {
			workers = append(workers, w)
		}
		if !slices.Contains(impls, s.impl) {
			impls = append(impls, s.impl)
		}
		val[fmt.Sprint(w, "/", s.impl)] = 1e9 / s.nsMedian()
	}
	slices.Sort(workers)
	var top float64
	for _, v := range val {
		top = max(top, v)
	}
	const (
		left, right, topPad, bottom = 70.0, 180.0, 50.0, 50.0
		barW, gap                   = 18.0, 30.0
		plotH                       = 300.0
	)
	groupW := barW*float64(len(impls)) + gap
	width := left + groupW*float64(len(workers)) + right
	height := topPad + plotH + bottom
	palette := []string{"#1b6ca8", "#e07b39", "#6aa84f", "#a64d79", "#999999", "#c9a227", "#45818e", "#cc4125"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">Workqueue throughput, no-op jobs, 1 submitter (jobs/s, higher is better)</text>`+"\n", left)
	if title != "" {
		fmt.Fprintf(&b, `<text x="%.0f" y="38" fill="#555">%s</text>`+"\n", left, html.EscapeString(title))
	}
	if top == 0 || len(workers) == 0 {
		b.WriteString("</svg>\n")
		return b.String()
	}
	for i := 0; i <= 4; i++ {
		y := topPad + plotH - plotH*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, width-right, y, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%.1fM</text>`+"\n", left-6, y+4, top*float64(i)/4/1e6)
	}
	for gi, w := range workers {
		x0 := left + gap/2 + groupW*float64(gi)
		for ii, impl := range impls {
			v, ok := val[fmt.Sprint(w, "/", impl)]
			if !ok {
				continue
			}
			h := plotH * v / top
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.0f" height="%.1f" fill="%s"><title>%s, %d workers: %.0f jobs/s</title></rect>`+"\n",
				x0+barW*float64(ii), topPad+plotH-h, barW-2, h, palette[ii%len(palette)], html.EscapeString(impl), w, v)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d workers</text>`+"\n", x0+barW*float64(len(impls))/2, topPad+plotH+18, w)
	}
	for ii, impl := range impls {
		y := topPad + 14*float64(ii)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="10" height="10" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			width-right+16, y, palette[ii%len(palette)], width-right+30, y+9, html.EscapeString(impl))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

var scalingCase = regexp.MustCompile(`^(fetch|workqueue)-[cw](\d+)$`)

// scalingChart draws the Scaling area: one panel per kind (fetch requests/s
// against concurrency, workqueue jobs/s against workers), throughput
// (1e9 / median ns/op) on a linear axis, concurrency on a log2 axis, one line
// per implementation.
func scalingChart(samples []*sample, title string) string {
	type point struct {
		x int
		v float64
	}
	kinds := []string{"fetch", "workqueue"}
	lines := map[string]map[string][]point{} // kind -> impl -> points
	var impls = map[string][]string{}
	for _, s := range samples {
		m := scalingCase.FindStringSubmatch(s.kase)
		if s.area != "Scaling" || m == nil || s.nsMedian() == 0 {
			continue
		}
		x, _ := strconv.Atoi(m[2])
		if lines[m[1]] == nil {
			lines[m[1]] = map[string][]point{}
		}
		if !slices.Contains(impls[m[1]], s.impl) {
			impls[m[1]] = append(impls[m[1]], s.impl)
		}
		lines[m[1]][s.impl] = append(lines[m[1]][s.impl], point{x, 1e9 / s.nsMedian()})
	}
	const (
		panelW, panelH         = 420.0, 260.0
		left, gapX, top, below = 70.0, 90.0, 60.0, 70.0
	)
	width := left + 2*panelW + gapX + 30
	height := top + panelH + below
	palette := []string{"#1b6ca8", "#e07b39", "#6aa84f", "#a64d79"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">Scaling: throughput against concurrency, each against its baseline (higher is better)</text>`+"\n", left)
	if title != "" {
		fmt.Fprintf(&b, `<text x="%.0f" y="38" fill="#555">%s</text>`+"\n", left, html.EscapeString(title))
	}
	headings := map[string]string{
		"fetch":     "fetch: requests/s, 1ms server latency, by concurrency",
		"workqueue": "workqueue: jobs/s, 10µs jobs, by workers",
	}
	for ki, kind := range kinds {
		x0 := left + float64(ki)*(panelW+gapX)
		var maxX int
		var topV float64
		for _, pts := range lines[kind] {
			for _, p := range pts {
				maxX = max(maxX, p.x)
				topV = max(topV, p.v)
			}
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`+"\n", x0, top-8, html.EscapeString(headings[kind]))
		if topV == 0 {
			continue
		}
		steps := 1.0
		for l := 1; l < maxX; l *= 2 {
			steps++
		}
		px := func(x int) float64 {
			i := 0.0
			for l := 1; l < x; l *= 2 {
				i++
			}
			return x0 + panelW*i/max(steps-1, 1)
		}
		py := func(v float64) float64 { return top + panelH - panelH*v/(topV*1.05) }
		for i := 0; i <= 4; i++ {
			v := topV * 1.05 * float64(i) / 4
			fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, x0+panelW, py(v), py(v))
			fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, py(v)+4, si(v))
		}
		for l := 1; l <= maxX; l *= 2 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d</text>`+"\n", px(l), top+panelH+16, l)
		}
		for ii, impl := range impls[kind] {
			pts := lines[kind][impl]
			slices.SortFunc(pts, func(a, b point) int { return a.x - b.x })
			var path []string
			for _, p := range pts {
				path = append(path, fmt.Sprintf("%.1f,%.1f", px(p.x), py(p.v)))
			}
			color := palette[ii%len(palette)]
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, strings.Join(path, " "))
			for _, p := range pts {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s, %d: %.0f/s</title></circle>`+"\n", px(p.x), py(p.v), color, html.EscapeString(impl), p.x, p.v)
			}
			ly := top + panelH + 36 + 14*float64(ii)
			fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="10" height="10" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n", x0, ly, color, x0+14, ly+9, html.EscapeString(impl))
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// si prints a rate with a k or M suffix.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}
