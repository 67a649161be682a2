package emukit

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Fake generates realistic, deterministic fixture data (names, emails,
// addresses, phones, SKUs) from a seed. Not safe for concurrent use.
type Fake struct {
	R *rand.Rand
}

// NewFake returns a generator seeded with seed.
func NewFake(seed uint64) *Fake {
	return &Fake{R: rand.New(rand.NewPCG(seed, 0x5eed))}
}

var (
	firstNames = []string{"Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas", "Mia", "Mateo", "Amelia", "Benjamin", "Harper", "Theo", "Evelyn", "Henry", "Camila", "Jack", "Aaliyah", "Omar", "Priya", "Wei", "Sofía", "Chloé", "Zoë", "Jürgen", "Siobhan", "Kwame"}
	lastNames  = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Nguyen", "O'Brien", "Patel", "Kim", "Müller", "Okafor", "Rossi", "Dubois", "Kowalski"}
	streets    = []string{"Maple Ave", "Oak St", "Pine Rd", "Cedar Ln", "Elm St", "Washington Blvd", "Lake Shore Dr", "Sunset Blvd", "Main St", "Highland Ave", "Park Pl", "River Rd", "Hillcrest Dr", "Broadway", "Mission St"}
	places     = []struct{ City, State, Zip string }{
		{"Brooklyn", "NY", "11201"}, {"Austin", "TX", "78701"}, {"Portland", "OR", "97205"}, {"Denver", "CO", "80202"},
		{"Chicago", "IL", "60611"}, {"Atlanta", "GA", "30303"}, {"Seattle", "WA", "98101"}, {"Miami", "FL", "33131"},
		{"Boston", "MA", "02108"}, {"Phoenix", "AZ", "85004"}, {"Nashville", "TN", "37203"}, {"San Diego", "CA", "92101"},
	}
	companies = []string{"", "", "", "", "Acme Outfitters", "Northwind Traders", "Blue Heron LLC", "Globex Retail"}
	products  = []struct{ SKU, Name string }{
		{"TEE-BLK-M", "Logo Tee Black M"}, {"TEE-WHT-L", "Logo Tee White L"}, {"HOOD-GRY-M", "Zip Hoodie Grey M"},
		{"CAP-NVY", "Dad Cap Navy"}, {"MUG-12OZ", "Enamel Mug 12oz"}, {"VINYL-LP-01", "Vinyl LP"}, {"POSTER-A2", "Tour Poster A2"},
		{"SOCK-3PK", "Crew Socks 3-pack"}, {"TOTE-NAT", "Canvas Tote Natural"}, {"BEAN-BLK", "Knit Beanie Black"},
	}
	mailHosts = []string{"example.com", "example.net", "example.org", "mail.example.com"}
)

// Person is a generated end customer.
type Person struct {
	FirstName, LastName, Email, Phone, Company    string
	Address1, Address2, City, State, Zip, Country string
}

// FullName joins first and last name.
func (p Person) FullName() string { return strings.TrimSpace(p.FirstName + " " + p.LastName) }

// Person returns a new random person; n makes the email unique.
func (f *Fake) Person(n int) Person {
	fn, ln := firstNames[f.R.IntN(len(firstNames))], lastNames[f.R.IntN(len(lastNames))]
	pl := places[f.R.IntN(len(places))]
	p := Person{
		FirstName: fn, LastName: ln,
		Email:    fmt.Sprintf("%s.%s%d@%s", asciiLower(fn), asciiLower(ln), n, mailHosts[f.R.IntN(len(mailHosts))]),
		Phone:    fmt.Sprintf("+1 %03d-%03d-%04d", 200+f.R.IntN(700), 200+f.R.IntN(700), f.R.IntN(10000)),
		Company:  companies[f.R.IntN(len(companies))],
		Address1: fmt.Sprintf("%d %s", 1+f.R.IntN(9899), streets[f.R.IntN(len(streets))]),
		City:     pl.City, State: pl.State, Zip: pl.Zip, Country: "US",
	}
	if f.R.IntN(4) == 0 {
		p.Address2 = fmt.Sprintf("Apt %d", 1+f.R.IntN(40))
	}
	return p
}

// Product returns a random SKU and product name.
func (f *Fake) Product() (sku, name string) {
	p := products[f.R.IntN(len(products))]
	return p.SKU, p.Name
}

// Time returns a random time in [from, from+span) in the given zone,
// truncated to seconds.
func (f *Fake) Time(from time.Time, span time.Duration, loc *time.Location) time.Time {
	return from.Add(time.Duration(f.R.Int64N(int64(span)))).In(loc).Truncate(time.Second)
}

// Eastern is a fixed -04:00 zone (EDT) as Whiplash renders timestamps.
var Eastern = time.FixedZone("EDT", -4*3600)

func asciiLower(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r == 'ü':
			b.WriteString("u")
		case r == 'é', r == 'ë':
			b.WriteString("e")
		case r == 'ë':
			b.WriteString("e")
		}
	}
	return b.String()
}
