package klaviyo

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestListsCreateGetFilterPage(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	r := h.do("POST", "/api/lists", listBody("Whiplash")).want(t, http.StatusCreated)
	id, _ := r.data()["id"].(string)
	if len(id) != 6 || r.attr("opt_in_process") != DefaultOptInProcess {
		t.Errorf("created list = %s", r.body)
	}
	for i := range 24 {
		h.clock.Advance(200 * time.Millisecond) // stay under the 10/s burst
		h.do("POST", "/api/lists", listBody(fmt.Sprint("List ", i))).want(t, 201)
	}
	if got := h.do("GET", "/api/lists/"+id, nil).want(t, 200).attr("name"); got != "Whiplash" {
		t.Errorf("GET list name = %v", got)
	}
	if r := h.do("GET", "/api/lists/nope", nil); r.status != 404 || r.errCode() != "not_found" {
		t.Errorf("unknown list: %d %s", r.status, r.errCode())
	}
	r = h.do("GET", "/api/lists?"+url.Values{"filter": {`equals(name,["Whiplash"])`}}.Encode(), nil).want(t, 200)
	if len(r.list()) != 1 || r.list()[0].(map[string]any)["id"] != id {
		t.Errorf("filter by name = %s", r.body)
	}
	// The contract only lists "list" operators for name.
	if r := h.do("GET", "/api/lists?"+url.Values{"filter": {`equals(name,"Whiplash")`}}.Encode(), nil); r.status != 400 {
		t.Errorf("single-value name filter: %d, want 400", r.status)
	}
	pages, rows := 0, 0
	for path := "/api/lists"; path != ""; {
		r := h.do("GET", path, nil).want(t, 200)
		pages++
		rows += len(r.list())
		path = nextPath(t, r)
	}
	if pages != 3 || rows != 25 {
		t.Errorf("paging: %d pages, %d rows; want 3 and 25", pages, rows)
	}
	if r := h.do("GET", "/api/lists?page[size]=11", nil); r.status != 400 {
		t.Errorf("page[size]=11: %d, want 400", r.status)
	}
	if r := h.do("POST", "/api/lists", listBody("")); r.status != 400 {
		t.Errorf("empty name: %d, want 400", r.status)
	}
}

func TestListMembership(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	lid := h.do("POST", "/api/lists", listBody("Whiplash")).want(t, 201).data()["id"].(string)
	var ids []any
	for i := range 3 {
		id := h.do("POST", "/api/profile-import", profileBody(map[string]any{"email": fmt.Sprintf("m%d@example.com", i)})).want(t, 201).data()["id"]
		ids = append(ids, map[string]any{"type": "profile", "id": id})
	}
	path := "/api/lists/" + lid + "/relationships/profiles"
	r := h.do("POST", path, map[string]any{"data": ids}).want(t, http.StatusNoContent)
	if len(r.body) != 0 {
		t.Errorf("204 has a body")
	}
	h.do("POST", path, map[string]any{"data": ids[:1]}).want(t, http.StatusNoContent) // idempotent
	a := h.account()
	if len(a.Lists[0].ProfileIDs) != 3 || len(a.Profiles[0].Lists) != 1 || a.Profiles[0].Lists[0] != lid {
		t.Errorf("membership: list %v, profile lists %v", a.Lists[0].ProfileIDs, a.Profiles[0].Lists)
	}
	if got := h.do("GET", "/api/lists/"+lid+"?additional-fields[list]=profile_count", nil).want(t, 200).attr("profile_count"); fmt.Sprint(got) != "3" {
		t.Errorf("profile_count = %v", got)
	}
	h.do("DELETE", path, map[string]any{"data": ids[:2]}).want(t, http.StatusNoContent)
	if n := len(h.account().Lists[0].ProfileIDs); n != 1 {
		t.Errorf("after removing 2: %d members", n)
	}

	tooMany := make([]any, MaxListMembersPerCall+1)
	for i := range tooMany {
		tooMany[i] = ids[0]
	}
	tests := []struct {
		name, path string
		body       any
		want       int
	}{
		{"1,001 ids", path, map[string]any{"data": tooMany}, 400},
		{"unknown profile", path, map[string]any{"data": []any{map[string]any{"type": "profile", "id": "01NOPE"}}}, 400},
		{"email instead of id", path, map[string]any{"data": []any{map[string]any{"type": "profile", "email": "m0@example.com"}}}, 400},
		{"unknown list", "/api/lists/zzzzzz/relationships/profiles", map[string]any{"data": ids}, 404},
		{"exactly 1,000", path, map[string]any{"data": tooMany[1:]}, 204},
	}
	for _, tt := range tests {
		if r := h.do("POST", tt.path, tt.body); r.status != tt.want {
			t.Errorf("%s: %d, want %d (%s)", tt.name, r.status, tt.want, r.body)
		}
	}
}

