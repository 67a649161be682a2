package klaviyo

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// createList is POST /api/lists (201). The 150/day cap comes from the
// contract's daily rate limit.
func (e *Emulator) createList(c *call) (int, any, error) {
	_, attrs, _ := dataObject(c.body)
	name, _ := attrs["name"].(string)
	if strings.TrimSpace(name) == "" {
		return 0, nil, invalid("/data/attributes/name", "The list name is required.")
	}
	optIn, _ := attrs["opt_in_process"].(string)
	if optIn == "" {
		optIn = e.cfg.DefaultOptInProcess
	}
	l := &list{id: e.shortIDLocked(6), name: name, optIn: optIn, created: c.now, updated: c.now, members: map[string]time.Time{}}
	c.acct.lists[l.id] = l
	c.acct.listOrder = append(c.acct.listOrder, l.id)
	return http.StatusCreated, map[string]any{"data": c.listResource(l, false), "links": map[string]any{"self": c.linkTo("/api/lists/" + l.id)}}, nil
}

// getLists is GET /api/lists with filter (name, id, created, updated), sort
// and cursor paging (at most 10 per page).
func (e *Emulator) getLists(c *call) (int, any, error) {
	q := c.r.URL.Query()
	var f filterExpr
	if s := q.Get("filter"); s != "" {
		var err error
		if f, err = parseFilter(s, c.op); err != nil {
			return 0, nil, err
		}
	}
	var rows []*list
	for _, id := range c.acct.listOrder {
		l := c.acct.lists[id]
		if f == nil || f.eval(listField(l)) {
			rows = append(rows, l)
		}
	}
	if err := sortRows(rows, q.Get("sort"), map[string]func(a, b *list) int{
		"id":      func(a, b *list) int { return strings.Compare(a.id, b.id) },
		"name":    func(a, b *list) int { return strings.Compare(a.name, b.name) },
		"created": func(a, b *list) int { return a.created.Compare(b.created) },
		"updated": func(a, b *list) int { return a.updated.Compare(b.updated) },
	}); err != nil {
		return 0, nil, err
	}
	page, next, err := paginate(rows, q, 10, 10)
	if err != nil {
		return 0, nil, err
	}
	data := make([]any, 0, len(page))
	for _, l := range page {
		data = append(data, c.listResource(l, false))
	}
	return http.StatusOK, c.collection(data, next), nil
}

func listField(l *list) func(string) (any, bool) {
	return func(field string) (any, bool) {
		switch field {
		case "id":
			return l.id, true
		case "name":
			return l.name, true
		case "created":
			return l.created, true
		case "updated":
			return l.updated, true
		}
		return nil, false
	}
}

// getList is GET /api/lists/{id}; additional-fields[list]=profile_count adds
// the member count.
func (e *Emulator) getList(c *call) (int, any, error) {
	l, ok := c.acct.lists[c.r.PathValue("id")]
	if !ok {
		return 0, nil, notFound("A list with id %s does not exist.", c.r.PathValue("id"))
	}
	count := false
	for _, v := range strings.Split(c.r.URL.Query().Get("additional-fields[list]"), ",") {
		count = count || v == "profile_count"
	}
	return http.StatusOK, map[string]any{"data": c.listResource(l, count), "links": map[string]any{"self": c.linkTo("/api/lists/" + l.id)}}, nil
}

func (c *call) listResource(l *list, count bool) map[string]any {
	attrs := map[string]any{"name": l.name, "created": formatTime(l.created), "updated": formatTime(l.updated), "opt_in_process": l.optIn}
	if count {
		attrs["profile_count"] = len(l.members)
	}
	return map[string]any{
		"type": "list", "id": l.id, "attributes": attrs,
		"relationships": map[string]any{
			"profiles": map[string]any{"links": map[string]any{
				"self": c.linkTo("/api/lists/" + l.id + "/relationships/profiles"), "related": c.linkTo("/api/lists/" + l.id + "/profiles"),
			}},
		},
		"links": map[string]any{"self": c.linkTo("/api/lists/" + l.id)},
	}
}

// memberIDs reads {"data":[{"type":"profile","id":…}]} and checks the
// 1,000-id cap and that every profile exists.
func memberIDs(c *call) (*list, []string, error) {
	l, ok := c.acct.lists[c.r.PathValue("id")]
	if !ok {
		return nil, nil, notFound("A list with id %s does not exist.", c.r.PathValue("id"))
	}
	items, _ := c.body["data"].([]any)
	if len(items) > MaxListMembersPerCall {
		return nil, nil, invalid("/data", "At most %d profiles may be sent per call; got %d.", MaxListMembersPerCall, len(items))
	}
	ids := make([]string, 0, len(items))
	for i, it := range items {
		id, _ := asMap(it)["id"].(string)
		if _, ok := c.acct.profiles[id]; !ok {
			return nil, nil, invalid("/data/"+strconv.Itoa(i)+"/id", "A profile with id %s does not exist.", id)
		}
		ids = append(ids, id)
	}
	return l, ids, nil
}

// addListMembers is POST /api/lists/{id}/relationships/profiles (204).
func (e *Emulator) addListMembers(c *call) (int, any, error) {
	l, ids, err := memberIDs(c)
	if err != nil {
		return 0, nil, err
	}
	for _, id := range ids {
		if _, ok := l.members[id]; !ok {
			l.members[id] = c.now
		}
	}
	return http.StatusNoContent, nil, nil
}

// removeListMembers is DELETE /api/lists/{id}/relationships/profiles (204).
func (e *Emulator) removeListMembers(c *call) (int, any, error) {
	l, ids, err := memberIDs(c)
	if err != nil {
		return 0, nil, err
	}
	for _, id := range ids {
		delete(l.members, id)
	}
	return http.StatusNoContent, nil, nil
}
