package gorgias

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type testBundle struct {
	emu *Emulator
	srv *httptest.Server
}

func setup(t *testing.T, cfg Config) *testBundle {
	t.Helper()
	e := New(cfg)
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		srv.Close()
		e.Close()
	})
	return &testBundle{emu: e, srv: srv}
}

// do sends a request to the emulator (Basic auth with the default key
// unless the caller set Authorization) and returns status, headers, body.
func (b *testBundle) do(t *testing.T, method, path string, body any, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	return doReq(t, b.srv.URL, method, path, body, hdr...)
}

func doReq(t *testing.T, base, method, path string, body any, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch v := body.(type) {
		case string:
			rd = strings.NewReader(v)
		default:
			bb, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(bb)
		}
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(DefaultUserEmail, DefaultAPIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

// mustJSON decodes b into a map or fails.
func mustJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return m
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// htmlElem is an element of a parsed page with its attributes and text.
type htmlElem struct {
	Name  string
	Attrs map[string]string
	Text  string
}

// parseHTML walks the page with encoding/xml in HTML mode and returns every
// element that has any of the given attributes, with its inner text.
func parseHTML(t *testing.T, page []byte, attrs ...string) []htmlElem {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	type open struct {
		idx  int // index in out, -1 if not collected
		name string
	}
	var stack []open
	var out []htmlElem
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page does not parse: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			o := open{idx: -1, name: x.Name.Local}
			m := map[string]string{}
			for _, a := range x.Attr {
				m[a.Name.Local] = a.Value
			}
			for _, want := range attrs {
				if _, ok := m[want]; ok {
					out = append(out, htmlElem{Name: x.Name.Local, Attrs: m})
					o.idx = len(out) - 1
					break
				}
			}
			stack = append(stack, o)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			for _, o := range stack {
				if o.idx >= 0 {
					out[o.idx].Text += string(x)
				}
			}
		}
	}
	for i := range out {
		out[i].Text = strings.Join(strings.Fields(out[i].Text), " ")
	}
	return out
}
