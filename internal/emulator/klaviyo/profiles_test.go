package klaviyo

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRevisionHeaderRequired(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	tests := []struct {
		name, revision string
		want           int
	}{
		{"missing", "", http.StatusBadRequest},
		{"malformed", "July 2026", http.StatusBadRequest},
		{"not a date", "2026-13-45", http.StatusBadRequest},
		{"newer than contract", "2027-01-15", http.StatusBadRequest},
		{"current", "2026-07-15", http.StatusOK},
		{"older with suffix", "2024-10-15.pre", http.StatusOK},
	}
	for _, tt := range tests {
		r := h.request("GET", "/api/lists", nil, map[string]string{"revision": tt.revision})
		if r.status != tt.want {
			t.Errorf("%s: status = %d, want %d (%s)", tt.name, r.status, tt.want, r.body)
		}
		if tt.want == http.StatusBadRequest {
			src, _ := r.errObj()["source"].(map[string]any)
			if r.errCode() != "invalid" || src["parameter"] != "revision" {
				t.Errorf("%s: error = %s, want code invalid on parameter revision", tt.name, r.body)
			}
		}
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	tests := []struct {
		name, auth string
		want       int
	}{
		{"missing", "", http.StatusUnauthorized},
		{"wrong key", "Klaviyo-API-Key pk_wrong", http.StatusUnauthorized},
		{"unknown bearer", "Bearer nope", http.StatusUnauthorized},
		{"other scheme", "Basic cGtfZGVtbzo=", http.StatusUnauthorized},
		{"default key", "Klaviyo-API-Key pk_demo", http.StatusOK},
		{"scheme case-insensitive", "klaviyo-api-key pk_demo", http.StatusOK},
	}
	for _, tt := range tests {
		r := h.request("GET", "/api/profiles", nil, map[string]string{"Authorization": tt.auth})
		if r.status != tt.want {
			t.Errorf("%s: status = %d, want %d", tt.name, r.status, tt.want)
		}
		if tt.want == http.StatusUnauthorized {
			if r.errCode() != "not_authenticated" {
				t.Errorf("%s: code = %q, want not_authenticated", tt.name, r.errCode())
			}
			if r.header.Get("RateLimit-Limit") != "" {
				t.Errorf("%s: 401 carries RateLimit headers", tt.name)
			}
		}
	}
}

func TestAccountsAreIsolated(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	id, key, err := h.e.AddAccount("Other1", "", "")
	if err != nil || key != "pk_other1" {
		t.Fatalf("AddAccount = %q, %q, %v", id, key, err)
	}
	h.request("POST", "/api/profile-import", profileBody(map[string]any{"email": "x@example.com"}), map[string]string{"Authorization": "Klaviyo-API-Key " + key}).want(t, 201)
	// The same email in the default account is a new profile there.
	h.do("POST", "/api/profile-import", profileBody(map[string]any{"email": "x@example.com"})).want(t, 201)
	other, _ := h.e.Account("Other1")
	if len(other.Profiles) != 1 || len(h.account().Profiles) != 1 {
		t.Errorf("profiles: other=%d default=%d, want 1 each", len(other.Profiles), len(h.account().Profiles))
	}
	if _, _, err := h.e.AddAccount("Other1", "", "pk_x"); err == nil {
		t.Error("AddAccount with a duplicate id succeeded")
	}
}

func TestProfileImportNullClearsAbsentKeeps(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	r := h.do("POST", "/api/profile-import", profileBody(map[string]any{
		"email": "sam@example.com", "first_name": "Sam", "last_name": "Lee", "organization": "Acme",
		"location":   map[string]any{"address1": "1 Main St", "address2": "Apt 4", "city": "Ann Arbor"},
		"properties": map[string]any{"tier": "gold", "orders": 3},
	})).want(t, http.StatusCreated)
	id, _ := r.data()["id"].(string)
	if len(id) != 26 {
		t.Fatalf("profile id %q is not ULID-shaped", id)
	}
	if r.attr("email") != "sam@example.com" || r.attr("first_name") != "Sam" {
		t.Errorf("created attributes = %v", r.data()["attributes"])
	}

	h.clock.Advance(5)
	r = h.do("POST", "/api/profile-import", profileBody(map[string]any{
		"email": "SAM@example.com", "last_name": "Lee-Park", "organization": nil,
		"location":   map[string]any{"address2": nil, "zip": "48104"},
		"properties": map[string]any{"orders": 4},
	})).want(t, http.StatusOK)
	if r.data()["id"] != id {
		t.Fatalf("update matched %v, want %s (email match is case-insensitive)", r.data()["id"], id)
	}
	p := h.account().Profiles[0]
	want := map[string]string{"email": "SAM@example.com", "first_name": "Sam", "last_name": "Lee-Park"}
	if diff := cmp.Diff(want, p.Attributes); diff != "" {
		t.Errorf("attributes after update (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"address1": "1 Main St", "city": "Ann Arbor", "zip": "48104"}, p.Location); diff != "" {
		t.Errorf("location (-want +got):\n%s", diff)
	}
	if fmt.Sprint(p.Properties) != "map[orders:4 tier:gold]" {
		t.Errorf("properties = %v, want orders 4 and tier kept", p.Properties)
	}
}

func TestProfileImportConflictsAndErrors(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	h.do("POST", "/api/profile-import", profileBody(map[string]any{"email": "a@example.com"})).want(t, 201)
	b := h.do("POST", "/api/profile-import", profileBody(map[string]any{"phone_number": "+15005550006"})).want(t, 201).data()["id"]

	r := h.do("POST", "/api/profile-import", profileBody(map[string]any{"email": "a@example.com", "phone_number": "+15005550006"})).want(t, http.StatusConflict)
	meta, _ := r.errObj()["meta"].(map[string]any)
	if r.errCode() != "duplicate_profile" || meta["duplicate_profile_id"] != b {
		t.Errorf("409 = %s, want duplicate_profile pointing at %v", r.body, b)
	}
	if st := r.errObj()["status"]; fmt.Sprint(st) != "409" {
		t.Errorf("errors[0].status = %v, want integer 409", st)
	}

	tests := []struct {
		name string
		body any
		want int
		code string
	}{
		{"no identifier", profileBody(map[string]any{"first_name": "X"}), 400, "invalid"},
		{"bad email", profileBody(map[string]any{"email": "not-an-email"}), 400, "invalid"},
		{"bad phone", profileBody(map[string]any{"phone_number": "221.106.2186"}), 400, "invalid"},
		{"wrong type", map[string]any{"data": map[string]any{"type": "event", "attributes": map[string]any{}}}, 400, "invalid"},
		{"unknown id", map[string]any{"data": map[string]any{"type": "profile", "id": "01NOPE", "attributes": map[string]any{}}}, 404, "not_found"},
		{"id plus another's email", map[string]any{"data": map[string]any{"type": "profile", "id": b, "attributes": map[string]any{"email": "a@example.com"}}}, 409, "duplicate_profile"},
		{"not json", "{", 400, "parse_error"},
		{"too large", profileBody(map[string]any{"email": "big@example.com", "properties": map[string]any{"x": strings.Repeat("x", MaxProfilePayloadBytes)}}), 413, "request_too_large"},
	}
	for _, tt := range tests {
		r := h.do("POST", "/api/profile-import", tt.body)
		if r.status != tt.want || r.errCode() != tt.code {
			t.Errorf("%s: %d %s, want %d %s (%s)", tt.name, r.status, r.errCode(), tt.want, tt.code, r.body)
		}
	}
	r = h.request("POST", "/api/profile-import", `{"data":{"type":"profile","attributes":{"email":"c@example.com"}}}`, map[string]string{"Content-Type": "text/plain"})
	if r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: status %d, want 415", r.status)
	}
	r = h.request("POST", "/api/profile-import/", `{"data":{"type":"profile","attributes":{"email":"c@example.com"}}}`, map[string]string{"Content-Type": "application/json"})
	if r.status != http.StatusCreated {
		t.Errorf("application/json body with trailing slash: status %d, want 201", r.status)
	}
}

func TestCreateAndPatchProfile(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	id := h.do("POST", "/api/profiles", profileBody(map[string]any{"email": "a@example.com", "first_name": "A"})).want(t, 201).data()["id"].(string)
	other := h.do("POST", "/api/profiles", profileBody(map[string]any{"email": "b@example.com"})).want(t, 201).data()["id"].(string)

	r := h.do("POST", "/api/profiles", profileBody(map[string]any{"email": "a@example.com"})).want(t, http.StatusConflict)
	if meta, _ := r.errObj()["meta"].(map[string]any); meta["duplicate_profile_id"] != id {
		t.Errorf("duplicate_profile_id = %v, want %s", meta["duplicate_profile_id"], id)
	}

	patch := func(pathID, bodyID string, attrs map[string]any) *resp {
		return h.do("PATCH", "/api/profiles/"+pathID, map[string]any{"data": map[string]any{"type": "profile", "id": bodyID, "attributes": attrs}})
	}
	if r := patch(id, other, map[string]any{}); r.status != 400 {
		t.Errorf("mismatched ids: %d, want 400", r.status)
	}
	if r := patch("01UNKNOWN", "01UNKNOWN", map[string]any{}); r.status != 404 {
		t.Errorf("unknown id: %d, want 404", r.status)
	}
	if r := patch(id, id, map[string]any{"email": "b@example.com"}); r.status != 409 || r.errCode() != "duplicate_profile" {
		t.Errorf("email of another profile: %d %s, want 409 duplicate_profile", r.status, r.errCode())
	}
	r = patch(id, id, map[string]any{"first_name": nil, "last_name": "Z"}).want(t, 200)
	if r.attr("first_name") != nil || r.attr("last_name") != "Z" || r.attr("email") != "a@example.com" {
		t.Errorf("patched attributes = %v", r.data()["attributes"])
	}
	if got := h.do("GET", "/api/profiles/"+id, nil).want(t, 200).attr("last_name"); got != "Z" {
		t.Errorf("GET profile last_name = %v", got)
	}
}

func TestGetProfilesFilterAndPaging(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	for i := range 25 {
		h.do("POST", "/api/profile-import", profileBody(map[string]any{"email": fmt.Sprintf("p%02d@example.com", i), "external_id": fmt.Sprint("ext", i)})).want(t, 201)
	}
	q := url.Values{"filter": {`equals(email,"P07@example.com")`}}
	r := h.do("GET", "/api/profiles?"+q.Encode(), nil).want(t, 200)
	if len(r.list()) != 1 || r.list()[0].(map[string]any)["attributes"].(map[string]any)["email"] != "p07@example.com" {
		t.Errorf("filter by email returned %s", r.body)
	}
	if n := len(h.do("GET", "/api/profiles?"+url.Values{"filter": {`any(external_id,["ext1","ext2","nope"])`}}.Encode(), nil).want(t, 200).list()); n != 2 {
		t.Errorf("any(external_id) matched %d, want 2", n)
	}

	var seen []string
	path := "/api/profiles?page[size]=10&sort=-email"
	pages := 0
	for path != "" {
		r := h.do("GET", path, nil).want(t, 200)
		pages++
		for _, d := range r.list() {
			seen = append(seen, d.(map[string]any)["attributes"].(map[string]any)["email"].(string))
		}
		path = nextPath(t, r)
	}
	if pages != 3 || len(seen) != 25 || seen[0] != "p24@example.com" || seen[24] != "p00@example.com" {
		t.Errorf("paging: %d pages, %d rows, first %q last %q", pages, len(seen), seen[0], seen[len(seen)-1])
	}

	bad := []struct{ name, query, param string }{
		{"unknown field", `filter=equals(first_name,"x")`, "filter"},
		{"operator not allowed", `filter=greater-than(email,"x")`, "filter"},
		{"syntax", `filter=equals(email`, "filter"},
		{"page size", "page[size]=101", "page[size]"},
		{"cursor", "page[cursor]=zzz", "page[cursor]"},
		{"sort", "sort=bogus", "sort"},
	}
	for _, tt := range bad {
		r := h.do("GET", "/api/profiles?"+tt.query, nil)
		src, _ := r.errObj()["source"].(map[string]any)
		if r.status != 400 || src["parameter"] != tt.param {
			t.Errorf("%s: %d %s, want 400 on %s", tt.name, r.status, r.body, tt.param)
		}
	}
}
