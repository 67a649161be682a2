package klaviyo

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

type (
	listAttrs struct {
		Name         string   `json:"name"`
		OptInProcess string   `json:"opt_in_process"`
		Created      flexTime `json:"created"`
		Updated      flexTime `json:"updated"`
		ProfileCount *flexInt `json:"profile_count"`
	}
	listResource struct {
		ID         string    `json:"id"`
		Attributes listAttrs `json:"attributes"`
	}
	listDoc struct {
		Data listResource `json:"data"`
	}
	listListDoc struct {
		Data  []listResource `json:"data"`
		Links links          `json:"links"`
	}
	listCreate struct {
		Data struct {
			Type       string `json:"type"`
			Attributes struct {
				Name         string `json:"name"`
				OptInProcess string `json:"opt_in_process,omitempty"`
			} `json:"attributes"`
		} `json:"data"`
	}
	idRef struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	membersDoc struct {
		Data []idRef `json:"data"`
	}
)

func (r listResource) list() List {
	l := List{ID: r.ID, Name: r.Attributes.Name, OptInProcess: r.Attributes.OptInProcess,
		Created: r.Attributes.Created.time(), Updated: r.Attributes.Updated.time()}
	if r.Attributes.ProfileCount != nil {
		n := int(*r.Attributes.ProfileCount)
		l.ProfileCount = &n
	}
	return l
}

// CreateList creates a list (POST /api/lists). optIn is "single_opt_in",
// "double_opt_in" or "" for the account default. Klaviyo allows 150 list
// creations a day: create once and store the id.
func (c *Client) CreateList(ctx context.Context, name, optIn string) (List, error) {
	const label = "POST /api/lists"
	if strings.TrimSpace(name) == "" {
		return List{}, invalidf(label, "list name is required")
	}
	var body listCreate
	body.Data.Type = "list"
	body.Data.Attributes.Name, body.Data.Attributes.OptInProcess = name, optIn
	resp, err := c.call(ctx, http.MethodPost, "/api/lists", label, nil, body)
	if err != nil {
		return List{}, err
	}
	var doc listDoc
	if err := decode(label, resp, &doc); err != nil {
		return List{}, err
	}
	if doc.Data.ID == "" {
		return List{}, badResponse(label, resp.Status, errNoID)
	}
	return doc.Data.list(), nil
}

// GetList reads a list with its profile count (GET /api/lists/{id}). An
// unknown id is an error with domain code ENOTFOUND.
func (c *Client) GetList(ctx context.Context, id string) (List, error) {
	const label = "GET /api/lists/{id}"
	if id == "" {
		return List{}, invalidf(label, "list id is required")
	}
	resp, err := c.call(ctx, http.MethodGet, "/api/lists/"+url.PathEscape(id), label, url.Values{"additional-fields[list]": {"profile_count"}}, nil)
	if err != nil {
		return List{}, err
	}
	var doc listDoc
	if err := decode(label, resp, &doc); err != nil {
		return List{}, err
	}
	return doc.Data.list(), nil
}

// Lists returns every list matching filter (a Klaviyo filter expression, ""
// for all), following links.next to the last page.
func (c *Client) Lists(ctx context.Context, filter string) ([]List, error) {
	const label = "GET /api/lists"
	path, q := "/api/lists", url.Values{}
	if filter != "" {
		q.Set("filter", filter)
	}
	var out []List
	for range maxPages {
		resp, err := c.call(ctx, http.MethodGet, path, label, q, nil)
		if err != nil {
			return nil, err
		}
		var doc listListDoc
		if err := decode(label, resp, &doc); err != nil {
			return nil, err
		}
		for _, r := range doc.Data {
			out = append(out, r.list())
		}
		var more bool
		if path, q, more, err = nextPage(label, doc.Links.Next, "/api/lists"); err != nil || !more {
			return out, err
		}
	}
	return nil, invalidf(label, "more than %d pages of lists", maxPages)
}

// FindListByName returns the oldest list with exactly this name, reading
// every page of GET /api/lists?filter=equals(name,["…"]). No match is an
// error with domain code ENOTFOUND.
func (c *Client) FindListByName(ctx context.Context, name string) (List, error) {
	const label = "GET /api/lists"
	if name == "" {
		return List{}, invalidf(label, "list name is required")
	}
	lists, err := c.Lists(ctx, "equals(name,["+filterString(name)+"])")
	if err != nil {
		return List{}, err
	}
	var best *List
	for i := range lists {
		l := &lists[i]
		if l.Name != name {
			continue
		}
		if best == nil || l.Created.Before(best.Created) {
			best = l
		}
	}
	if best == nil {
		return List{}, notFoundf(label, "no Klaviyo list named %q", name)
	}
	return *best, nil
}

// AddProfilesToList adds profiles by id (POST
// /api/lists/{id}/relationships/profiles), 1,000 ids per request. Adding is
// idempotent, so a failed batch can be retried whole.
func (c *Client) AddProfilesToList(ctx context.Context, listID string, profileIDs []string) error {
	const label = "POST /api/lists/{id}/relationships/profiles"
	if listID == "" {
		return invalidf(label, "list id is required")
	}
	refs := make([]idRef, 0, len(profileIDs))
	seen := map[string]bool{}
	for _, id := range profileIDs {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		refs = append(refs, idRef{Type: "profile", ID: id})
	}
	path := "/api/lists/" + url.PathEscape(listID) + "/relationships/profiles"
	for start := 0; start < len(refs); start += MaxListMembersPerCall {
		end := min(start+MaxListMembersPerCall, len(refs))
		if _, err := c.call(ctx, http.MethodPost, path, label, nil, membersDoc{Data: refs[start:end]}); err != nil {
			return err
		}
	}
	return nil
}
