package klaviyo

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
)

// FuzzDecodeResponses: whatever Klaviyo answers, the client's JSON:API
// readings never panic: the error body of a failed call (wrapError, any
// status, a body cut anywhere), every success document the client decodes,
// a links.next or a bulk job's Location, and the quota headers.
func FuzzDecodeResponses(f *testing.F) {
	for _, s := range []string{
		`{"errors":[{"id":"e1","status":400,"code":"invalid","title":"Invalid input.","detail":"The event time must be after 1990.","source":{"pointer":"/data/attributes/time"},"meta":{}}]}`,
		`{"errors":[{"status":"409","code":"duplicate_profile","detail":"A profile already exists","meta":{"duplicate_profile_id":"01HX"}}]}`,
		`{"errors":[{"code":"duplicate_profile","meta":{"duplicate_profile_id":7}}]}`,
		`{"errors":[{"code":"not_authenticated"}]}`, `{"errors":null}`, `{"errors":[{"code":"dup`,
		`{"data":{"type":"profile","id":"01HX","attributes":{"email":"a@example.com","first_name":"A","location":{"city":"X","latitude":"1.5"},"properties":{"k":[1]},"created":"2026-01-01T00:00:00+00:00","updated":"bad"}}}`,
		`{"data":[{"type":"profile","id":"1","attributes":null}],"links":{"next":"https://a.klaviyo.com/api/profiles/?page%5Bcursor%5D=x"}}`,
		`{"data":{"id":"job","attributes":{"status":"complete","total_count":"3","completed_count":2.0,"failed_count":null,"errors":[{"code":"c","detail":"d","source":{"pointer":"/p"}}]},"relationships":{"lists":{"data":[{"type":"list","id":"L"}]}}}}`,
		`{"data":{"id":"L","attributes":{"name":"Whiplash","profile_count":"12","created":1700000000}}}`,
		`[]`, `null`, ``, `{`,
	} {
		f.Add(400, []byte(s), "https://a.klaviyo.com/api/event-bulk-create-jobs/abc/", "75, 75;w=1", "3")
	}
	f.Add(409, []byte(`{}`), "/api/event-bulk-create-jobs/a/b", "", "")
	f.Add(404, []byte(`not json "code": "x"`), "::", "NaN", "-1")
	f.Fuzz(func(t *testing.T, status int, body []byte, loc, limit, remaining string) {
		oe := &outbound.Error{Vendor: domain.VendorKlaviyo, Endpoint: "POST /api/events", Status: status, Class: domain.ClassTerminal, Body: string(body)}
		err := wrapError(oe)
		if err == nil {
			t.Fatal("wrapError lost the error")
		}
		_ = err.Error()
		var ae *APIError
		if status != 0 && !errors.As(err, &ae) {
			t.Fatalf("status %d: no *APIError in %v", status, err)
		}
		if ae != nil {
			_ = ae.Code()
		}
		var dpe *DuplicateProfileError
		if errors.As(err, &dpe) {
			_ = dpe.Error()
		}
		resp := &outbound.Response{Status: 200, Body: body}
		var pd profileDoc
		if decode("p", resp, &pd) == nil {
			_, _ = pd.Data.profile()
		}
		var pl profileListDoc
		if decode("pl", resp, &pl) == nil {
			for _, r := range pl.Data {
				_, _ = r.profile()
			}
			_, _, _, _ = nextPage("pl", pl.Links.Next, "/api/profiles/")
		}
		var jd jobDoc
		if decode("j", resp, &jd) == nil {
			_ = jd.job()
		}
		var ej eventJobDoc
		_ = decode("ej", resp, &ej)
		var ld listDoc
		if decode("l", resp, &ld) == nil {
			_ = ld.Data.list()
		}
		var ll listListDoc
		_ = decode("ll", resp, &ll)
		var ie importErrorsDoc
		_ = decode("ie", resp, &ie)
		var attrs ProfileAttributes
		if json.Unmarshal(body, &attrs) == nil {
			if _, err := json.Marshal(attrs); err != nil {
				t.Fatalf("decoded attributes do not re-encode: %v", err)
			}
		}
		_ = jobIDFrom(loc)
		_, _, _, _ = nextPage("n", loc, "/api/profiles/")
		h := http.Header{}
		h.Set("RateLimit-Limit", limit)
		h.Set("RateLimit-Remaining", remaining)
		h.Set("RateLimit-Reset", remaining)
		if q, ok := ParseQuota(h); ok && (q.Limit <= 0 || q.Remaining < 0) {
			t.Fatalf("quota %+v from %q/%q", q, limit, remaining)
		}
	})
}
