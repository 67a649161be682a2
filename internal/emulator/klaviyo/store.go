package klaviyo

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"time"
)

// account is one Klaviyo account and everything in it.
type account struct {
	id, name string
	keys     []string

	profiles   map[string]*profile
	profOrder  []string
	byEmail    map[string]string // lower-cased email → profile id
	byPhone    map[string]string
	byExternal map[string]string

	lists     map[string]*list
	listOrder []string

	metrics     map[string]*metric // by name
	metricOrder []string

	events    []*event
	dedup     map[string]string // dedup key → event id
	dupEvents int

	importJobs  map[string]*importJob
	importOrder []string
	eventJobs   []*EventBulkJobState
}

// profileScalars are the string attributes stored as they are sent.
var profileScalars = []string{"email", "phone_number", "external_id", "first_name", "last_name", "organization", "locale", "title", "image"}

// locationKeys are the documented ProfileLocation fields.
var locationKeys = []string{"address1", "address2", "city", "country", "latitude", "longitude", "region", "zip", "timezone", "ip"}

type profile struct {
	id         string
	attrs      map[string]string
	location   map[string]any
	properties map[string]any
	created    time.Time
	updated    time.Time
	lastEvent  time.Time
}

type list struct {
	id, name, optIn  string
	created, updated time.Time
	members          map[string]time.Time // profile id → added
}

type metric struct {
	id, name string
	created  time.Time
}

type event struct {
	EventState
}

