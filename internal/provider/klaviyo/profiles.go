package klaviyo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// wire types of JSON:API documents.
type (
	links struct {
		Self string `json:"self"`
		Next string `json:"next"`
	}
	profileResource struct {
		Type       string          `json:"type"`
		ID         string          `json:"id"`
		Attributes json.RawMessage `json:"attributes"`
	}
	profileTimes struct {
		Created       flexTime `json:"created"`
		Updated       flexTime `json:"updated"`
		LastEventDate flexTime `json:"last_event_date"`
	}
	profileDoc struct {
		Data profileResource `json:"data"`
	}
	profileListDoc struct {
		Data  []profileResource `json:"data"`
		Links links             `json:"links"`
	}
	profileWrite struct {
		Data profileWriteData `json:"data"`
	}
	profileWriteData struct {
		Type       string            `json:"type"`
		ID         string            `json:"id,omitempty"`
		Attributes ProfileAttributes `json:"attributes"`
	}
)

func (r profileResource) profile() (Profile, error) {
	p := Profile{ID: r.ID}
	if len(r.Attributes) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(r.Attributes, &p.Attributes); err != nil {
		return p, err
	}
	var t profileTimes
	if err := json.Unmarshal(r.Attributes, &t); err != nil {
		return p, err
	}
	p.Created, p.Updated, p.LastEventDate = t.Created.time(), t.Updated.time(), t.LastEventDate.time()
	return p, nil
}

func (c *Client) profileCall(ctx context.Context, method, path, label string, body any) (Profile, int, error) {
	resp, err := c.call(ctx, method, path, label, nil, body)
	if err != nil {
		return Profile{}, 0, err
	}
	var doc profileDoc
	if err := decode(label, resp, &doc); err != nil {
		return Profile{}, 0, err
	}
	p, err := doc.Data.profile()
	if err == nil && p.ID == "" {
		err = errors.New("profile without id")
	}
	if err != nil {
		return Profile{}, 0, badResponse(label, resp.Status, err)
	}
	return p, resp.Status, nil
}

// UpsertProfile creates or updates a profile (POST /api/profile-import),
// matching on its identifiers: nil attributes are kept, names in Clear are
// cleared. created reports a new profile (201). A 409 (identifiers on two
// profiles) is a *DuplicateProfileError.
func (c *Client) UpsertProfile(ctx context.Context, attrs ProfileAttributes) (p Profile, created bool, err error) {
	const label = "POST /api/profile-import"
	if !hasIdentifier(attrs) {
		return Profile{}, false, invalidf(label, "a profile needs an email, phone number or external id")
	}
	p, status, err := c.profileCall(ctx, http.MethodPost, "/api/profile-import", label, profileWrite{Data: profileWriteData{Type: "profile", Attributes: attrs}})
	if err != nil {
		return Profile{}, false, err
	}
	return p, status == http.StatusCreated, nil
}

// CreateProfile creates a profile (POST /api/profiles). When an identifier
// is already taken it returns a *DuplicateProfileError with that profile's
// id (update it with UpdateProfile).
func (c *Client) CreateProfile(ctx context.Context, attrs ProfileAttributes) (Profile, error) {
	const label = "POST /api/profiles"
	if !hasIdentifier(attrs) {
		return Profile{}, invalidf(label, "a profile needs an email, phone number or external id")
	}
	p, _, err := c.profileCall(ctx, http.MethodPost, "/api/profiles", label, profileWrite{Data: profileWriteData{Type: "profile", Attributes: attrs}})
	return p, err
}

// UpdateProfile patches a profile (PATCH /api/profiles/{id}).
func (c *Client) UpdateProfile(ctx context.Context, id string, attrs ProfileAttributes) (Profile, error) {
	const label = "PATCH /api/profiles/{id}"
	if id == "" {
		return Profile{}, invalidf(label, "profile id is required")
	}
	p, _, err := c.profileCall(ctx, http.MethodPatch, "/api/profiles/"+url.PathEscape(id), label,
		profileWrite{Data: profileWriteData{Type: "profile", ID: id, Attributes: attrs}})
	return p, err
}

// GetProfileByEmail finds the profile with the email
// (GET /api/profiles?filter=equals(email,"…")). No match is an error with
// domain code ENOTFOUND.
func (c *Client) GetProfileByEmail(ctx context.Context, email string) (Profile, error) {
	const label = "GET /api/profiles"
	email = strings.TrimSpace(email)
	if email == "" {
		return Profile{}, invalidf(label, "email is required")
	}
	q := url.Values{"filter": {"equals(email," + filterString(email) + ")"}, "page[size]": {"1"}}
	resp, err := c.call(ctx, http.MethodGet, "/api/profiles", label, q, nil)
	if err != nil {
		return Profile{}, err
	}
	var doc profileListDoc
	if err := decode(label, resp, &doc); err != nil {
		return Profile{}, err
	}
	if len(doc.Data) == 0 {
		return Profile{}, notFoundf(label, "no Klaviyo profile with email %s", email)
	}
	p, err := doc.Data[0].profile()
	if err != nil {
		return Profile{}, badResponse(label, resp.Status, err)
	}
	return p, nil
}

func hasIdentifier(a ProfileAttributes) bool {
	for _, v := range []*string{a.Email, a.PhoneNumber, a.ExternalID} {
		if v != nil && strings.TrimSpace(*v) != "" {
			return true
		}
	}
	return false
}
