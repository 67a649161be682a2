package klaviyo

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"switchyard/internal/emulator/emukit"
)

// Bulk import job states (contract enum).
const (
	JobQueued     = "queued"
	JobProcessing = "processing"
	JobComplete   = "complete"
	JobCancelled  = "cancelled"
)

// importJobTTL is how long a job stays readable (expires_at; UNCONFIRMED).
const importJobTTL = 7 * 24 * time.Hour

type importJob struct {
	id        string
	status    string
	rows      []map[string]any
	lists     []string
	created   time.Time
	started   time.Time
	completed time.Time
	ok        int
	failed    int
	profiles  []string
	errors    []ImportErrorState
}

// createImportJob is POST /api/profile-bulk-import-jobs (202 with the job).
func (e *Emulator) createImportJob(c *call) (int, any, error) {
	_, attrs, _ := dataObject(c.body)
	rowsRaw, _ := nested(attrs, "profiles")["data"].([]any)
	if len(rowsRaw) == 0 {
		return 0, nil, invalid("/data/attributes/profiles/data", "At least one profile is required.")
	}
	if len(rowsRaw) > MaxBulkProfiles {
		return 0, nil, invalid("/data/attributes/profiles/data", "A bulk import job accepts at most %d profiles; got %d.", MaxBulkProfiles, len(rowsRaw))
	}
	rows := make([]map[string]any, 0, len(rowsRaw))
	for i, r := range rowsRaw {
		b, _ := json.Marshal(r)
		if len(b) > MaxProfilePayloadBytes {
			return 0, nil, invalid("/data/attributes/profiles/data/"+strconv.Itoa(i), "A profile may not exceed %d bytes.", MaxProfilePayloadBytes)
		}
		rows = append(rows, asMap(r))
	}
	data, _ := c.body["data"].(map[string]any)
	listRefs, _ := nested(data, "relationships", "lists")["data"].([]any)
	var lists []string
	for i, lr := range listRefs {
		id, _ := asMap(lr)["id"].(string)
		if _, ok := c.acct.lists[id]; !ok {
			return 0, nil, invalid("/data/relationships/lists/data/"+strconv.Itoa(i)+"/id", "A list with id %s does not exist.", id)
		}
		lists = append(lists, id)
	}
	j := &importJob{id: e.ulidLocked(c.now), status: JobQueued, rows: rows, lists: lists, created: c.now}
	c.acct.importJobs[j.id] = j
	c.acct.importOrder = append(c.acct.importOrder, j.id)
	return http.StatusAccepted, c.jobDoc(j), nil
}

// getImportJob is GET /api/profile-bulk-import-jobs/{job_id}.
func (e *Emulator) getImportJob(c *call) (int, any, error) {
	j, ok := c.acct.importJobs[c.r.PathValue("job_id")]
	if !ok {
		return 0, nil, notFound("A bulk import job with id %s does not exist.", c.r.PathValue("job_id"))
	}
	return http.StatusOK, c.jobDoc(j), nil
}

// getImportErrors is GET /api/profile-bulk-import-jobs/{id}/import-errors.
func (e *Emulator) getImportErrors(c *call) (int, any, error) {
	j, ok := c.acct.importJobs[c.r.PathValue("id")]
	if !ok {
		return 0, nil, notFound("A bulk import job with id %s does not exist.", c.r.PathValue("id"))
	}
	page, next, err := paginate(j.errors, c.r.URL.Query(), 20, 100)
	if err != nil {
		return 0, nil, err
	}
	data := make([]any, 0, len(page))
	for _, ie := range page {
		data = append(data, map[string]any{
			"type": "import-error", "id": ie.ID,
			"attributes": map[string]any{
				"code": ie.Code, "title": ie.Title, "detail": ie.Detail,
				"source": map[string]any{"pointer": ie.Pointer}, "original_payload": ie.OriginalPayload,
			},
		})
	}
	return http.StatusOK, c.collection(data, next), nil
}

