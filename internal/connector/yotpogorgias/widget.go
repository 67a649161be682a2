package yotpogorgias

import (
	"fmt"
	"math"
	"strings"
	"time"

	"switchyard/internal/provider/gorgias"
	"switchyard/internal/provider/yotpo"
)

// DataKey is the key of customer.data switchyard owns for this connector;
// every other key belongs to others and is kept.
const DataKey = "yotpo"

// LatestReviews is how many reviews the widget lists.
const LatestReviews = 5

// Data is customer.data.yotpo. A section of a product the merchant does not
// use (or where the customer has no record) is nil and left out, so the
// widget hides it.
type Data struct {
	Overview      *Overview    `json:"overview,omitempty"`
	Loyalty       *Loyalty     `json:"loyalty,omitempty"`
	Reviews       *Reviews     `json:"reviews,omitempty"`
	LatestReviews []ReviewItem `json:"latest_reviews,omitempty"`
	SyncedAt      string       `json:"synced_at"`
}

// Overview is the widget's Overview section.
type Overview struct {
	VIPTierName     string   `json:"vip_tier_name,omitempty"`
	AverageRating   *float64 `json:"average_rating,omitempty"`
	NumberOfReviews *int64   `json:"number_of_reviews,omitempty"`
}

// Loyalty is the widget's Loyalty section.
type Loyalty struct {
	PointsBalance        int64  `json:"points_balance"`
	TotalPointsEarned    int64  `json:"total_points_earned"`
	TotalRedemptions     int64  `json:"total_redemptions"`
	SuccessfulReferrals  int64  `json:"successful_referrals"`
	ReferralsMadeClicked string `json:"referrals_made_clicked"`
	ReferralsMade        int64  `json:"referrals_made"`
	ReferralsClicked     int64  `json:"referrals_clicked"`
	ReferredByCustomer   bool   `json:"referred_by_another_customer"`
	ReferredBy           string `json:"referred_by,omitempty"`
}

// Reviews is the widget's Reviews section.
type Reviews struct {
	AverageRating        *float64 `json:"average_rating,omitempty"`
	AverageSiteRating    *float64 `json:"average_site_rating,omitempty"`
	AverageProductRating *float64 `json:"average_product_rating,omitempty"`
	AverageSentiment     string   `json:"average_sentiment,omitempty"`
	SiteSentiment        string   `json:"site_sentiment,omitempty"`
	ProductSentiment     string   `json:"product_sentiment,omitempty"`
	TopTopics            []string `json:"top_topics,omitempty"`
}

// ReviewItem is one of the latest reviews.
type ReviewItem struct {
	DateCreated     string   `json:"date_created"`
	Rating          int64    `json:"rating"`
	PublishedStatus string   `json:"published_status"`
	Title           string   `json:"title"`
	Text            string   `json:"text"`
	Votes           string   `json:"votes"`
	VotesUp         int64    `json:"votes_up"`
	VotesDown       int64    `json:"votes_down"`
	ProductName     string   `json:"product_name,omitempty"`
	ProductPage     string   `json:"product_page,omitempty"`
	Category        string   `json:"category,omitempty"`
	ProductReviews  *int64   `json:"product_reviews,omitempty"`
	ProductRating   *float64 `json:"product_rating,omitempty"`
}

func ptrF(f yotpo.Float) *float64 {
	if !f.Valid {
		return nil
	}
	v := math.Round(f.V*100) / 100
	return &v
}

// buildLoyalty maps a Loyalty customer to the section.
func buildLoyalty(c yotpo.LoyaltyCustomer) *Loyalty {
	return &Loyalty{PointsBalance: c.PointsBalance, TotalPointsEarned: c.PointsEarned, TotalRedemptions: c.PointsRedeemed,
		SuccessfulReferrals: c.SuccessfulReferrals, ReferralsMade: c.ReferralsMade, ReferralsClicked: c.ReferralsClicked,
		ReferralsMadeClicked: fmt.Sprintf("%d made, %d clicked", c.ReferralsMade, c.ReferralsClicked),
		ReferredByCustomer:   c.Referred, ReferredBy: c.ReferredBy}
}

// buildReviews maps the UGC summary to the section.
func buildReviews(s yotpo.UGCSummary) *Reviews {
	return &Reviews{AverageRating: ptrF(s.TotalAvgRating), AverageSiteRating: ptrF(s.AvgSiteRating), AverageProductRating: ptrF(s.AvgProductRating),
		AverageSentiment: yotpo.SentimentLabel(s.TotalAvgSentiment), SiteSentiment: yotpo.SentimentLabel(s.SentimentAvgSite),
		ProductSentiment: yotpo.SentimentLabel(s.SentimentAvgProduct), TopTopics: s.TopTopics}
}

