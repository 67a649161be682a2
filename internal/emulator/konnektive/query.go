package konnektive

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

// ---- parameter parsing shared by queries and actions ----

func parseRequestDate(name, s string) (time.Time, error) {
	t, err := time.ParseInLocation("1/2/2006", strings.TrimSpace(s), emukit.Eastern)
	if err != nil {
		return time.Time{}, errf("Invalid %s %q: dates must be m/d/Y, e.g. 01/31/2024", name, s)
	}
	return t, nil
}

func parseBool(p params, name string) (bool, error) {
	switch strings.ToLower(p.get(name)) {
	case "", "0", "false", "no":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	}
	return false, errf("Invalid %s %q: use 1 (true) or 0 (false)", name, p.get(name))
}

// parseMoney reads a non-negative decimal amount with at most two decimals.
func parseMoney(name, s string) (int64, error) {
	s = strings.TrimSpace(s)
	bad := errf("Invalid %s %q: must be a positive amount such as 12.50", name, s)
	if s == "" || len(s) > 15 {
		return 0, bad
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && (len(frac) == 0 || len(frac) > 2)) {
		return 0, bad
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, bad
		}
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	for len(frac) < 2 {
		frac += "0"
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	return w*100 + f, nil
}

func parseInt(name, s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < lo || n > hi {
		return 0, errf("Invalid %s %q: must be a whole number from %d to %d", name, s, lo, hi)
	}
	return n, nil
}

func checkEnum(name, v string, allowed ...string) error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return errf("Invalid %s %q: must be one of %s", name, v, strings.Join(allowed, ", "))
}

// window is a query's date filter.
type window struct {
	set      bool
	from, to time.Time
	field    string // dateCreated or dateUpdated
	desc     bool
}

func (w window) match(created, updated time.Time) bool {
	if !w.set {
		return true
	}
	t := created
	if w.field == "dateUpdated" {
		t = updated
	}
	return !t.Before(w.from) && t.Before(w.to)
}

