package adminui

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// series is one row of bars in a chart.
type series struct {
	Name   string
	Class  string // CSS class of the bars (colour)
	Values []int
}

// barChart draws per-minute bars as inline SVG: the series are stacked
// from the bottom, one column per minute, each with a <title> tooltip.
// Only numbers and fixed names reach the markup.
func barChart(label string, minutes []time.Time, ss []series) template.HTML {
	const w, h, pad = 600, 120, 18
	peak := 1
	for i := range minutes {
		sum := 0
		for _, s := range ss {
			sum += s.Values[i]
		}
		peak = max(peak, sum)
	}
	colW := float64(w) / float64(max(len(minutes), 1))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s">`, w, h+pad, template.HTMLEscapeString(label))
	fmt.Fprintf(&b, `<line class="axis" x1="0" y1="%d" x2="%d" y2="%d"/>`, h, w, h)
	for i, m := range minutes {
		y := float64(h)
		var tip []string
		for _, s := range ss {
			v := s.Values[i]
			tip = append(tip, fmt.Sprintf("%d %s", v, s.Name))
			if v == 0 {
				continue
			}
			bh := float64(v) / float64(peak) * float64(h-4)
			y -= bh
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, s.Class, float64(i)*colW+1, y, colW-2, bh)
		}
		fmt.Fprintf(&b, `<rect class="hover" x="%.1f" y="0" width="%.1f" height="%d"><title>%s: %s</title></rect>`, float64(i)*colW, colW, h, m.Format("15:04"), template.HTMLEscapeString(strings.Join(tip, ", ")))
	}
	if len(minutes) > 0 {
		fmt.Fprintf(&b, `<text x="0" y="%d">%s</text>`, h+pad-4, minutes[0].Format("15:04"))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, w, h+pad-4, minutes[len(minutes)-1].Format("15:04"))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">peak %d/min</text>`, w/2, h+pad-4, peak)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from numbers, times and escaped fixed names
}

// meter draws a horizontal gauge (fraction in [0,1]) as inline SVG.
func meter(frac float64, class string) template.HTML {
	frac = min(max(frac, 0), 1)
	return template.HTML(fmt.Sprintf(`<svg class="meter" viewBox="0 0 100 10" preserveAspectRatio="none"><rect class="track" x="0" y="0" width="100" height="10"/><rect class="%s" x="0" y="0" width="%.1f" height="10"/></svg>`, template.HTMLEscapeString(class), frac*100)) //nolint:gosec // numbers and an escaped class
}
