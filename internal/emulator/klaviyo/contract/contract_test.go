package contract

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func mustLoad(t *testing.T) *Spec {
	t.Helper()
	s, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

func TestLoadReadsRateLimitsAndRevision(t *testing.T) {
	t.Parallel()
	s := mustLoad(t)
	if s.Revision != "2026-07-15" {
		t.Errorf("Revision = %q, want 2026-07-15", s.Revision)
	}
	tests := []struct {
		id   string
		want RateLimit
		tier string
	}{
		{"create_or_update_profile", RateLimit{Burst: 75, Steady: 750}, "L"},
		{"create_event", RateLimit{Burst: 350, Steady: 3500}, "XL"},
		{"bulk_create_events", RateLimit{Burst: 10, Steady: 150}, "M"},
		{"create_list", RateLimit{Burst: 10, Steady: 150, Daily: 150}, "M"},
		{"get_lists", RateLimit{Burst: 75, Steady: 750}, "L"},
		{"get_lists_for_profile", RateLimit{Burst: 3, Steady: 60}, "S"},
	}
	for _, tt := range tests {
		op := s.Operation(tt.id)
		if op == nil {
			t.Errorf("operation %s not found", tt.id)
			continue
		}
		if op.Limit != tt.want || op.Limit.Tier() != tt.tier {
			t.Errorf("%s limit = %+v tier %s, want %+v tier %s", tt.id, op.Limit, op.Limit.Tier(), tt.want, tt.tier)
		}
	}
	if n := len(s.Operations()); n < 50 {
		t.Errorf("only %d operations loaded", n)
	}
}

func TestFindPrefersLiteralSegments(t *testing.T) {
	t.Parallel()
	s := mustLoad(t)
	tests := []struct {
		method, path, wantID string
		params               map[string]string
	}{
		{"GET", "/api/profiles/01ABC", "get_profile", map[string]string{"id": "01ABC"}},
		{"POST", "/api/profile-import", "create_or_update_profile", map[string]string{}},
		{"POST", "/api/lists/Y6nRLr/relationships/profiles", "add_profiles_to_list", map[string]string{"id": "Y6nRLr"}},
		{"GET", "/api/profile-bulk-import-jobs/J1/import-errors", "get_errors_for_bulk_import_profiles_job", map[string]string{"id": "J1"}},
		{"GET", "/api/profile-bulk-import-jobs/J1", "get_bulk_import_profiles_job", map[string]string{"job_id": "J1"}},
	}
	for _, tt := range tests {
		op, params := s.Find(tt.method, tt.path)
		if op == nil || op.ID != tt.wantID {
			t.Errorf("Find(%s %s) = %v, want %s", tt.method, tt.path, op, tt.wantID)
			continue
		}
		for k, v := range tt.params {
			if params[k] != v {
				t.Errorf("Find(%s %s) param %s = %q, want %q", tt.method, tt.path, k, params[k], v)
			}
		}
	}
	if op, _ := s.Find("PUT", "/api/profiles/x"); op != nil {
		t.Errorf("Find(PUT /api/profiles/x) = %s, want nil", op.ID)
	}
}

func TestValidateRequest(t *testing.T) {
	t.Parallel()
	s := mustLoad(t)
	hdr := http.Header{"Revision": {"2026-07-15"}, "Content-Type": {"application/vnd.api+json"}}
	noRev := http.Header{"Content-Type": {"application/vnd.api+json"}}
	tests := []struct {
		name    string
		op      string
		query   url.Values
		header  http.Header
		body    string
		wantErr string // substring; "" means valid
	}{
		{"reference upsert example", "create_or_update_profile", nil, hdr,
			`{"data":{"type":"profile","attributes":{"email":"sam@example.com","phone_number":"+15005550006","first_name":"Sam","organization":null,
			"location":{"address1":"1 Main St","address2":null,"city":"Ann Arbor","region":"MI","zip":"48104","country":"US","latitude":42.2},
			"properties":{"whiplash_last_order_id":1030}}}}`, ""},
		{"null location through $ref sibling", "create_or_update_profile", nil, hdr,
			`{"data":{"type":"profile","attributes":{"email":"a@b.c","location":null}}}`, ""},
		{"wrong type enum", "create_or_update_profile", nil, hdr,
			`{"data":{"type":"person","attributes":{}}}`, "/data/type"},
		{"missing attributes", "create_or_update_profile", nil, hdr,
			`{"data":{"type":"profile"}}`, "/data/attributes: required"},
		{"latitude bool breaks oneOf", "create_or_update_profile", nil, hdr,
			`{"data":{"type":"profile","attributes":{"location":{"latitude":true}}}}`, "oneOf"},
		{"missing revision", "create_or_update_profile", nil, noRev,
			`{"data":{"type":"profile","attributes":{}}}`, "revision"},
		{"event example", "create_event", nil, hdr,
			`{"data":{"type":"event","attributes":{"properties":{"OrderId":"1030"},"time":"2026-11-20T15:04:05+00:00","value":49.95,
			"unique_id":"u1","metric":{"data":{"type":"metric","attributes":{"name":"Order shipped"}}},
			"profile":{"data":{"type":"profile","attributes":{"email":"sam@example.com"}}}}}}`, ""},
		{"event bad time", "create_event", nil, hdr,
			`{"data":{"type":"event","attributes":{"properties":{},"time":"yesterday",
			"metric":{"data":{"type":"metric","attributes":{"name":"x"}}},
			"profile":{"data":{"type":"profile","attributes":{"email":"s@e.com"}}}}}}`, "date-time"},
		{"page size too big", "get_profiles", url.Values{"page[size]": {"101"}}, hdr, "", "at most 100"},
		{"page size not int", "get_profiles", url.Values{"page[size]": {"x"}}, hdr, "", "integer"},
		{"fields enum", "get_profiles", url.Values{"fields[profile]": {"email,bogus"}}, hdr, "", "bogus"},
		{"list members", "add_profiles_to_list", nil, hdr, `{"data":[{"type":"profile","id":"01A"}]}`, ""},
		{"missing body", "add_profiles_to_list", nil, hdr, ``, "required"},
		{"wrong media type", "add_profiles_to_list", nil, http.Header{"Revision": {"x"}, "Content-Type": {"text/plain"}}, `{"data":[]}`, "Content-Type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := s.Operation(tt.op)
			err := op.ValidateRequest(nil, tt.query, tt.header, []byte(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateResponse(t *testing.T) {
	t.Parallel()
	s := mustLoad(t)
	js := http.Header{"Content-Type": {"application/vnd.api+json"}}
	tests := []struct {
		name    string
		op      string
		status  int
		header  http.Header
		body    string
		wantErr string
	}{
		{"202 empty", "create_event", 202, http.Header{}, "", ""},
		{"202 with body", "create_event", 202, js, `{"x":1}`, "documents no body"},
		{"undocumented status", "create_event", 200, js, `{}`, "not documented"},
		{"error envelope", "create_event", 409, js, `{"errors":[{"id":"1","status":409,"code":"duplicate_profile","title":"Conflict.","detail":"d","meta":{"duplicate_profile_id":"01"}}]}`, ""},
		{"error envelope missing code", "create_event", 400, js, `{"errors":[{"id":"1","title":"t","detail":"d"}]}`, "/errors/0/code"},
		{"list created", "create_list", 201, js, `{"data":{"type":"list","id":"Y6nRLr","attributes":{"name":"W","opt_in_process":"single_opt_in","created":"2026-01-02T03:04:05+00:00"},"links":{"self":"http://h/api/lists/Y6nRLr/"}}}`, ""},
		{"list relative link", "create_list", 201, js, `{"data":{"type":"list","id":"Y6nRLr","attributes":{"name":"W"},"links":{"self":"/api/lists/Y6nRLr/"}}}`, "absolute URI"},
		{"job status enum", "get_bulk_import_profiles_job", 200, js, `{"data":{"type":"profile-bulk-import-job","id":"j","attributes":{"status":"running","created_at":"2026-01-02T03:04:05+00:00","total_count":1},"links":{"self":"http://h/x"}}}`, "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := s.Operation(tt.op).ValidateResponse(tt.status, tt.header, []byte(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseRejectsBadRate(t *testing.T) {
	t.Parallel()
	doc := `{"openapi":"3.0.2","info":{"version":"2026-07-15"},"paths":{"/api/x":{"get":{"operationId":"x","x-klaviyo-ratelimit":{"burst":"ten/s","steady":"1/m"},"responses":{}}}}}`
	if _, err := Parse(map[string][]byte{"x.json": []byte(doc)}); err == nil || !strings.Contains(err.Error(), "burst") {
		t.Errorf("Parse error = %v, want a burst error", err)
	}
	ok := strings.Replace(doc, "ten/s", "2/s", 1)
	s, err := Parse(map[string][]byte{"x.json": []byte(ok)})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := s.Operation("x").Limit; got != (RateLimit{Burst: 2, Steady: 1}) {
		t.Errorf("limit = %+v", got)
	}
}