func (e *Emulator) addAccountLocked(id, name, key string) *account {
	a := &account{
		id: id, name: name, keys: []string{key},
		profiles: map[string]*profile{}, byEmail: map[string]string{}, byPhone: map[string]string{}, byExternal: map[string]string{},
		lists: map[string]*list{}, metrics: map[string]*metric{}, dedup: map[string]string{},
		importJobs: map[string]*importJob{},
	}
	e.accounts[id] = a
	e.acctOrder = append(e.acctOrder, id)
	e.keys[key] = id
	return a
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// ulidLocked returns a ULID-shaped id (26 Crockford characters: 48-bit
// millisecond time, 80 seeded random bits), as Klaviyo's profile and job ids.
func (e *Emulator) ulidLocked(t time.Time) string {
	var b [26]byte
	ms := uint64(t.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	for i := 10; i < 26; i++ {
		b[i] = crockford[e.rng.UintN(32)]
	}
	return string(b[:])
}

// shortIDLocked returns an n-character alphanumeric id (list, metric,
// account ids look like "Y6nRLr").
func (e *Emulator) shortIDLocked(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[e.rng.UintN(uint(len(alnum)))]
	}
	return string(b)
}

var (
	emailRE = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	phoneRE = regexp.MustCompile(`^\+[1-9]\d{6,14}$`)
)

// identifiers returns the identifier values (non-empty strings) in attrs.
func identifiers(attrs map[string]any) (email, phone, external string) {
	email, _ = attrs["email"].(string)
	phone, _ = attrs["phone_number"].(string)
	external, _ = attrs["external_id"].(string)
	return strings.TrimSpace(email), strings.TrimSpace(phone), strings.TrimSpace(external)
}

func hasIdentifier(attrs map[string]any) bool {
	em, ph, ex := identifiers(attrs)
	if em != "" || ph != "" || ex != "" {
		return true
	}
	for _, k := range []string{"_kx", "anonymous_id"} {
		if s, _ := attrs[k].(string); s != "" {
			return true
		}
	}
	return false
}

// checkIdentifiers validates the email and phone formats.
func checkIdentifiers(attrs map[string]any, ptr string) error {
	em, ph, _ := identifiers(attrs)
	if em != "" && !emailRE.MatchString(em) {
		return invalid(ptr+"/email", "Invalid email address %q.", em)
	}
	if ph != "" && !phoneRE.MatchString(ph) {
		return invalid(ptr+"/phone_number", "Invalid phone number %q: expected E.164 format such as +15005550006.", ph)
	}
	return nil
}

// resolve returns the distinct profiles matched by the identifiers in attrs,
// in the order email, phone number, external id.
func (a *account) resolve(attrs map[string]any) []string {
	em, ph, ex := identifiers(attrs)
	var out []string
	add := func(id string, ok bool) {
		if !ok {
			return
		}
		for _, x := range out {
			if x == id {
				return
			}
		}
		out = append(out, id)
	}
	if em != "" {
		id, ok := a.byEmail[strings.ToLower(em)]
		add(id, ok)
	}
	if ph != "" {
		id, ok := a.byPhone[ph]
		add(id, ok)
	}
	if ex != "" {
		id, ok := a.byExternal[ex]
		add(id, ok)
	}
	return out
}

func (e *Emulator) newProfileLocked(a *account, now time.Time) *profile {
	p := &profile{id: e.ulidLocked(now), attrs: map[string]string{}, location: map[string]any{}, properties: map[string]any{}, created: now, updated: now}
	a.profiles[p.id] = p
	a.profOrder = append(a.profOrder, p.id)
	return p
}

// apply writes attributes onto p: null clears, absent keeps. location and
// properties merge key by key (a null key clears it; a null object clears
// all). meta.patch_properties append/unappend/unset are applied after.
func (a *account) apply(p *profile, attrs, meta map[string]any, now time.Time) {
	a.unindex(p)
	for k, v := range attrs {
		switch k {
		case "location":
			m, ok := v.(map[string]any)
			if !ok {
				p.location = map[string]any{}
				continue
			}
			for lk, lv := range m {
				if lv == nil {
					delete(p.location, lk)
				} else {
					p.location[lk] = lv
				}
			}
		case "properties":
			m, ok := v.(map[string]any)
			if !ok {
				p.properties = map[string]any{}
				continue
			}
			for pk, pv := range m {
				if pv == nil {
					delete(p.properties, pk)
				} else {
					p.properties[pk] = pv
				}
			}
		case "_kx", "anonymous_id", "meta":
			// identifiers we do not store
		default:
			s, ok := v.(string)
			if v == nil || (ok && s == "") {
				delete(p.attrs, k)
			} else if ok {
				p.attrs[k] = s
			}
		}
	}
	if pp, ok := meta["patch_properties"].(map[string]any); ok {
		patchProperties(p.properties, pp)
	}
	p.updated = now
	a.index(p)
}

func patchProperties(props, pp map[string]any) {
	if ap, ok := pp["append"].(map[string]any); ok {
		for k, v := range ap {
			cur, _ := props[k].([]any)
			if props[k] != nil && cur == nil {
				cur = []any{props[k]}
			}
			if vs, ok := v.([]any); ok {
				cur = append(cur, vs...)
			} else {
				cur = append(cur, v)
			}
			props[k] = cur
		}
	}
	if up, ok := pp["unappend"].(map[string]any); ok {
		for k, v := range up {
			cur, ok := props[k].([]any)
			if !ok {
				continue
			}
			out := cur[:0:0]
			for _, x := range cur {
				if !jsonEqual(x, v) {
					out = append(out, x)
				}
			}
			props[k] = out
		}
	}
	switch un := pp["unset"].(type) {
	case string:
		delete(props, un)
	case []any:
		for _, k := range un {
			if s, ok := k.(string); ok {
				delete(props, s)
			}
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func (a *account) unindex(p *profile) {
	if v := p.attrs["email"]; v != "" && a.byEmail[strings.ToLower(v)] == p.id {
		delete(a.byEmail, strings.ToLower(v))
	}
	if v := p.attrs["phone_number"]; v != "" && a.byPhone[v] == p.id {
		delete(a.byPhone, v)
	}
	if v := p.attrs["external_id"]; v != "" && a.byExternal[v] == p.id {
		delete(a.byExternal, v)
	}
}

func (a *account) index(p *profile) {
	if v := p.attrs["email"]; v != "" {
		a.byEmail[strings.ToLower(v)] = p.id
	}
	if v := p.attrs["phone_number"]; v != "" {
		a.byPhone[v] = p.id
	}
	if v := p.attrs["external_id"]; v != "" {
		a.byExternal[v] = p.id
	}
}

// listsOf returns the ids of the lists p belongs to, sorted.
func (a *account) listsOf(id string) []string {
	var out []string
	for lid, l := range a.lists {
		if _, ok := l.members[id]; ok {
			out = append(out, lid)
		}
	}
	sort.Strings(out)
	return out
}

// metricLocked returns the metric with the name, creating it.
func (e *Emulator) metricLocked(a *account, name string, now time.Time) *metric {
	if m, ok := a.metrics[name]; ok {
		return m
	}
	m := &metric{id: e.shortIDLocked(6), name: name, created: now}
	a.metrics[name] = m
	a.metricOrder = append(a.metricOrder, name)
	return m
}
