package whiplash

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"switchyard/internal/emulator/emukit"
)

// parseListQuery reads search and sort; a returned error is a 422.
func (e *Emulator) parseListQuery(v url.Values) (*query, error) {
	conds, err := parseSearch(v.Get("search"), e.cfg.SearchLocation, !e.cfg.LenientSearch)
	if err != nil {
		return nil, err
	}
	q := &query{conds: conds, updated: boundsOf(conds)}
	if s := v.Get("sort"); s != "" {
		if q.sort, err = parseSort(s); err != nil {
			if e.cfg.LenientSearch {
				q.sort = nil
			} else {
				return nil, err
			}
		}
	}
	return q, nil
}

func (p *principal) sees(o *Order) bool {
	return int64(o.CustomerID) == p.customer.ID && (p.shopID == 0 || int64(o.ShopID) == p.shopID)
}

func (q *query) match(p *principal, o *Order) bool {
	if !p.sees(o) {
		return false
	}
	for i := range q.conds {
		if !q.conds[i].match(o) {
			return false
		}
	}
	return true
}

// selectLocked returns the page [offset, offset+limit) of matching orders
// in sort order and, when total is asked for, the number of matches.
func (e *Emulator) selectLocked(q *query, p *principal, offset, limit int, wantTotal bool) ([]*Order, int) {
	view, rev := q.nativeOrder()
	src := e.orders.all
	if view == "byUpdated" {
		src = e.orders.byUpdated
	}
	if q.updated.hasLo || q.updated.hasHi {
		src = e.orders.updatedRange(q.updated)
		if view == "byID" {
			if len(src) >= len(e.orders.all)/4 {
				src = e.orders.all // scanning in id order beats sorting a wide range
			} else {
				view = ""
			}
		}
	}
	if view == "byUpdated" && p.shopID == 0 && len(e.customers) == 1 && q.boundsOnly() {
		// Every row of the range matches: page by slicing.
		total := len(src)
		if offset >= total {
			return nil, total
		}
		lo, hi := offset, min(total, offset+limit)
		if !rev {
			return slices.Clone(src[lo:hi]), total
		}
		page := make([]*Order, 0, hi-lo)
		for i := lo; i < hi; i++ {
			page = append(page, src[total-1-i])
		}
		return page, total
	}
	if view == "" {
		var cands []*Order
		for _, o := range src {
			if q.match(p, o) {
				cands = append(cands, o)
			}
		}
		slices.SortFunc(cands, q.less)
		total := len(cands)
		if offset >= total {
			return nil, total
		}
		return cands[offset:min(total, offset+limit)], total
	}
	var page []*Order
	n := 0
	for i := range src {
		o := src[i]
		if rev {
			o = src[len(src)-1-i]
		}
		if !q.match(p, o) {
			continue
		}
		if n >= offset && len(page) < limit {
			page = append(page, o)
		}
		n++
		if !wantTotal && len(page) == limit {
			break
		}
	}
	return page, n
}

func intParam(v url.Values, name string, def int) (int, error) {
	s := strings.TrimSpace(v.Get(name))
	if s == "" {
		return def, nil
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s must be an integer, got %q", name, s)
	}
	return i, nil
}

// pageParams reads page (default 1) and per_page (default DefaultPerPage,
// clamped to MaxPerPage without an error).
func (e *Emulator) pageParams(v url.Values) (page, perPage int, err error) {
	if page, err = intParam(v, "page", 1); err != nil {
		return 0, 0, err
	}
	if perPage, err = intParam(v, "per_page", e.cfg.DefaultPerPage); err != nil {
		return 0, 0, err
	}
	if perPage < 1 {
		perPage = e.cfg.DefaultPerPage
	}
	return max(page, 1), min(perPage, e.cfg.MaxPerPage), nil
}

// pageOf returns page (1-based) of rows, perPage rows a page, never nil.
func pageOf[T any](rows []T, page, perPage int) []T {
	lo := (page - 1) * perPage
	if lo >= len(rows) {
		return []T{}
	}
	return rows[lo:min(len(rows), lo+perPage)]
}

func (e *Emulator) handleListOrders(w http.ResponseWriter, r *http.Request, p *principal) {
	v := r.URL.Query()
	q, err := e.parseListQuery(v)
	if err != nil {
		e.writeErr(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	page, perPage, err := e.pageParams(v)
	if err != nil {
		e.writeErr(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	wantTotal, _ := strconv.ParseBool(v.Get("page_total"))
	links, _ := strconv.ParseBool(v.Get("page_links"))

	e.mu.Lock()
	rows, total := e.selectLocked(q, p, (page-1)*perPage, perPage, wantTotal || links)
	e.mu.Unlock()

	if wantTotal {
		w.Header().Set("Total", strconv.Itoa(total))
	}
	if links {
		w.Header().Set("Link", pageLinks(r.URL, page, perPage, total))
	}
	body, err := renderOrders(rows, v.Get("fields"))
	if err != nil {
		e.writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func pageLinks(u *url.URL, page, perPage, total int) string {
	link := func(p int, rel string) string {
		c := *u
		q := c.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		c.RawQuery = q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", c.RequestURI(), rel)
	}
	last := max(1, (total+perPage-1)/perPage)
	parts := []string{link(1, "first")}
	if page > 1 {
		parts = append(parts, link(page-1, "prev"))
	}
	if page < last {
		parts = append(parts, link(page+1, "next"))
	}
	parts = append(parts, link(last, "last"))
	return strings.Join(parts, ", ")
}

// renderOrders marshals a bare JSON array, keeping only the comma-separated
// fields when given.
func renderOrders(rows []*Order, fields string) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, o := range rows {
		if i > 0 {
			buf.WriteByte(',')
		}
		b, err := renderOrder(o, fields)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

func renderOrder(o *Order, fields string) ([]byte, error) {
	b, err := json.Marshal(o)
	if err != nil || strings.TrimSpace(fields) == "" {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	keep := map[string]json.RawMessage{}
	for f := range strings.SplitSeq(fields, ",") {
		f = strings.TrimSpace(f)
		if v, ok := m[f]; ok {
			keep[f] = v
		}
	}
	if _, ok := keep["id"]; !ok {
		keep["id"] = m["id"]
	}
	return json.Marshal(keep)
}

func (e *Emulator) handleCountOrders(w http.ResponseWriter, r *http.Request, p *principal) {
	q, err := e.parseListQuery(r.URL.Query())
	if err != nil {
		e.writeErr(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	e.mu.Lock()
	src := e.orders.all
	if q.updated.hasLo || q.updated.hasHi {
		src = e.orders.updatedRange(q.updated)
	}
	n := 0
	for _, o := range src {
		if q.match(p, o) {
			n++
		}
	}
	e.mu.Unlock()
	emukit.WriteJSON(w, http.StatusOK, map[string]int{"count": n})
}

func (e *Emulator) handleGetOrder(w http.ResponseWriter, r *http.Request, p *principal) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	e.mu.Lock()
	var o *Order
	if err == nil {
		o = e.orders.get(id)
	}
	e.mu.Unlock()
	if o == nil || !p.sees(o) {
		e.writeErr(w, http.StatusNotFound, fmt.Sprintf("Couldn't find Order with 'id'=%s", raw))
		return
	}
	b, err := renderOrder(o, r.URL.Query().Get("fields"))
	if err != nil {
		e.writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// decodeBody reads a JSON request body (≤ 1 MiB) into v.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("body is not valid JSON: %w", err)
		}
		return fmt.Errorf("unreadable body: %w", err)
	}
	return nil
}
