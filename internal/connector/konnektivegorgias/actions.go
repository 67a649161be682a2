package konnektivegorgias

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/domain"
	"switchyard/internal/outbound"
	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/konnektive"
)

// actionTimeout bounds one action's CRM work (look-ups and the call).
const actionTimeout = 20 * time.Second

// maxActionBody bounds a macro's request body.
const maxActionBody = 64 << 10

// serveAction runs one macro's http action: POST …/actions/{action}
// ?ticket={{ticket.id}}&email={{ticket.customer.email}}&agent={{current_user.email}}
// with the editable arguments as a JSON object or a form.
func (c *Connector) serveAction(w http.ResponseWriter, r *http.Request, in *domain.Installation) {
	def, ok := macroByKey(r.PathValue("action"))
	if !ok {
		writeJSON(w, http.StatusNotFound, errorBody("not_found", "unknown action "+r.PathValue("action")))
		return
	}
	q := r.URL.Query()
	ticket := strings.TrimSpace(q.Get("ticket"))
	if _, err := strconv.ParseUint(ticket, 10, 63); err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody("bad_request", "the ticket parameter must be the Gorgias ticket id ({{ticket.id}})"))
		return
	}
	raw, err := readArgs(r)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody("too_large", fmt.Sprintf("the body is over %d bytes", maxActionBody)))
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody("bad_request", err.Error()))
		return
	}
	s, err := parseSettings(in)
	if err != nil {
		s.actionWindow = DefaultActionWindow
	}
	canon := def.canonical(raw)
	a := &domain.ActionAudit{MerchantID: in.MerchantID, InstallationID: in.ID, TicketID: ticket, CustomerEmail: domain.NormalizeEmail(q.Get("email")), Agent: strings.TrimSpace(q.Get("agent")),
		Action: def.Key, Arguments: redactArgs(canon), IdemKey: idemKey(in.ID, ticket, def.Key, canon)}
	prev, claimed, err := c.d.Store.ClaimAction(r.Context(), a, s.actionWindow)
	if err != nil {
		c.d.Logger.ErrorContext(r.Context(), "konnektive action claim failed", slog.String("installation_id", in.ID), slog.String("error", err.Error()))
		writeJSON(w, http.StatusServiceUnavailable, errorBody("unavailable", "the action could not be recorded; nothing was done, try again"))
		return
	}
	if !claimed {
		w.Header().Set("Idempotent-Replayed", "true")
		if prev.Status == domain.ActionPending {
			writeJSON(w, http.StatusConflict, actionBody(prev))
			return
		}
		writeJSON(w, prev.HTTPStatus, actionBody(prev))
		return
	}
	// The action finishes even if Gorgias hangs up: its audit row and note
	// must tell what happened.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), actionTimeout)
	defer cancel()
	email := strings.ToLower(strings.TrimSpace(q.Get("email")))
	c.execute(ctx, in, def, raw, email, a)
	// The CRM could not be reached: the outcome is unknown, and the note
	// asks the agent to check the CRM and apply again, which must then run.
	a.ReleaseKey = a.Status == domain.ActionFailed && a.HTTPStatus >= 500
	c.postNote(ctx, in, def, a)
	if err := c.d.Store.FinishAction(ctx, a); err != nil {
		c.d.Logger.ErrorContext(ctx, "konnektive action outcome not recorded", slog.String("installation_id", in.ID), slog.String("audit_id", a.ID), slog.String("error", err.Error()))
	}
	if a.Status == domain.ActionSucceeded && email != "" {
		c.cache.drop(in.ID + "\x00" + email)
	}
	writeJSON(w, a.HTTPStatus, actionBody(a))
}

// actionOutcome is the audit row's result.
type actionOutcome struct {
	CRMMessage string          `json:"crm_message,omitempty"`
	CRM        json.RawMessage `json:"crm,omitempty"`
	Error      string          `json:"error,omitempty"`
	NoteError  string          `json:"note_error,omitempty"`
	NoteID     int64           `json:"note_id,omitempty"`
}

// execute validates, runs the CRM call and fills a's outcome.
func (c *Connector) execute(ctx context.Context, in *domain.Installation, def MacroDef, raw map[string]string, email string, a *domain.ActionAudit) {
	var out actionOutcome
	defer func() {
		a.Result, _ = json.Marshal(out)
	}()
	fail := func(status domain.ActionStatus, code int, msg string) {
		a.Status, a.HTTPStatus, a.Message, out.Error = status, code, msg, msg
	}
	args, err := def.normalize(raw)
	if err != nil {
		fail(domain.ActionRejected, http.StatusUnprocessableEntity, err.Error())
		return
	}
	k, err := c.hotCRM(ctx, in)
	if err != nil {
		fail(domain.ActionFailed, http.StatusBadGateway, "the Konnektive connection is misconfigured: "+domain.ErrorMessage(err))
		return
	}
	x := &execution{c: c, in: in, k: k, args: args, email: email}
	call, err := def.run(ctx, x)
	if err != nil {
		status, code, msg := classify(err, false)
		fail(status, code, msg)
		return
	}
	a.Request, _ = json.Marshal(call)
	res, err := call.call(ctx)
	if err != nil {
		status, code, msg := classify(err, true)
		if status == domain.ActionRejected {
			a.Request = nil // refused before sending
		}
		fail(status, code, msg)
		return
	}
	out.CRMMessage, out.CRM = res.Message, res.Data
	a.Status, a.HTTPStatus, a.Message = domain.ActionSucceeded, http.StatusOK, call.Summary
}

