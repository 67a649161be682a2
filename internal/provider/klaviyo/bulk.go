package klaviyo

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
)

var errNoID = errors.New("resource without id")

type (
	jobAttrs struct {
		Status         string   `json:"status"`
		TotalCount     flexInt  `json:"total_count"`
		CompletedCount flexInt  `json:"completed_count"`
		FailedCount    flexInt  `json:"failed_count"`
		CreatedAt      flexTime `json:"created_at"`
		StartedAt      flexTime `json:"started_at"`
		CompletedAt    flexTime `json:"completed_at"`
		ExpiresAt      flexTime `json:"expires_at"`
	}
	jobDoc struct {
		Data struct {
			ID            string   `json:"id"`
			Attributes    jobAttrs `json:"attributes"`
			Relationships struct {
				Lists struct {
					Data []idRef `json:"data"`
				} `json:"lists"`
			} `json:"relationships"`
		} `json:"data"`
	}
	importRow struct {
		Type       string            `json:"type"`
		Attributes ProfileAttributes `json:"attributes"`
	}
	importCreate struct {
		Data struct {
			Type       string `json:"type"`
			Attributes struct {
				Profiles struct {
					Data []importRow `json:"data"`
				} `json:"profiles"`
			} `json:"attributes"`
			Relationships *struct {
				Lists struct {
					Data []idRef `json:"data"`
				} `json:"lists"`
			} `json:"relationships,omitempty"`
		} `json:"data"`
	}
	importErrorsDoc struct {
		Data []struct {
			ID         string `json:"id"`
			Attributes struct {
				Code   string `json:"code"`
				Title  string `json:"title"`
				Detail string `json:"detail"`
				Source struct {
					Pointer string `json:"pointer"`
				} `json:"source"`
				OriginalPayload map[string]any `json:"original_payload"`
			} `json:"attributes"`
		} `json:"data"`
		Links links `json:"links"`
	}
)

func (d jobDoc) job() ImportJob {
	a := d.Data.Attributes
	j := ImportJob{ID: d.Data.ID, Status: a.Status, TotalCount: int(a.TotalCount), CompletedCount: int(a.CompletedCount),
		FailedCount: int(a.FailedCount), CreatedAt: a.CreatedAt.time(), StartedAt: a.StartedAt.time(),
		CompletedAt: a.CompletedAt.time(), ExpiresAt: a.ExpiresAt.time()}
	for _, l := range d.Data.Relationships.Lists.Data {
		j.ListIDs = append(j.ListIDs, l.ID)
	}
	return j
}

// BulkImportProfiles starts one bulk import job (POST
// /api/profile-bulk-import-jobs) for at most 10,000 profiles (5 MB in all,
// 100 KB each), optionally adding every profile to the lists. Poll the job
// with GetBulkImportJob.
func (c *Client) BulkImportProfiles(ctx context.Context, profiles []ProfileAttributes, listIDs ...string) (ImportJob, error) {
	const label = "POST /api/profile-bulk-import-jobs"
	switch {
	case len(profiles) == 0:
		return ImportJob{}, invalidf(label, "no profiles to import")
	case len(profiles) > MaxBulkProfiles:
		return ImportJob{}, invalidf(label, "a bulk import takes at most %d profiles, got %d", MaxBulkProfiles, len(profiles))
	}
	var body importCreate
	body.Data.Type = "profile-bulk-import-job"
	rows := make([]importRow, 0, len(profiles))
	for i, p := range profiles {
		if !hasIdentifier(p) {
			return ImportJob{}, invalidf(label, "profile %d has no email, phone number or external id", i)
		}
		row := importRow{Type: "profile", Attributes: p}
		if b, err := json.Marshal(row); err != nil || len(b) > MaxProfileBytes {
			return ImportJob{}, invalidf(label, "profile %d is larger than %d bytes or unencodable", i, MaxProfileBytes)
		}
		rows = append(rows, row)
	}
	body.Data.Attributes.Profiles.Data = rows
	if len(listIDs) > 0 {
		body.Data.Relationships = &struct {
			Lists struct {
				Data []idRef `json:"data"`
			} `json:"lists"`
		}{}
		for _, id := range listIDs {
			body.Data.Relationships.Lists.Data = append(body.Data.Relationships.Lists.Data, idRef{Type: "list", ID: id})
		}
	}
	if b, err := json.Marshal(body); err != nil || len(b) > MaxPayloadBytes {
		return ImportJob{}, invalidf(label, "the import is larger than %d bytes; send fewer profiles per job", MaxPayloadBytes)
	}
	resp, err := c.call(ctx, http.MethodPost, "/api/profile-bulk-import-jobs", label, nil, body)
	if err != nil {
		return ImportJob{}, err
	}
	var doc jobDoc
	if err := decode(label, resp, &doc); err != nil {
		return ImportJob{}, err
	}
	if doc.Data.ID == "" {
		return ImportJob{}, badResponse(label, resp.Status, errNoID)
	}
	return doc.job(), nil
}

// GetBulkImportJob reads a bulk import job's status and counts.
func (c *Client) GetBulkImportJob(ctx context.Context, id string) (ImportJob, error) {
	doc, err := getJob[jobDoc](ctx, c, "GET /api/profile-bulk-import-jobs/{job_id}", "/api/profile-bulk-import-jobs/", id)
	if err != nil {
		return ImportJob{}, err
	}
	return doc.job(), nil
}

// getJob reads the JSON:API document of the job id under prefix (bulk
// profile imports and bulk event jobs answer the same way).
func getJob[D any](ctx context.Context, c *Client, label, prefix, id string) (D, error) {
	var doc D
	if id == "" {
		return doc, invalidf(label, "job id is required")
	}
	resp, err := c.call(ctx, http.MethodGet, prefix+url.PathEscape(id), label, nil, nil)
	if err != nil {
		return doc, err
	}
	err = decode(label, resp, &doc)
	return doc, err
}

// GetBulkImportErrors returns every failed row of a job, reading all pages.
func (c *Client) GetBulkImportErrors(ctx context.Context, id string) ([]ImportError, error) {
	const label = "GET /api/profile-bulk-import-jobs/{id}/import-errors"
	if id == "" {
		return nil, invalidf(label, "job id is required")
	}
	base := "/api/profile-bulk-import-jobs/" + url.PathEscape(id) + "/import-errors"
	path, q := base, url.Values{"page[size]": {"100"}}
	var out []ImportError
	for range maxPages {
		resp, err := c.call(ctx, http.MethodGet, path, label, q, nil)
		if err != nil {
			return nil, err
		}
		var doc importErrorsDoc
		if err := decode(label, resp, &doc); err != nil {
			return nil, err
		}
		for _, d := range doc.Data {
			a := d.Attributes
			out = append(out, ImportError{ID: d.ID, Code: a.Code, Title: a.Title, Detail: a.Detail, Pointer: a.Source.Pointer, OriginalPayload: a.OriginalPayload})
		}
		var more bool
		if path, q, more, err = nextPage(label, doc.Links.Next, base); err != nil || !more {
			return out, err
		}
	}
	return nil, invalidf(label, "more than %d pages of import errors", maxPages)
}
