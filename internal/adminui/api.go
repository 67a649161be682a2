package adminui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// apiError is an admin API answer other than 2xx, as the API wrote it.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Message }

// recorder is a minimal http.ResponseWriter that keeps the answer of an
// in-process API call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

// call runs one admin API request in process with the session's bearer
// token, so the UI goes through the very authorization, tenancy and
// validation the JSON API applies. body (if not nil) is sent as JSON; a 2xx
// answer is decoded into out (if not nil); anything else is an *apiError.
func (u *UI) call(ctx context.Context, token, method, path string, q url.Values, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("error encoding %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	target := path
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://switchyard.internal"+target, rd)
	if err != nil {
		return fmt.Errorf("error building %s %s: %w", method, path, err)
	}
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}}
	u.cfg.API.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status < 200 || rec.status > 299 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		ae := &apiError{Status: rec.status}
		if json.Unmarshal(rec.body.Bytes(), &e) == nil && e.Error.Message != "" {
			ae.Code, ae.Message = e.Error.Code, e.Error.Message
		} else {
			ae.Message = fmt.Sprintf("%s %s answered %d", method, path, rec.status)
		}
		return ae
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return fmt.Errorf("error decoding %s %s: %w", method, path, err)
		}
	}
	return nil
}
