package klaviyo

import (
	"net/http"
	"sort"
	"strings"
	"time"
)

// dataObject returns body.data as an object with its attributes and meta.
func dataObject(body map[string]any) (data, attrs, meta map[string]any) {
	data, _ = body["data"].(map[string]any)
	attrs, _ = data["attributes"].(map[string]any)
	meta, _ = data["meta"].(map[string]any)
	if attrs == nil {
		attrs = map[string]any{}
	}
	return data, attrs, meta
}

// importProfile is POST /api/profile-import: create (201) or update (200).
func (e *Emulator) importProfile(c *call) (int, any, error) {
	data, attrs, meta := dataObject(c.body)
	id, _ := data["id"].(string)
	p, created, err := e.upsertLocked(c.acct, id, attrs, meta, "/data/attributes", c.now)
	if err != nil {
		return 0, nil, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return status, c.profileDoc(c.acct, p), nil
}

// upsertLocked is profile-import's matching: by id when given, otherwise by
// identifiers; two different profiles matched is a 409.
func (e *Emulator) upsertLocked(a *account, id string, attrs, meta map[string]any, ptr string, t time.Time) (*profile, bool, error) {
	if err := checkIdentifiers(attrs, ptr); err != nil {
		return nil, false, err
	}
	matches := a.resolve(attrs)
	if id != "" {
		p, ok := a.profiles[id]
		if !ok {
			return nil, false, notFound("A profile with id %s does not exist.", id)
		}
		for _, m := range matches {
			if m != id {
				return nil, false, duplicateProfile(m)
			}
		}
		a.apply(p, attrs, meta, t)
		return p, false, nil
	}
	switch len(matches) {
	case 0:
		if !hasIdentifier(attrs) {
			return nil, false, invalid(ptr, "At least one profile identifier (email, phone_number, external_id) is required.")
		}
		p := e.newProfileLocked(a, t)
		a.apply(p, attrs, meta, t)
		return p, true, nil
	case 1:
		p := a.profiles[matches[0]]
		a.apply(p, attrs, meta, t)
		return p, false, nil
	default:
		return nil, false, duplicateProfile(matches[1])
	}
}

// createProfile is POST /api/profiles: 201, or 409 when any identifier is
// already used.
func (e *Emulator) createProfile(c *call) (int, any, error) {
	_, attrs, _ := dataObject(c.body)
	if err := checkIdentifiers(attrs, "/data/attributes"); err != nil {
		return 0, nil, err
	}
	if !hasIdentifier(attrs) {
		return 0, nil, invalid("/data/attributes", "At least one profile identifier (email, phone_number, external_id) is required.")
	}
	if m := c.acct.resolve(attrs); len(m) > 0 {
		return 0, nil, duplicateProfile(m[0])
	}
	p := e.newProfileLocked(c.acct, c.now)
	c.acct.apply(p, attrs, nil, c.now)
	return http.StatusCreated, c.profileDoc(c.acct, p), nil
}

// updateProfile is PATCH /api/profiles/{id}.
func (e *Emulator) updateProfile(c *call) (int, any, error) {
	id := c.r.PathValue("id")
	data, attrs, meta := dataObject(c.body)
	if bid, _ := data["id"].(string); bid != id {
		return 0, nil, invalid("/data/id", "The id in the body (%q) does not match the id in the URL (%q).", bid, id)
	}
	p, ok := c.acct.profiles[id]
	if !ok {
		return 0, nil, notFound("A profile with id %s does not exist.", id)
	}
	if err := checkIdentifiers(attrs, "/data/attributes"); err != nil {
		return 0, nil, err
	}
	for _, m := range c.acct.resolve(attrs) {
		if m != id {
			return 0, nil, duplicateProfile(m)
		}
	}
	c.acct.apply(p, attrs, meta, c.now)
	return http.StatusOK, c.profileDoc(c.acct, p), nil
}

// getProfile is GET /api/profiles/{id}.
func (e *Emulator) getProfile(c *call) (int, any, error) {
	p, ok := c.acct.profiles[c.r.PathValue("id")]
	if !ok {
		return 0, nil, notFound("A profile with id %s does not exist.", c.r.PathValue("id"))
	}
	return http.StatusOK, c.profileDoc(c.acct, p), nil
}

// getProfiles is GET /api/profiles with filter, sort and cursor paging.
func (e *Emulator) getProfiles(c *call) (int, any, error) {
	q := c.r.URL.Query()
	var f filterExpr
	if s := q.Get("filter"); s != "" {
		var err error
		if f, err = parseFilter(s, c.op); err != nil {
			return 0, nil, err
		}
	}
	var rows []*profile
	for _, id := range c.acct.profOrder {
		p := c.acct.profiles[id]
		if f == nil || f.eval(profileField(p)) {
			rows = append(rows, p)
		}
	}
	if err := sortRows(rows, q.Get("sort"), map[string]func(a, b *profile) int{
		"id":      func(a, b *profile) int { return strings.Compare(a.id, b.id) },
		"created": func(a, b *profile) int { return a.created.Compare(b.created) },
		"email":   func(a, b *profile) int { return strings.Compare(a.attrs["email"], b.attrs["email"]) },
		"updated": func(a, b *profile) int { return a.updated.Compare(b.updated) },
	}); err != nil {
		return 0, nil, err
	}
	page, next, err := paginate(rows, q, 20, 100)
	if err != nil {
		return 0, nil, err
	}
	data := make([]any, 0, len(page))
	for _, p := range page {
		data = append(data, c.profileResource(c.acct, p))
	}
	return http.StatusOK, c.collection(data, next), nil
}

// profileField exposes a profile to filters.
func profileField(p *profile) func(string) (any, bool) {
	return func(field string) (any, bool) {
		switch field {
		case "id":
			return p.id, true
		case "email", "phone_number", "external_id":
			v, ok := p.attrs[field]
			return v, ok
		case "created":
			return p.created, true
		case "updated":
			return p.updated, true
		}
		return nil, false
	}
}

// sortRows sorts rows by "field" or "-field"; the default keeps insertion
// order.
func sortRows[T any](rows []T, sortParam string, cmp map[string]func(a, b T) int) error {
	if sortParam == "" {
		return nil
	}
	desc := strings.HasPrefix(sortParam, "-")
	f, ok := cmp[strings.TrimPrefix(sortParam, "-")]
	if !ok {
		return &apiErr{status: http.StatusBadRequest, code: "invalid", parameter: "sort", detail: "Sorting by " + sortParam + " is not supported by the emulator."}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if desc {
			return f(rows[j], rows[i]) < 0
		}
		return f(rows[i], rows[j]) < 0
	})
	return nil
}

