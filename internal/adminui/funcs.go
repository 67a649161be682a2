package adminui

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strings"
	"time"
)

func pathEscape(s string) string { return url.PathEscape(s) }

var funcs = template.FuncMap{
	"path": pathEscape,
	"when": func(t any) string {
		switch x := t.(type) {
		case time.Time:
			if x.IsZero() {
				return "—"
			}
			return x.UTC().Format("2006-01-02 15:04:05")
		case *time.Time:
			if x == nil || x.IsZero() {
				return "—"
			}
			return x.UTC().Format("2006-01-02 15:04:05")
		}
		return fmt.Sprint(t)
	},
	"ms": func(d time.Duration) string {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	},
	"pretty": func(raw json.RawMessage) string {
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return string(raw)
		}
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b)
	},
	"sortedKeys": func(m map[string]string) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	},
	"pct":   func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"lower": strings.ToLower,
}
