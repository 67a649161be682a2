package yotpo

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

// catalogue is the fixture product catalogue (SKUs match emukit.Fake).
var catalogue = []struct{ SKU, Name, Category string }{
	{"TEE-BLK-M", "Logo Tee Black M", "Apparel"}, {"TEE-WHT-L", "Logo Tee White L", "Apparel"},
	{"HOOD-GRY-M", "Zip Hoodie Grey M", "Apparel"}, {"CAP-NVY", "Dad Cap Navy", "Accessories"},
	{"MUG-12OZ", "Enamel Mug 12oz", "Home"}, {"VINYL-LP-01", "Vinyl LP", "Music"},
	{"POSTER-A2", "Tour Poster A2", "Home"}, {"SOCK-3PK", "Crew Socks 3-pack", "Apparel"},
	{"TOTE-NAT", "Canvas Tote Natural", "Accessories"}, {"BEAN-BLK", "Knit Beanie Black", "Accessories"},
}

var (
	topicsList  = []string{"fit", "quality", "shipping", "price", "comfort", "size", "color", "customer service", "packaging", "durability"}
	goodTitles  = []string{"Love it", "Great quality", "Exactly as described", "Would buy again", "Perfect gift"}
	okTitles    = []string{"Pretty good", "Decent", "Okay for the price"}
	badTitles   = []string{"Disappointed", "Not as pictured", "Fell apart", "Wrong size sent"}
	goodBodies  = []string{"The %s is fantastic, fits great and arrived quickly.", "Really happy with the %s. Quality is excellent.", "Bought the %s for my partner, they love it."}
	okBodies    = []string{"The %s is fine, nothing special.", "%s is okay but shipping took a while."}
	badBodies   = []string{"The %s arrived damaged and support has not answered.", "My %s shrank after one wash.", "Ordered the %s in M but got an S."}
	questionsTx = []string{"Does the %s run true to size?", "Is the %s machine washable?", "When will the %s be back in stock?", "Can I return the %s if it does not fit?"}
	tiers       = []struct {
		Name string
		Min  int
	}{{"Bronze", 0}, {"Silver", 1000}, {"Gold", 2500}, {"Platinum", 5000}}
)

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// generate fills a fresh store with the account's catalogue and customers.
func generate(a Account, seed uint64, now time.Time, emails, loyaltyOnly, reviewsOnly []string) *store {
	s := newStore(a)
	now = now.UTC().Truncate(time.Second)
	f := emukit.NewFake(seed ^ hash64(a.AppKey+"|"+a.GUID))
	if a.AppKey != "" {
		for i, c := range catalogue {
			created := now.AddDate(-1, 0, -i)
			s.products[c.SKU] = &Product{
				YotpoID: int64(5000 + i), ExternalID: c.SKU, Name: c.Name, SKU: c.SKU,
				Description: c.Name + " from the demo store.",
				URL:         "https://demo-store.example.com/products/" + strings.ToLower(c.SKU),
				ImageURL:    "https://demo-store.example.com/images/" + strings.ToLower(c.SKU) + ".jpg",
				Price:       float64(12+f.R.IntN(60)) + 0.99, Currency: "USD", GroupName: c.Category,
				CustomProperties: map[string]string{"category": c.Category},
				CreatedAt:        created, UpdatedAt: created,
			}
			s.prodOrder = append(s.prodOrder, c.SKU)
		}
	}
	n := a.Customers
	for i := 0; i < n; i++ {
		p := f.Person(i + 1)
		// Mix: 60 % both, 20 % loyalty only, 20 % reviews only.
		roll := f.R.IntN(10)
		s.addCustomer(f, p, now, roll < 8, roll < 6 || roll >= 8)
	}
	for _, e := range emails {
		s.seedEmail(seed, now, e, true, true)
	}
	for _, e := range loyaltyOnly {
		s.seedEmail(seed, now, e, true, false)
	}
	for _, e := range reviewsOnly {
		s.seedEmail(seed, now, e, false, true)
	}
	return s
}

