package gorgias

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

var widgetContexts = []string{"ticket", "customer", "user"}

type widgetInput struct {
	Context       *string         `json:"context"`
	Type          *string         `json:"type"`
	IntegrationID json.RawMessage `json:"integration_id"`
	AppID         *flexString     `json:"app_id"`
	Order         *int            `json:"order"`
	Template      json.RawMessage `json:"template"`
	Deactivated   json.RawMessage `json:"deactivated_datetime"`
}

// applyWidget validates and copies in onto wd.
func (e *Emulator) applyWidget(wd *widget, in *widgetInput, create bool) map[string][]string {
	errs := map[string][]string{}
	if in.Context != nil {
		wd.Context = *in.Context
	}
	if wd.Context == "" {
		wd.Context = "ticket"
	}
	if !slices.Contains(widgetContexts, wd.Context) {
		errs["context"] = []string{"Must be one of: ticket, customer, user."}
	}
	if in.Type != nil {
		wd.Type = strings.TrimSpace(*in.Type)
	}
	if wd.Type == "" {
		errs["type"] = missingField
	}
	if in.IntegrationID != nil {
		raw := strings.Trim(string(bytes.TrimSpace(in.IntegrationID)), `"`)
		if raw == "null" || raw == "" {
			wd.IntegrationID = nil
		} else if n, err := strconv.ParseInt(raw, 10, 64); err == nil && n > 0 {
			wd.IntegrationID = &n
		} else {
			errs["integration_id"] = []string{"Not a valid integer."}
		}
	}
	if in.AppID != nil {
		s := string(*in.AppID)
		wd.AppID = &s
		if s == "" {
			wd.AppID = nil
		}
	}
	if in.Order != nil {
		wd.Order = *in.Order
	}
	if in.Template != nil {
		t := bytes.TrimSpace(in.Template)
		var node map[string]any
		if err := json.Unmarshal(t, &node); err != nil || node == nil {
			errs["template"] = []string{"Must be an object."}
		} else if _, ok := node["type"].(string); !ok {
			errs["template"] = []string{"The root node needs a type (e.g. wrapper)."}
		} else {
			wd.Template = append(json.RawMessage(nil), t...)
		}
	} else if create {
		errs["template"] = missingField
	}
	if in.Deactivated != nil {
		if string(bytes.TrimSpace(in.Deactivated)) == "null" {
			wd.Deactivated = time.Time{}
		} else if wd.Deactivated.IsZero() {
			wd.Deactivated = e.now()
		}
	}
	return errs
}

func (e *Emulator) listWidgets(w http.ResponseWriter, r *http.Request, _ principal) {
	pq, ok := parsePage(w, r, true)
	if !ok {
		return
	}
	q := r.URL.Query()
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	var ids []int64
	for _, id := range sortedIDs(a.widgets) {
		wd := a.widgets[id]
		if v := q.Get("integration_id"); v != "" && (wd.IntegrationID == nil || itoa(*wd.IntegrationID) != v) {
			continue
		}
		if v := q.Get("app_id"); v != "" && (wd.AppID == nil || *wd.AppID != v) {
			continue
		}
		ids = append(ids, id)
	}
	writeListPage(w, r, pq, ids, func(id int64) widgetOut { return a.widgets[id].out() })
}

func (e *Emulator) createWidget(w http.ResponseWriter, r *http.Request, _ principal) {
	var in widgetInput
	if !readJSON(w, r, &in) {
		return
	}
	wd := &widget{}
	if errs := e.applyWidget(wd, &in, true); len(errs) > 0 {
		writeErrorData(w, http.StatusBadRequest, "Failed to create widget.", errs)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	wd.ID, wd.Created, wd.Updated = e.nextID(), now, now
	e.accountOf(r).widgets[wd.ID] = wd
	emukit.WriteJSON(w, http.StatusCreated, wd.out())
}

func (e *Emulator) widgetByPath(w http.ResponseWriter, r *http.Request, a *account) *widget {
	return byPath(w, r, a.widgets)
}

func (e *Emulator) getWidget(w http.ResponseWriter, r *http.Request, _ principal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if wd := e.widgetByPath(w, r, e.accountOf(r)); wd != nil {
		emukit.WriteJSON(w, http.StatusOK, wd.out())
	}
}

func (e *Emulator) updateWidget(w http.ResponseWriter, r *http.Request, _ principal) {
	var in widgetInput
	if !readJSON(w, r, &in) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	wd := e.widgetByPath(w, r, e.accountOf(r))
	if wd == nil {
		return
	}
	cp := *wd
	if errs := e.applyWidget(&cp, &in, false); len(errs) > 0 {
		writeErrorData(w, http.StatusBadRequest, "Failed to update widget.", errs)
		return
	}
	cp.Updated = e.now()
	*wd = cp
	emukit.WriteJSON(w, http.StatusOK, wd.out())
}

func (e *Emulator) deleteWidget(w http.ResponseWriter, r *http.Request, _ principal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.accountOf(r)
	if wd := e.widgetByPath(w, r, a); wd != nil {
		delete(a.widgets, wd.ID)
		w.WriteHeader(http.StatusNoContent)
	}
}