// readWindow reads startDate/endDate/dateRangeType/sortDir. hasID tells
// whether an id parameter makes the range optional.
func (e *Emulator) readWindow(p params, hasID bool, idNames string, rangeTypes ...string) (window, error) {
	var w window
	if err := checkEnum("sortDir", p.get("sortDir"), "0", "1"); err != nil {
		return w, err
	}
	w.desc = p.get("sortDir") == "1"
	w.field = "dateCreated"
	if rt := p.get("dateRangeType"); rt != "" {
		if err := checkEnum("dateRangeType", rt, rangeTypes...); err != nil {
			return w, err
		}
		if rt != "dateCreated" {
			w.field = "dateUpdated"
		}
	}
	sd, ed := p.get("startDate"), p.get("endDate")
	switch {
	case sd == "" && ed == "":
		if !hasID && !e.cfg.LenientDateRange {
			return w, errf("startDate and endDate are required when no %s is given", idNames)
		}
		return w, nil
	case sd == "" || ed == "":
		return w, errf("startDate and endDate must be given together")
	}
	from, err := parseRequestDate("startDate", sd)
	if err != nil {
		return w, err
	}
	to, err := parseRequestDate("endDate", ed)
	if err != nil {
		return w, err
	}
	if to.Before(from) {
		return w, errf("endDate %s is before startDate %s", ed, sd)
	}
	w.set, w.from, w.to = true, from, to.AddDate(0, 0, 1)
	return w, nil
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// personFilter matches the shared emailAddress/phoneNumber/firstName/lastName filters.
func personFilter(p params) func(email, phone string, bill addr) bool {
	email := strings.ToLower(p.get("emailAddress"))
	phone := digits(p.get("phoneNumber"))
	fn, ln := strings.ToLower(p.get("firstName")), strings.ToLower(p.get("lastName"))
	return func(e, ph string, a addr) bool {
		switch {
		case email != "" && strings.ToLower(e) != email:
			return false
		case phone != "" && !strings.HasSuffix(digits(ph), phone):
			return false
		case fn != "" && strings.ToLower(a.FirstName) != fn:
			return false
		case ln != "" && strings.ToLower(a.LastName) != ln:
			return false
		}
		return true
	}
}

// paginate answers a page of rows (rendering only that page) or the
// "No … could be found" ERROR.
func paginate[T any](p params, noun string, rows []T, render func(T) map[string]any) (any, error) {
	per := DefaultResultsPerPage
	if p.has("resultsPerPage") {
		n, err := parseInt("resultsPerPage", p.get("resultsPerPage"), 1, MaxResultsPerPage)
		if err != nil {
			return nil, err
		}
		per = n
	}
	pg := 1
	if p.has("page") {
		n, err := parseInt("page", p.get("page"), 1, 1<<30)
		if err != nil {
			return nil, err
		}
		pg = n
	}
	start := (pg - 1) * per
	if len(rows) == 0 || start >= len(rows) {
		return nil, errf("No %s matching those parameters could be found", noun)
	}
	end := min(start+per, len(rows))
	data := make([]map[string]any, 0, end-start)
	for _, r := range rows[start:end] {
		data = append(data, render(r))
	}
	return map[string]any{
		"totalResults":   strconv.Itoa(len(rows)),
		"resultsPerPage": per,
		"page":           strconv.Itoa(pg),
		"data":           data,
	}, nil
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

func optionalInt(p params, name string) (int, bool, error) {
	if !p.has(name) {
		return 0, false, nil
	}
	n, err := parseInt(name, p.get(name), 0, 1<<30)
	return n, true, err
}

func (e *Emulator) queryOrders(p params) (any, error) {
	orderID := p.get("orderId")
	w, err := e.readWindow(p, orderID != "", "orderId", "dateCreated", "dateUpdated")
	if err != nil {
		return nil, err
	}
	if err := checkEnum("orderStatus", p.get("orderStatus"), statusComplete, statusPartial, statusDeclined, statusRefunded, statusCancelled); err != nil {
		return nil, err
	}
	custID, hasCust, err := optionalInt(p, "customerId")
	if err != nil {
		return nil, err
	}
	campID, hasCamp, err := optionalInt(p, "campaignId")
	if err != nil {
		return nil, err
	}
	person := personFilter(p)
	db := e.db
	var rows []*order
	orders := db.sortedOrders()
	if w.desc {
		reverse(orders)
	}
	for _, o := range orders {
		switch {
		case orderID != "" && !strings.EqualFold(o.ID, orderID):
			continue
		case hasCust && o.CustomerID != custID:
			continue
		case hasCamp && o.Campaign.ID != campID:
			continue
		case p.has("orderStatus") && o.Status != p.get("orderStatus"):
			continue
		case p.has("orderType") && o.Type != p.get("orderType"):
			continue
		case !w.match(o.Created, o.Updated) || !person(o.Email, o.Phone, o.Bill):
			continue
		}
		rows = append(rows, o)
	}
	return paginate(p, "orders", rows, db.renderOrder)
}

func (e *Emulator) queryCustomers(p params) (any, error) {
	custID, hasCust, err := optionalInt(p, "customerId")
	if err != nil {
		return nil, err
	}
	w, err := e.readWindow(p, hasCust, "customerId", "dateCreated", "dateUpdated", "mostRecentActivity")
	if err != nil {
		return nil, err
	}
	person := personFilter(p)
	fields := map[string]func(c *customer) string{
		"address1": func(c *customer) string { return c.Bill.Address1 }, "city": func(c *customer) string { return c.Bill.City },
		"state": func(c *customer) string { return c.Bill.State }, "postalCode": func(c *customer) string { return c.Bill.PostalCode },
		"country": func(c *customer) string { return c.Bill.Country },
	}
	cs := sortedCustomers(e.db)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Created.Before(cs[j].Created) })
	if w.desc {
		reverse(cs)
	}
	var rows []*customer
outer:
	for _, c := range cs {
		if hasCust && c.ID != custID || !w.match(c.Created, c.Updated) || !person(c.Email, c.Phone, c.Bill) {
			continue
		}
		for name, get := range fields {
			if p.has(name) && !strings.EqualFold(get(c), p.get(name)) {
				continue outer
			}
		}
		rows = append(rows, c)
	}
	return paginate(p, "customers", rows, (*customer).render)
}