// seedEmail generates data for one email, deterministic by (seed, email).
func (s *store) seedEmail(seed uint64, now time.Time, email string, loyalty, reviews bool) {
	f := emukit.NewFake(seed ^ hash64(normEmail(email)))
	p := f.Person(1)
	p.Email = strings.TrimSpace(email)
	s.addCustomer(f, p, now, loyalty, reviews)
}

func (s *store) addCustomer(f *emukit.Fake, p emukit.Person, now time.Time, loyalty, reviews bool) {
	if loyalty && s.acct.GUID != "" {
		s.loyalty[normEmail(p.Email)] = genLoyalty(f, p, now)
	}
	if reviews && s.acct.AppKey != "" {
		s.genReviews(f, p, now)
	}
}

func genLoyalty(f *emukit.Fake, p emukit.Person, now time.Time) *LoyaltyCustomer {
	earned := 100 + f.R.IntN(60)*100
	redeemed := 0
	if earned > 500 {
		redeemed = f.R.IntN(earned/500+1) * 500
	}
	tier := tiers[0]
	for _, t := range tiers {
		if earned >= t.Min {
			tier = t
		}
	}
	made := f.R.IntN(9)
	completed := 0
	if made > 0 {
		completed = f.R.IntN(made + 1)
	}
	purchases := 1 + f.R.IntN(12)
	spend := purchases * (2500 + f.R.IntN(8000))
	lastPurchase := f.Time(now.AddDate(0, 0, -120), 119*24*time.Hour, time.UTC)
	lastSeen := lastPurchase.Add(time.Duration(f.R.IntN(48)) * time.Hour)
	if lastSeen.After(now) {
		lastSeen = now
	}
	expire := now.AddDate(1, 0, 0)
	c := &LoyaltyCustomer{
		Email: p.Email, FirstName: p.FirstName, LastName: p.LastName, PhoneNumber: p.Phone,
		PointsBalance: earned - redeemed, PointsEarned: earned, PointsRedeemed: redeemed, PerksRedeemed: redeemed / 500,
		TotalSpendCents: spend, TotalPurchases: purchases, LastPurchaseAt: &lastPurchase, LastSeenAt: &lastSeen,
		OptIn: f.R.IntN(3) > 0, PointsExpireAt: &expire, HasStoreAccount: true,
		ThirdPartyID: fmt.Sprintf("%d", 7000000+f.R.IntN(999999)),
		VIPTierName:  tier.Name,
		VIPTierActionsCompleted: VIPActions{PointsEarned: earned, AmountSpentCents: spend, PurchasesMade: purchases,
			ReferralsCompleted: completed, CampaignsCompleted: f.R.IntN(5)},
		ReferralCode:       fmt.Sprintf("%s%03d", strings.ToUpper(asciiOnly(p.FirstName)), f.R.IntN(1000)),
		ReferralsCompleted: completed, ReferralsMade: made, ReferralLinkClicks: made + f.R.IntN(made*2+1),
	}
	c.ReferralLink = "https://demo-store.example.com/r/" + c.ReferralCode
	for _, t := range tiers {
		if t.Min > earned {
			c.VIPTierUpgradeRequirements = VIPRequirements{PointsNeeded: t.Min - earned, PurchasesNeeded: 1 + f.R.IntN(3)}
			break
		}
	}
	if f.R.IntN(4) == 0 {
		ref := fmt.Sprintf("friend%d@example.com", f.R.IntN(1000))
		c.ReferredBy = &ref
	}
	// History: purchases and redemptions that add up to the balance.
	d := now.AddDate(0, 0, -200)
	remaining := earned
	for i := 0; remaining > 0 && i < 6; i++ {
		pts := remaining
		if i < 5 && remaining > 200 {
			pts = 100 * (1 + f.R.IntN(remaining/100))
		}
		remaining -= pts
		d = d.Add(time.Duration(1+f.R.IntN(30)) * 24 * time.Hour)
		c.HistoryItems = append(c.HistoryItems, HistoryItem{Date: d, Action: "Made a purchase", ActionName: "purchase",
			OrderIDs: []string{fmt.Sprintf("%d", 1000+f.R.IntN(9000))}, Status: "Approved", Points: pts})
	}
	if redeemed > 0 {
		c.HistoryItems = append(c.HistoryItems, HistoryItem{Date: d.Add(24 * time.Hour), Action: "Redeemed points", ActionName: "redemption",
			OrderIDs: []string{}, Status: "Approved", Points: -redeemed})
	}
	return c
}

