package konnektive

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/domain"
)

// DateRange limits a query by date (inclusive days, CRM-local). The zero
// value means "everything": the client sends a wide range because the CRM
// requires one for look-ups without an id.
type DateRange struct {
	Start, End time.Time
	// Field is "dateCreated" (default), "dateUpdated" or, for customers,
	// "mostRecentActivity".
	Field string
}

// OrderQuery selects orders. At least one field should be set; an empty
// query lists every order of the account.
type OrderQuery struct {
	OrderID    string
	Email      string
	CustomerID string
	Phone      string
	FirstName  string
	LastName   string
	CampaignID string
	// Status is COMPLETE, PARTIAL, DECLINED, REFUNDED or CANCELLED.
	Status string
	Range  DateRange
	// NewestFirst sends sortDir=1.
	NewestFirst bool
}

// CustomerQuery selects customers.
type CustomerQuery struct {
	CustomerID string
	Email      string
	Phone      string
	FirstName  string
	LastName   string
	Range      DateRange
}

// PurchaseQuery selects purchases (subscriptions).
type PurchaseQuery struct {
	PurchaseID string
	OrderID    string
	CustomerID string
	Email      string
	Phone      string
	// Status filters by ACTIVE, TRIAL, CANCELLED, … (sent as "status").
	Status string
	Range  DateRange
}

// TransactionQuery selects transactions.
type TransactionQuery struct {
	OrderID    string
	PurchaseID string
	CustomerID string
	// TxnType is SALE, AUTHORIZE, CAPTURE, VOID or REFUND.
	TxnType string
	// ResponseType is SUCCESS, HARD_DECLINE or SOFT_DECLINE.
	ResponseType  string
	MerchantTxnID string
	Range         DateRange
}

func set(v url.Values, k, val string) {
	if val = strings.TrimSpace(val); val != "" {
		v.Set(k, val)
	}
}

// dates adds startDate/endDate: the caller's range, or a wide one when
// needRange and none is given.
func (c *Client) dates(v url.Values, r DateRange, needRange bool) {
	start, end := r.Start, r.End
	if start.IsZero() && end.IsZero() && !needRange {
		return
	}
	if start.IsZero() {
		start = c.cfg.QueryStartDate
	}
	if end.IsZero() {
		end = c.Now().AddDate(1, 0, 0)
	}
	v.Set("startDate", FormatDate(start))
	v.Set("endDate", FormatDate(end))
	set(v, "dateRangeType", r.Field)
}

// QueryOrders returns every order matching q, reading all pages. No match
// is an empty result, not an error.
func (c *Client) QueryOrders(ctx context.Context, q OrderQuery) ([]Order, error) {
	v := url.Values{}
	set(v, "orderId", q.OrderID)
	set(v, "emailAddress", q.Email)
	set(v, "customerId", q.CustomerID)
	set(v, "phoneNumber", q.Phone)
	set(v, "firstName", q.FirstName)
	set(v, "lastName", q.LastName)
	set(v, "campaignId", q.CampaignID)
	set(v, "orderStatus", q.Status)
	if q.NewestFirst {
		v.Set("sortDir", "1")
	}
	c.dates(v, q.Range, q.OrderID == "")
	return queryAll(ctx, c, op{"/order/query/", true}, v, func(o Order) string { return string(o.OrderID) })
}

// QueryCustomers returns every customer matching q.
func (c *Client) QueryCustomers(ctx context.Context, q CustomerQuery) ([]Customer, error) {
	v := url.Values{}
	set(v, "customerId", q.CustomerID)
	set(v, "emailAddress", q.Email)
	set(v, "phoneNumber", q.Phone)
	set(v, "firstName", q.FirstName)
	set(v, "lastName", q.LastName)
	c.dates(v, q.Range, q.CustomerID == "")
	return queryAll(ctx, c, op{"/customer/query/", true}, v, func(x Customer) string { return string(x.CustomerID) })
}

// QueryPurchases returns every purchase matching q.
func (c *Client) QueryPurchases(ctx context.Context, q PurchaseQuery) ([]Purchase, error) {
	v := url.Values{}
	set(v, "purchaseId", q.PurchaseID)
	set(v, "orderId", q.OrderID)
	set(v, "customerId", q.CustomerID)
	set(v, "emailAddress", q.Email)
	set(v, "phoneNumber", q.Phone)
	set(v, "status", q.Status)
	c.dates(v, q.Range, q.PurchaseID == "" && q.OrderID == "" && q.CustomerID == "")
	return queryAll(ctx, c, op{"/purchase/query/", true}, v, func(x Purchase) string { return string(x.PurchaseID) })
}

// QueryTransactions returns every transaction matching q.
func (c *Client) QueryTransactions(ctx context.Context, q TransactionQuery) ([]Transaction, error) {
	v := url.Values{}
	set(v, "orderId", q.OrderID)
	set(v, "purchaseId", q.PurchaseID)
	set(v, "customerId", q.CustomerID)
	set(v, "txnType", q.TxnType)
	set(v, "responseType", q.ResponseType)
	set(v, "merchantTxnId", q.MerchantTxnID)
	c.dates(v, q.Range, q.PurchaseID == "" && q.OrderID == "" && q.CustomerID == "")
	return queryAll(ctx, c, op{"/transactions/query/", true}, v, func(x Transaction) string { return string(x.TransactionID) })
}

// queryAll reads pages until the last (page × resultsPerPage ≥
// totalResults, or a short page), dropping rows repeated across pages.
func queryAll[T any](ctx context.Context, c *Client, o op, v url.Values, id func(T) string) ([]T, error) {
	var out []T
	seen := map[string]bool{}
	per := c.cfg.PageSize
	v.Set("resultsPerPage", strconv.Itoa(per))
	for page := 1; ; page++ {
		v.Set("page", strconv.Itoa(page))
		env, err := c.call(ctx, o, v)
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) && IsNoResults(ae.Message) {
				return out, nil // past the last page, or nothing at all
			}
			return out, err
		}
		p, err := DecodePage[T](env.Message)
		if err != nil {
			return out, domain.WrapError(domain.EINTERNAL, "unreadable Konnektive "+o.path+" answer", err)
		}
		for _, rec := range p.Data {
			if k := id(rec); k != "" {
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			out = append(out, rec)
		}
		total := int(p.TotalResults)
		pageSize := int(p.ResultsPerPage)
		if pageSize <= 0 {
			pageSize = per
		}
		switch {
		case len(p.Data) == 0:
			return out, nil
		case total > 0 && page*pageSize >= total:
			return out, nil
		case total <= 0 && len(p.Data) < pageSize:
			return out, nil
		case page >= c.cfg.MaxPages:
			c.Logger.LogAttrs(ctx, slog.LevelWarn, "konnektive query stopped at the page limit",
				slog.String("endpoint", o.path), slog.Int("pages", page), slog.Int("rows", len(out)), slog.Int("total", total))
			return out, nil
		}
	}
}

// errInvalid builds an EINVALID error for bad caller input (nothing is sent).
func errInvalid(format string, args ...any) error {
	return domain.Errorf(domain.EINVALID, format, args...)
}
