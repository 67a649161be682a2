package shopify

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"switchyard/internal/emulator/emukit"
)

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

var variants = []string{"", "S", "M", "L", "XL"}

// orderSpec is an order before ids are assigned.
type orderSpec struct {
	person    emukit.Person
	created   time.Time
	finalSale int // number of lines to upgrade (0 = none)
	lines     []LineItem
}

func genLines(f *emukit.Fake) []LineItem {
	n := 1 + f.R.IntN(3)
	var out []LineItem
	for i := 0; i < n; i++ {
		sku, name := f.Product()
		out = append(out, LineItem{
			ProductID: int64(8000000000 + hash64(sku)%1000000), VariantID: int64(4000000000 + hash64(sku)%1000000),
			Title: name, VariantTitle: variants[f.R.IntN(len(variants))], SKU: sku, Quantity: 1 + f.R.IntN(2),
			Price: fmt.Sprintf("%d.99", 9+f.R.IntN(60)),
		})
	}
	return out
}

// generate creates the shop's fixtures: random customers first (ids in
// creation order), then the seeded emails.
func (s *shopState) generate(seed uint64, now time.Time, customers int, emails []string) {
	now = now.UTC().Truncate(time.Second)
	f := emukit.NewFake(seed ^ hash64(s.domain))
	var specs []orderSpec
	for i := 0; i < customers; i++ {
		p := f.Person(i + 1)
		n := 1 + f.R.IntN(4)
		for j := 0; j < n; j++ {
			sp := orderSpec{person: p, created: f.Time(now.AddDate(0, 0, -90), 90*24*time.Hour, time.UTC), lines: genLines(f)}
			if f.R.IntN(100) < 35 {
				sp.finalSale = 1 + f.R.IntN(len(sp.lines))
			}
			specs = append(specs, sp)
		}
	}
	s.add(f, specs, now)
	for _, em := range emails {
		s.seedEmail(seed, now, em)
	}
}

// seedEmail adds the guaranteed orders of one email, deterministic by
// (seed, email): a final-sale order 70–85 days old, one 10–50 days old, a
// normal order in the last 30 days and 0–2 random ones.
func (s *shopState) seedEmail(seed uint64, now time.Time, email string) {
	now = now.UTC().Truncate(time.Second)
	f := emukit.NewFake(seed ^ hash64(strings.ToLower(strings.TrimSpace(email))))
	p := f.Person(1)
	p.Email = strings.TrimSpace(email)
	specs := []orderSpec{
		{person: p, created: f.Time(now.AddDate(0, 0, -85), 15*24*time.Hour, time.UTC), lines: genLines(f), finalSale: 1},
		{person: p, created: f.Time(now.AddDate(0, 0, -50), 40*24*time.Hour, time.UTC), lines: genLines(f), finalSale: 1},
		{person: p, created: f.Time(now.AddDate(0, 0, -30), 29*24*time.Hour, time.UTC), lines: genLines(f)},
	}
	for n := f.R.IntN(3); n > 0; n-- {
		sp := orderSpec{person: p, created: f.Time(now.AddDate(0, 0, -90), 90*24*time.Hour, time.UTC), lines: genLines(f)}
		if f.R.IntN(2) == 0 {
			sp.finalSale = 1 + f.R.IntN(len(sp.lines))
		}
		specs = append(specs, sp)
	}
	s.add(f, specs, now)
}

func (s *shopState) customer(p emukit.Person) Customer {
	key := strings.ToLower(p.Email)
	if c, ok := s.customers[key]; ok {
		return c
	}
	s.nextCust++
	c := Customer{ID: s.nextCust, Email: p.Email, FirstName: p.FirstName, LastName: p.LastName}
	s.customers[key] = c
	return c
}

func (s *shopState) add(f *emukit.Fake, specs []orderSpec, now time.Time) {
	sort.SliceStable(specs, func(i, j int) bool { return specs[i].created.Before(specs[j].created) })
	for _, sp := range specs {
		o := s.newOrder(sp.person, sp.created, sp.lines, now)
		if sp.finalSale > 0 {
			var ids []int64
			for i := 0; i < sp.finalSale && i < len(o.LineItems); i++ {
				ids = append(ids, o.LineItems[i].ID)
			}
			at := sp.created.Add(time.Duration(24+f.R.IntN(48)) * time.Hour)
			if at.After(now) {
				at = now
			}
			upgrade(o, ids, at, fmt.Sprintf("TOGETHER-%04d", f.R.IntN(10000)))
		}
		s.orders = append(s.orders, o)
	}
}

func (s *shopState) newOrder(p emukit.Person, created time.Time, lines []LineItem, now time.Time) *Order {
	s.nextOrder++
	s.nextNum++
	o := &Order{ID: s.nextOrder, Number: s.nextNum, Email: p.Email, CreatedAt: created, UpdatedAt: created, ProcessedAt: created,
		FinancialStatus: "PAID", FulfillmentStatus: "UNFULFILLED", Currency: "USD", Customer: s.customer(p),
		Tags: []string{}, NoteAttributes: []Attribute{}}
	if now.Sub(created) > 5*24*time.Hour {
		o.FulfillmentStatus = "FULFILLED"
	}
	for i := range lines {
		li := lines[i]
		s.nextLine++
		li.ID = s.nextLine
		if li.Properties == nil {
			li.Properties = []Attribute{}
		}
		o.LineItems = append(o.LineItems, &li)
	}
	return o
}

// upgrade marks lines final sale as the Together app does (assumption).
func upgrade(o *Order, lineIDs []int64, at time.Time, code string) {
	want := map[int64]bool{}
	for _, id := range lineIDs {
		want[id] = true
	}
	for _, li := range o.LineItems {
		if (len(want) > 0 && !want[li.ID]) || li.FinalSale() {
			continue
		}
		li.Properties = append(li.Properties,
			Attribute{Key: FinalSaleKey, Value: "true"},
			Attribute{Key: UpgradedAtKey, Value: at.UTC().Format(time.RFC3339)},
			Attribute{Key: DiscountCodeKey, Value: code})
	}
	if !hasTag(o.Tags, FinalSaleTag) {
		o.Tags = append(o.Tags, FinalSaleTag)
	}
	if at.After(o.UpdatedAt) {
		o.UpdatedAt = at
	}
}

func emukitPerson(email, first, last string) emukit.Person {
	if first == "" {
		first, _, _ = strings.Cut(email, "@")
	}
	return emukit.Person{Email: email, FirstName: first, LastName: last}
}