func (s *store) genReviews(f *emukit.Fake, p emukit.Person, now time.Time) {
	nrev := 1 + f.R.IntN(7)
	for i := 0; i < nrev; i++ {
		c := catalogue[f.R.IntN(len(catalogue))]
		sku, pname := c.SKU, c.Name
		if f.R.IntN(5) == 0 {
			sku, pname = SiteReviewSKU, "our store"
		}
		score := []int{1, 2, 3, 4, 4, 5, 5, 5, 5, 3}[f.R.IntN(10)]
		sent := float64(score-1)/4*0.8 + f.R.Float64()*0.2
		var title, body string
		switch {
		case score >= 4:
			title, body = goodTitles[f.R.IntN(len(goodTitles))], goodBodies[f.R.IntN(len(goodBodies))]
		case score == 3:
			title, body = okTitles[f.R.IntN(len(okTitles))], okBodies[f.R.IntN(len(okBodies))]
		default:
			title, body = badTitles[f.R.IntN(len(badTitles))], badBodies[f.R.IntN(len(badBodies))]
		}
		created := f.Time(now.AddDate(-1, 0, 0), 360*24*time.Hour, time.UTC)
		updated := created.Add(time.Duration(f.R.IntN(72)) * time.Hour)
		if updated.After(now) {
			updated = now
		}
		r := &Review{
			ID: s.id(), Title: title, Content: fmt.Sprintf(body, pname), Score: score,
			VotesUp: f.R.IntN(15), VotesDown: f.R.IntN(4), CreatedAt: created, UpdatedAt: updated,
			Sentiment: round3(sent), SKU: sku, Name: p.FullName(), Email: p.Email, ReviewerType: "verified_buyer",
			Deleted: f.R.IntN(20) == 0, Archived: f.R.IntN(8) == 0, Comments: []Comment{},
		}
		nt := 1 + f.R.IntN(3)
		for j := 0; j < nt; j++ {
			t := topicsList[f.R.IntN(len(topicsList))]
			if !contains(r.Topics, t) {
				r.Topics = append(r.Topics, t)
			}
		}
		if score <= 2 && f.R.IntN(2) == 0 {
			r.Escalated = true
			at := updated
			r.EscalatedAt = &at
		}
		s.reviews = append(s.reviews, r)
	}
	if f.R.IntN(3) == 0 {
		c := catalogue[f.R.IntN(len(catalogue))]
		created := f.Time(now.AddDate(0, -3, 0), 80*24*time.Hour, time.UTC)
		q := &Question{ID: s.id(), Content: fmt.Sprintf(questionsTx[f.R.IntN(len(questionsTx))], c.Name), SKU: c.SKU,
			Name: p.FullName(), Email: p.Email, CreatedAt: created, UpdatedAt: created, Published: true, Answers: []Comment{}}
		if f.R.IntN(3) == 0 {
			q.Escalated = true
			at := created
			q.EscalatedAt = &at
		}
		s.questions = append(s.questions, q)
	}
	sort.Slice(s.reviews, func(i, j int) bool { return s.reviews[i].ID < s.reviews[j].ID })
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "FRIEND"
	}
	return b.String()
}