func importBody(emails []string, lists ...string) map[string]any {
	rows := make([]any, 0, len(emails))
	for _, e := range emails {
		rows = append(rows, map[string]any{"type": "profile", "attributes": map[string]any{"email": e, "first_name": "Bulk"}})
	}
	data := map[string]any{"type": "profile-bulk-import-job", "attributes": map[string]any{"profiles": map[string]any{"data": rows}}}
	if len(lists) > 0 {
		var refs []any
		for _, l := range lists {
			refs = append(refs, map[string]any{"type": "list", "id": l})
		}
		data["relationships"] = map[string]any{"lists": map[string]any{"data": refs}}
	}
	return map[string]any{"data": data}
}

func TestBulkImportJobLifecycle(t *testing.T) {
	t.Parallel()
	h := setup(t, nil)
	lid := h.do("POST", "/api/lists", listBody("Whiplash")).want(t, 201).data()["id"].(string)
	r := h.do("POST", "/api/profile-bulk-import-jobs", importBody([]string{"a@example.com", "bad-email", "b@example.com"}, lid)).want(t, http.StatusAccepted)
	jid, _ := r.data()["id"].(string)
	if r.attr("status") != JobQueued || fmt.Sprint(r.attr("total_count")) != "3" {
		t.Fatalf("new job = %s", r.body)
	}
	status := func() *resp { return h.do("GET", "/api/profile-bulk-import-jobs/"+jid, nil).want(t, 200) }
	if s := status().attr("status"); s != JobQueued {
		t.Errorf("before a step: %v", s)
	}
	h.clock.Advance(DefaultBulkJobStep)
	if s := status().attr("status"); s != JobProcessing {
		t.Errorf("after one step: %v", s)
	}
	if n := len(h.account().Profiles); n != 0 {
		t.Errorf("%d profiles while processing, want 0", n)
	}
	h.clock.Advance(DefaultBulkJobStep)
	r = status()
	if r.attr("status") != JobComplete || fmt.Sprint(r.attr("completed_count")) != "2" || fmt.Sprint(r.attr("failed_count")) != "1" || r.attr("completed_at") == nil {
		t.Errorf("after two steps: %s", r.body)
	}
	a := h.account()
	if len(a.Profiles) != 2 || len(a.Lists[0].ProfileIDs) != 2 {
		t.Errorf("profiles %d, list members %d; want 2 and 2", len(a.Profiles), len(a.Lists[0].ProfileIDs))
	}
	errs := h.do("GET", "/api/profile-bulk-import-jobs/"+jid+"/import-errors", nil).want(t, 200).list()
	if len(errs) != 1 {
		t.Fatalf("import errors = %v", errs)
	}
	ea := errs[0].(map[string]any)["attributes"].(map[string]any)
	if ea["code"] != "invalid" || ea["original_payload"].(map[string]any)["attributes"].(map[string]any)["email"] != "bad-email" {
		t.Errorf("import error = %v", ea)
	}
	if r := h.do("GET", "/api/profile-bulk-import-jobs/nope", nil); r.status != 404 {
		t.Errorf("unknown job: %d", r.status)
	}
}

func TestBulkImportManualAndLimits(t *testing.T) {
	t.Parallel()
	h := setup(t, func(c *Config) { c.BulkJobManual = true })
	jid := h.do("POST", "/api/profile-bulk-import-jobs", importBody([]string{"a@example.com"})).want(t, 202).data()["id"].(string)
	h.clock.Advance(time.Hour)
	if s := h.account().ProfileImportJobs[0].Status; s != JobQueued {
		t.Errorf("manual job after an hour: %s", s)
	}
	if n := h.e.AdvanceJobs(jid, false); n != 1 || h.account().ProfileImportJobs[0].Status != JobProcessing {
		t.Errorf("AdvanceJobs moved %d, status %s", n, h.account().ProfileImportJobs[0].Status)
	}
	h.e.AdvanceJobs("", true)
	if j := h.account().ProfileImportJobs[0]; j.Status != JobComplete || j.CompletedCount != 1 {
		t.Errorf("after advancing: %+v", j)
	}

	emails := make([]string, MaxBulkProfiles+1)
	for i := range emails {
		emails[i] = fmt.Sprintf("u%d@example.com", i)
	}
	if r := h.do("POST", "/api/profile-bulk-import-jobs", importBody(emails)); r.status != 400 {
		t.Errorf("10,001 profiles: %d, want 400", r.status)
	}
	if r := h.do("POST", "/api/profile-bulk-import-jobs", importBody(emails[:1], "nolist")); r.status != 400 {
		t.Errorf("unknown list: %d, want 400", r.status)
	}
	if r := h.do("POST", "/api/profile-bulk-import-jobs", importBody(nil)); r.status != 400 {
		t.Errorf("no profiles: %d, want 400", r.status)
	}
}