func (c *call) profileDoc(a *account, p *profile) map[string]any {
	return map[string]any{"data": c.profileResource(a, p), "links": map[string]any{"self": c.linkTo("/api/profiles/" + p.id)}}
}

func (c *call) profileResource(a *account, p *profile) map[string]any {
	attrs := map[string]any{}
	for _, k := range profileScalars {
		if v, ok := p.attrs[k]; ok {
			attrs[k] = v
		} else {
			attrs[k] = nil
		}
	}
	loc := map[string]any{}
	for _, k := range locationKeys {
		loc[k] = p.location[k]
	}
	attrs["location"] = loc
	attrs["properties"] = p.properties
	attrs["created"] = formatTime(p.created)
	attrs["updated"] = formatTime(p.updated)
	attrs["last_event_date"] = timeOrNil(p.lastEvent)
	self := c.linkTo("/api/profiles/" + p.id)
	return map[string]any{
		"type": "profile", "id": p.id, "attributes": attrs,
		"relationships": map[string]any{
			"lists": map[string]any{"links": map[string]any{
				"self": c.linkTo("/api/profiles/" + p.id + "/relationships/lists"), "related": c.linkTo("/api/profiles/" + p.id + "/lists"),
			}},
		},
		"links": map[string]any{"self": self},
	}
}

// collection wraps a page of resources with self/next links.
func (c *call) collection(data []any, next string) map[string]any {
	links := map[string]any{"self": c.selfLink()}
	if next != "" {
		links["next"] = c.pageLink(next)
	}
	return map[string]any{"data": data, "links": links}
}
