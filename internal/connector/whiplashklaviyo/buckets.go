package whiplashklaviyo

import (
	"encoding/json"
	"fmt"
	"strconv"

	"switchyard/internal/provider/whiplash"
)

// Bucket is a customer-facing order status, ranked: a bucket is never
// emitted after a higher one for the same order.
type Bucket int

// Buckets (reference B4 mapping; the ranks are ours).
const (
	BucketNone Bucket = iota
	BucketProcessing
	BucketShipped
	BucketDelivered
	BucketCancelled
)

// UnmarshalJSON reads a bucket rank: a JSON number, or a quoted number as
// sync states stored it before they were typed. Anything else is an error.
func (b *Bucket) UnmarshalJSON(data []byte) error {
	var n int
	if err := json.Unmarshal(data, &n); err == nil {
		*b = Bucket(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("bucket %s is neither a number nor a quoted number", data)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("bucket %q is not a number: %w", s, err)
	}
	*b = Bucket(n)
	return nil
}

// Metric is the Klaviyo metric name of a bucket (exactly as the guide names them).
func (b Bucket) Metric() string {
	switch b {
	case BucketProcessing:
		return "Processing order"
	case BucketShipped:
		return "Order shipped"
	case BucketDelivered:
		return "Order delivered"
	case BucketCancelled:
		return "Order cancelled"
	}
	return ""
}

// Slug names a bucket in unique ids.
func (b Bucket) Slug() string {
	switch b {
	case BucketProcessing:
		return "processing"
	case BucketShipped:
		return "shipped"
	case BucketDelivered:
		return "delivered"
	case BucketCancelled:
		return "cancelled"
	}
	return "none"
}

// BucketOf maps a status code (reference B4): 100–250 processing, 300/325/30
// shipped, 350 delivered, 40/45 cancelled; anything else none.
func BucketOf(status int) Bucket {
	switch {
	case status >= 100 && status <= 250:
		return BucketProcessing
	case status == 300 || status == 325 || status == 30:
		return BucketShipped
	case status == 350:
		return BucketDelivered
	case status == 40 || status == 45:
		return BucketCancelled
	}
	return BucketNone
}

// Reached lists, in order, the buckets an order in its current state has
// passed through. A snapshot may skip statuses (webhooks coalesce or arrive
// out of order), so the path is derived from where the order is: a parcel
// that shipped or was delivered was processed first, unless it shipped
// externally (30); a cancelled order was processing first when its
// previous status says so.
func Reached(o *whiplash.Order) []Bucket {
	prev := int(o.PreviousStatus)
	switch BucketOf(int(o.Status)) {
	case BucketProcessing:
		return []Bucket{BucketProcessing}
	case BucketShipped:
		if o.Status == 30 {
			return []Bucket{BucketShipped}
		}
		return []Bucket{BucketProcessing, BucketShipped}
	case BucketDelivered:
		if prev == 30 {
			return []Bucket{BucketShipped, BucketDelivered}
		}
		return []Bucket{BucketProcessing, BucketShipped, BucketDelivered}
	case BucketCancelled:
		if p := BucketOf(prev); p == BucketProcessing || p == BucketShipped {
			return []Bucket{BucketProcessing, BucketCancelled}
		}
		return []Bucket{BucketCancelled}
	}
	return nil
}