func (c *call) jobDoc(j *importJob) map[string]any {
	attrs := map[string]any{
		"status": j.status, "created_at": formatTime(j.created), "total_count": len(j.rows),
		"completed_count": j.ok, "failed_count": j.failed,
		"started_at": timeOrNil(j.started), "completed_at": timeOrNil(j.completed),
		"expires_at": formatTime(j.created.Add(importJobTTL)),
	}
	listData := make([]any, 0, len(j.lists))
	for _, id := range j.lists {
		listData = append(listData, map[string]any{"type": "list", "id": id})
	}
	base := "/api/profile-bulk-import-jobs/" + j.id
	res := map[string]any{
		"type": "profile-bulk-import-job", "id": j.id, "attributes": attrs,
		"relationships": map[string]any{
			"lists":         map[string]any{"data": listData, "links": map[string]any{"self": c.linkTo(base + "/relationships/lists"), "related": c.linkTo(base + "/lists")}},
			"import-errors": map[string]any{"links": map[string]any{"related": c.linkTo(base + "/import-errors")}},
		},
		"links": map[string]any{"self": c.linkTo(base)},
	}
	return map[string]any{"data": res, "links": map[string]any{"self": c.linkTo(base)}}
}

// advanceJobsLocked moves time-driven jobs along: queued for one
// BulkJobStep, processing for another, then complete.
func (e *Emulator) advanceJobsLocked(now time.Time) {
	if e.cfg.BulkJobManual {
		return
	}
	for _, id := range e.acctOrder {
		a := e.accounts[id]
		for _, jid := range a.importOrder {
			j := a.importJobs[jid]
			if j.status == JobQueued && !now.Before(j.created.Add(e.cfg.BulkJobStep)) {
				e.startJob(j, j.created.Add(e.cfg.BulkJobStep))
			}
			if j.status == JobProcessing && !now.Before(j.started.Add(e.cfg.BulkJobStep)) {
				e.completeJobLocked(a, j, j.started.Add(e.cfg.BulkJobStep))
			}
		}
	}
}

func (e *Emulator) startJob(j *importJob, at time.Time) {
	j.status, j.started = JobProcessing, at
}

// completeJobLocked applies every row like profile-import; rows that fail
// become import errors.
func (e *Emulator) completeJobLocked(a *account, j *importJob, at time.Time) {
	for i, row := range j.rows {
		attrs := nested(row, "attributes")
		meta := nested(row, "meta")
		id, _ := row["id"].(string)
		ptr := "/data/attributes/profiles/data/" + strconv.Itoa(i) + "/attributes"
		p, _, err := e.upsertLocked(a, id, attrs, meta, ptr, at)
		if err != nil {
			j.failed++
			ie := ImportErrorState{ID: e.ulidLocked(at), Code: "invalid", Title: "Invalid input.", Detail: err.Error(), Pointer: ptr, OriginalPayload: row}
			var ae *apiErr
			if errors.As(err, &ae) {
				ie.Code, ie.Detail = ae.code, ae.detail
				if ae.pointer != "" {
					ie.Pointer = ae.pointer
				}
				if ae.title != "" {
					ie.Title = ae.title
				} else if t := defaultTitles[ae.status]; t != "" {
					ie.Title = t
				}
			}
			j.errors = append(j.errors, ie)
			continue
		}
		j.ok++
		j.profiles = append(j.profiles, p.id)
		for _, lid := range j.lists {
			if l, ok := a.lists[lid]; ok {
				if _, in := l.members[p.id]; !in {
					l.members[p.id] = at
				}
			}
		}
	}
	j.status, j.completed = JobComplete, at
}

// AdvanceJobs moves bulk import jobs one state forward (queued → processing
// → complete), or straight to complete when toComplete is set. An empty
// jobID means every job of every account. It returns how many jobs moved.
func (e *Emulator) AdvanceJobs(jobID string, toComplete bool) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Now()
	n := 0
	for _, id := range e.acctOrder {
		a := e.accounts[id]
		for _, jid := range a.importOrder {
			j := a.importJobs[jid]
			if jobID != "" && jid != jobID {
				continue
			}
			moved := false
			if j.status == JobQueued {
				e.startJob(j, now)
				moved = true
				if !toComplete {
					n++
					continue
				}
			}
			if j.status == JobProcessing {
				e.completeJobLocked(a, j, now)
				moved = true
			}
			if moved {
				n++
			}
		}
	}
	return n
}

// controlAdvanceJobs handles POST /_emulator/jobs/advance
// {"job_id":"…","complete":true}.
func (e *Emulator) controlAdvanceJobs(w http.ResponseWriter, r *http.Request) {
	var req struct {
		JobID    string `json:"job_id"`
		Complete bool   `json:"complete"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		emukit.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON: " + err.Error()})
		return
	}
	emukit.WriteJSON(w, http.StatusOK, map[string]int{"advanced": e.AdvanceJobs(req.JobID, req.Complete)})
}