// buildReviewItems maps the latest reviews.
func buildReviewItems(rs []yotpo.CustomerReview) []ReviewItem {
	out := make([]ReviewItem, 0, len(rs))
	for _, r := range rs {
		it := ReviewItem{DateCreated: r.CreatedAt.UTC().Format(time.RFC3339), Rating: int64(r.Score), PublishedStatus: "Unpublished",
			Title: r.Title, Text: r.Content, VotesUp: int64(r.VotesUp), VotesDown: int64(r.VotesDown),
			Votes: fmt.Sprintf("%d up, %d down", r.VotesUp, r.VotesDown)}
		if r.Published() {
			it.PublishedStatus = "Published"
		}
		if r.IsSiteReview() {
			it.ProductName = "Site review"
		}
		if p := r.Product; p != nil {
			it.ProductName, it.ProductPage, it.Category = p.Name, p.URL, p.Category
			n := p.ReviewCount
			it.ProductReviews, it.ProductRating = &n, ptrF(p.Rating)
		}
		out = append(out, it)
	}
	return out
}

func leaf(typ, title, path string) gorgias.WidgetNode {
	return gorgias.WidgetNode{Type: typ, Title: title, Path: path}
}

// WidgetTemplate is the Yotpo customer widget: Overview, Loyalty, Reviews,
// the five latest reviews and when the data was synced. It reads
// customer.data.yotpo (a "custom" widget); empty sections are hidden.
func WidgetTemplate() *gorgias.WidgetNode {
	return &gorgias.WidgetNode{Type: "wrapper", Widgets: []gorgias.WidgetNode{{
		Type: "card", Title: "Yotpo", Path: DataKey, Widgets: []gorgias.WidgetNode{
			{Type: "card", Title: "Overview", Path: "overview", Widgets: []gorgias.WidgetNode{
				leaf("text", "VIP tier name", "vip_tier_name"), leaf("text", "Average rating", "average_rating"),
				leaf("text", "Number of reviews", "number_of_reviews"),
			}},
			{Type: "card", Title: "Loyalty", Path: "loyalty", Widgets: []gorgias.WidgetNode{
				leaf("text", "Loyalty points", "points_balance"), leaf("text", "Total points earned", "total_points_earned"),
				leaf("text", "Total redemptions", "total_redemptions"), leaf("text", "Successful referrals", "successful_referrals"),
				leaf("text", "Referrals made & clicked", "referrals_made_clicked"),
				leaf("boolean", "Referred by another customer", "referred_by_another_customer"),
			}},
			{Type: "card", Title: "Reviews", Path: "reviews", Widgets: []gorgias.WidgetNode{
				leaf("text", "Average rating", "average_rating"), leaf("text", "Average site rating", "average_site_rating"),
				leaf("text", "Average product rating", "average_product_rating"), leaf("text", "Average sentiment", "average_sentiment"),
				leaf("text", "Average site sentiment", "site_sentiment"), leaf("text", "Average product sentiment", "product_sentiment"),
				leaf("array", "Top topics", "top_topics"),
			}},
			{Type: "list", Path: "latest_reviews", Widgets: []gorgias.WidgetNode{{
				Type: "card", Title: "Review", Widgets: []gorgias.WidgetNode{
					leaf("date", "Date created", "date_created"), leaf("text", "Rating", "rating"),
					leaf("text", "Published status", "published_status"), leaf("text", "Title", "title"), leaf("text", "Text", "text"),
					leaf("text", "Rating upvotes and downvotes", "votes"), leaf("text", "Product name", "product_name"),
					leaf("url", "Product page", "product_page"), leaf("text", "Category", "category"),
					leaf("text", "Product reviews", "product_reviews"), leaf("text", "Product rating", "product_rating"),
				},
			}}},
			leaf("date", "Synced at", "synced_at"),
		},
	}}}
}

// WidgetFields are the titles every section shows (tests check the agent
// page against them).
func WidgetFields() map[string][]string {
	out := map[string][]string{}
	for _, n := range WidgetTemplate().Widgets[0].Widgets {
		sec := n.Title
		if n.Type == "list" {
			sec = "Latest reviews"
			n = n.Widgets[0]
		}
		if sec == "" {
			sec = n.Title
		}
		for _, l := range n.Widgets {
			out[sec] = append(out[sec], l.Title)
		}
		if len(n.Widgets) == 0 {
			out[strings.TrimSpace(sec)] = append(out[sec], n.Title)
		}
	}
	return out
}