// classify maps an action error: a rejection or our client's check
// (nothing sent) is rejected; a CRM ERROR answer is failed (refused); a
// transport failure or timeout is failed (unknown outcome when sent).
func classify(err error, sent bool) (domain.ActionStatus, int, string) {
	var rj *rejection
	var ae *konnektive.APIError
	var oe *outbound.Error
	switch {
	case errors.As(err, &rj):
		return domain.ActionRejected, http.StatusUnprocessableEntity, rj.msg
	case errors.As(err, &ae):
		if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
			return domain.ActionFailed, http.StatusBadGateway, "the Konnektive CRM refused switchyard's API user (check its loginId, password and IP whitelist)"
		}
		return domain.ActionFailed, http.StatusUnprocessableEntity, "the Konnektive CRM refused it: " + ae.Message
	case domain.ErrorCode(err) == domain.EINVALID && !errors.As(err, &oe):
		return domain.ActionRejected, http.StatusUnprocessableEntity, domain.ErrorMessage(err)
	}
	msg := "the Konnektive CRM could not be reached"
	if errors.Is(err, context.DeadlineExceeded) || outbound.IsTimeout(err) {
		msg = "the Konnektive CRM did not answer in time"
	} else if pm, ok := outbound.PublicMessage(err); ok {
		msg += " (" + pm + ")"
	}
	if sent {
		msg += "; it may or may not have been applied: check the CRM before applying the macro again"
	}
	return domain.ActionFailed, http.StatusBadGateway, msg
}

// postNote tells the agent the outcome as an internal note on the ticket.
func (c *Connector) postNote(ctx context.Context, in *domain.Installation, def MacroDef, a *domain.ActionAudit) {
	var text string
	switch a.Status {
	case domain.ActionSucceeded:
		text = fmt.Sprintf("%s — done: %s.", def.Name, a.Message)
	case domain.ActionRejected:
		text = fmt.Sprintf("%s — not applied: %s. Nothing was changed in the CRM.", def.Name, a.Message)
	default:
		text = fmt.Sprintf("%s — failed: %s.", def.Name, a.Message)
	}
	if a.Agent != "" {
		text += " (applied by " + a.Agent + ")"
	}
	text += " [switchyard audit " + a.ID + "]"
	var out actionOutcome
	_ = json.Unmarshal(a.Result, &out)
	defer func() { a.Result, _ = json.Marshal(out) }()
	tid, _ := strconv.ParseInt(a.TicketID, 10, 64)
	g, err := c.gorgias(ctx, in)
	if err == nil {
		var m *gorgias.Message
		m, err = g.CreateMessage(ctx, gorgias.ID(tid), gorgias.InternalNote("", text, "<p>"+html.EscapeString(text)+"</p>"))
		if err == nil {
			out.NoteID = int64(m.ID)
			return
		}
	}
	out.NoteError = "the internal note could not be posted"
	if pm, ok := outbound.PublicMessage(err); ok {
		out.NoteError += ": " + pm
	}
	c.d.Logger.WarnContext(ctx, "konnektive action note not posted", slog.String("installation_id", in.ID), slog.String("audit_id", a.ID), slog.String("error", err.Error()))
}

// actionBody is the endpoint's answer (also for a replayed delivery).
func actionBody(a *domain.ActionAudit) map[string]any {
	return map[string]any{"audit_id": a.ID, "action": a.Action, "status": a.Status, "message": a.Message, "result": a.Result}
}

// canonical is the macro's declared arguments as sent (trimmed; flags
// default to 0): the arguments an idempotency key and an audit row hold.
func (m MacroDef) canonical(raw map[string]string) map[string]string {
	out := make(map[string]string, len(m.Args))
	for _, a := range m.Args {
		v := strings.TrimSpace(raw[a.Key])
		if a.Flag && v == "" {
			v = "0"
		}
		out[a.Key] = v
	}
	return out
}

// idemKey identifies "the same macro on the same ticket with the same
// arguments".
func idemKey(installation, ticket, action string, args map[string]string) string {
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s;%d:%s;%d:%s;", len(installation), installation, len(ticket), ticket, len(action), action)
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s=%d:%s;", len(k), k, len(args[k]), args[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// redactArgs drops anything that looks like a credential.
func redactArgs(args map[string]string) map[string]string {
	out := make(map[string]string, len(args))
	for k, v := range args {
		l := strings.ToLower(k)
		if strings.Contains(l, "password") || strings.Contains(l, "token") || strings.Contains(l, "secret") ||
			strings.Contains(l, "apikey") || strings.Contains(l, "api_key") || strings.Contains(l, "loginid") {
			continue
		}
		out[k] = v
	}
	return out
}

// readArgs reads the arguments: a JSON object (Gorgias' application/json
// http action) or a form body.
func readArgs(r *http.Request) (map[string]string, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxActionBody))
	if err != nil {
		return nil, fmt.Errorf("error reading the request body: %w", err)
	}
	out := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	trimmed := strings.TrimSpace(string(body))
	if ct == "application/x-www-form-urlencoded" {
		vals, err := parseForm(trimmed)
		if err != nil {
			return nil, err
		}
		return vals, nil
	}
	if trimmed == "" {
		return out, nil
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, errors.New("the body must be a JSON object of the macro's arguments")
	}
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			out[k] = ""
		case string:
			out[k] = x
		case float64, bool:
			out[k] = fmt.Sprint(x)
		default:
			return nil, fmt.Errorf("argument %s must be a text value", k)
		}
	}
	return out, nil
}

func parseForm(s string) (map[string]string, error) {
	vals, err := url.ParseQuery(s)
	if err != nil {
		return nil, errors.New("the form body is malformed")
	}
	out := map[string]string{}
	for k, v := range vals {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out, nil
}