func (e *Emulator) queryPurchases(p params) (any, error) {
	db := e.db
	purchID, hasPurch, err := optionalInt(p, "purchaseId")
	if err != nil {
		return nil, err
	}
	custID, hasCust, err := optionalInt(p, "customerId")
	if err != nil {
		return nil, err
	}
	orderID := p.get("orderId")
	w, err := e.readWindow(p, hasPurch || hasCust || orderID != "", "orderId, purchaseId or customerId", "dateCreated", "dateUpdated")
	if err != nil {
		return nil, err
	}
	if err := checkEnum("status", p.get("status"), purchaseActive, purchaseTrial, purchaseCancelled, purchaseHold, purchaseRecycleBilling, purchaseRecycleFailed); err != nil {
		return nil, err
	}
	person := personFilter(p)
	ps := db.sortedPurchases()
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Created.Before(ps[j].Created) })
	if w.desc {
		reverse(ps)
	}
	var rows []*purchase
	for _, pu := range ps {
		switch {
		case hasPurch && pu.ID != purchID, hasCust && pu.CustomerID != custID:
			continue
		case orderID != "" && !db.purchaseHasOrder(pu, orderID):
			continue
		case p.has("status") && pu.Status != p.get("status"):
			continue
		case !w.match(pu.Created, pu.Updated) || !person(pu.Email, pu.Phone, pu.Bill):
			continue
		}
		rows = append(rows, pu)
	}
	return paginate(p, "purchases", rows, db.renderPurchase)
}

func (db *dataset) purchaseHasOrder(p *purchase, orderID string) bool {
	if strings.EqualFold(p.OrderID, orderID) {
		return true
	}
	for _, id := range p.TxnIDs {
		if t := db.txns[id]; t != nil && strings.EqualFold(t.OrderID, orderID) {
			return true
		}
	}
	return false
}

func (e *Emulator) queryTransactions(p params) (any, error) {
	db := e.db
	txnID, hasTxn, err := optionalInt(p, "transactionId")
	if err != nil {
		return nil, err
	}
	purchID, hasPurch, err := optionalInt(p, "purchaseId")
	if err != nil {
		return nil, err
	}
	custID, hasCust, err := optionalInt(p, "customerId")
	if err != nil {
		return nil, err
	}
	orderID := p.get("orderId")
	w, err := e.readWindow(p, hasTxn || hasPurch || hasCust || orderID != "", "orderId, purchaseId, customerId or transactionId", "dateCreated", "dateUpdated")
	if err != nil {
		return nil, err
	}
	checks := []struct {
		name    string
		allowed []string
	}{
		{"txnType", []string{txnSale, "AUTHORIZE", "CAPTURE", "VOID", txnRefund}},
		{"responseType", []string{respSuccess, respHardDecline, respSoftDecline}},
		{"paySource", []string{"CREDITCARD", "CHECK", "PREPAID"}},
		{"isChargedback", []string{"0", "1"}},
	}
	for _, c := range checks {
		if err := checkEnum(c.name, p.get(c.name), c.allowed...); err != nil {
			return nil, err
		}
	}
	ts := db.sortedTxns()
	if w.desc {
		reverse(ts)
	}
	var rows []*txn
	for _, t := range ts {
		switch {
		case hasTxn && t.ID != txnID, hasPurch && t.PurchaseID != purchID, hasCust && t.CustomerID != custID:
			continue
		case orderID != "" && !strings.EqualFold(t.OrderID, orderID):
			continue
		case p.has("txnType") && t.Type != p.get("txnType"), p.has("responseType") && t.Response != p.get("responseType"):
			continue
		case p.has("paySource") && t.PaySource != p.get("paySource"), p.get("isChargedback") == "1":
			continue
		case p.has("merchantTxnId") && t.MerchantTxnID != p.get("merchantTxnId"), p.has("cardLast4") && t.CardLast4 != p.get("cardLast4"):
			continue
		case !w.match(t.Created, t.Updated):
			continue
		}
		rows = append(rows, t)
	}
	return paginate(p, "transactions", rows, (*txn).render)
}
