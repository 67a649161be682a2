package gorgias

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"switchyard/internal/emulator/emukit"
)

// Page sizes (reference §3: default 30, max 100).
const (
	defaultLimit = 30
	maxLimit     = 100
)

// cursor is the opaque cursor, base64url(JSON).
type cursor struct {
	Dir   string `json:"d"` // "n" next, "p" prev
	Pivot int64  `json:"p"`
}

func encodeCursor(c cursor) *string {
	b, _ := json.Marshal(c)
	s := base64.RawURLEncoding.EncodeToString(b)
	return &s
}

// listMeta is the list envelope's meta.
type listMeta struct {
	PrevCursor *string `json:"prev_cursor"`
	NextCursor *string `json:"next_cursor"`
}

type listBody struct {
	Data   any      `json:"data"`
	Meta   listMeta `json:"meta"`
	Object string   `json:"object"`
	URI    string   `json:"uri"`
}

// pageQuery is the parsed limit/cursor/order_by of a list call.
type pageQuery struct {
	limit int
	cur   *cursor
	desc  bool
}

// parsePage reads limit, cursor and order_by; it answers 400 itself.
// defaultDesc is the list's default order (created_datetime:desc for most).
func parsePage(w http.ResponseWriter, r *http.Request, defaultDesc bool) (pageQuery, bool) {
	q := r.URL.Query()
	pq := pageQuery{limit: defaultLimit, desc: defaultDesc}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			writeErrorData(w, http.StatusBadRequest, "Invalid request.", map[string][]string{"limit": {"Must be greater than or equal to 1 and less than or equal to 100."}})
			return pq, false
		}
		pq.limit = n
	}
	if v := q.Get("order_by"); v != "" {
		field, dir, _ := strings.Cut(v, ":")
		// Only creation order is emulated; other fields fall back to it.
		if field == "created_datetime" || field == "id" || field == "" {
			switch dir {
			case "asc":
				pq.desc = false
			case "desc", "":
				pq.desc = true
			default:
				writeErrorData(w, http.StatusBadRequest, "Invalid request.", map[string][]string{"order_by": {"Invalid order direction."}})
				return pq, false
			}
		}
	}
	if v := q.Get("cursor"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		var c cursor
		if err != nil || json.Unmarshal(b, &c) != nil || (c.Dir != "n" && c.Dir != "p") {
			writeErrorData(w, http.StatusBadRequest, "Invalid request.", map[string][]string{"cursor": {"Invalid cursor."}})
			return pq, false
		}
		pq.cur = &c
	}
	return pq, true
}

// page cuts one page out of ids (ascending) and returns it with its meta.
func (pq pageQuery) page(ids []int64) ([]int64, listMeta) {
	if pq.desc {
		rev := make([]int64, len(ids))
		for i, id := range ids {
			rev[len(ids)-1-i] = id
		}
		ids = rev
	}
	after := func(id, pivot int64) bool { // id comes after pivot in this order
		if pq.desc {
			return id < pivot
		}
		return id > pivot
	}
	start, end := 0, min(pq.limit, len(ids))
	if c := pq.cur; c != nil {
		i := 0
		for i < len(ids) && !after(ids[i], c.Pivot) && ids[i] != c.Pivot {
			i++
		}
		// i: first id at or after the pivot.
		if c.Dir == "n" {
			if i < len(ids) && ids[i] == c.Pivot {
				i++
			}
			start, end = i, min(i+pq.limit, len(ids))
		} else {
			start, end = max(0, i-pq.limit), i
		}
	}
	var meta listMeta
	out := ids[start:end]
	if len(out) > 0 {
		if start > 0 {
			meta.PrevCursor = encodeCursor(cursor{Dir: "p", Pivot: out[0]})
		}
		if end < len(ids) {
			meta.NextCursor = encodeCursor(cursor{Dir: "n", Pivot: out[len(out)-1]})
		}
	}
	return out, meta
}

// writeList writes the list envelope.
// writeListPage pages ids with pq and writes the list of item(id) for the page.
func writeListPage[T any](w http.ResponseWriter, r *http.Request, pq pageQuery, ids []int64, item func(id int64) T) {
	pageIDs, meta := pq.page(ids)
	data := make([]T, 0, len(pageIDs))
	for _, id := range pageIDs {
		data = append(data, item(id))
	}
	writeList(w, r, data, meta)
}

func writeList(w http.ResponseWriter, r *http.Request, data any, meta listMeta) {
	uri := r.URL.Path
	if r.URL.RawQuery != "" {
		uri += "?" + r.URL.RawQuery
	}
	emukit.WriteJSON(w, http.StatusOK, listBody{Data: data, Meta: meta, Object: "list", URI: uri})
}
