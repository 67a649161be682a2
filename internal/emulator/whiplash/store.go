package whiplash

import (
	"cmp"
	"slices"
	"sort"
)

// orderStore keeps orders by id and two sorted views: by id (the default
// sort) and by (updated_at, id), so updated_at ranges are binary searches.
type orderStore struct {
	byID      map[int64]*Order
	all       []*Order // sorted by id
	byUpdated []*Order // sorted by (updated_at, id)
}

func newOrderStore() *orderStore { return &orderStore{byID: map[int64]*Order{}} }

func cmpUpdated(a, b *Order) int {
	if c := a.UpdatedAt.Compare(b.UpdatedAt.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func (s *orderStore) get(id int64) *Order { return s.byID[id] }

func (s *orderStore) len() int { return len(s.all) }

// put inserts o or replaces the order with the same id.
func (s *orderStore) put(o *Order) {
	id := int64(o.ID)
	if old, ok := s.byID[id]; ok {
		i, found := slices.BinarySearchFunc(s.byUpdated, old, cmpUpdated)
		if found {
			s.byUpdated = slices.Delete(s.byUpdated, i, i+1)
		}
		j, _ := slices.BinarySearchFunc(s.all, id, func(a *Order, id int64) int { return cmp.Compare(int64(a.ID), id) })
		s.all[j] = o
	} else if n := len(s.all); n == 0 || int64(s.all[n-1].ID) < id {
		s.all = append(s.all, o)
	} else {
		j, _ := slices.BinarySearchFunc(s.all, id, func(a *Order, id int64) int { return cmp.Compare(int64(a.ID), id) })
		s.all = slices.Insert(s.all, j, o)
	}
	s.byID[id] = o
	i, _ := slices.BinarySearchFunc(s.byUpdated, o, cmpUpdated)
	s.byUpdated = slices.Insert(s.byUpdated, i, o)
}

// putAll inserts many orders; into an empty store it sorts once instead of
// inserting one by one.
func (s *orderStore) putAll(os []*Order) {
	if len(s.all) > 0 {
		for _, o := range os {
			s.put(o)
		}
		return
	}
	s.all = slices.Clone(os)
	slices.SortFunc(s.all, func(a, b *Order) int { return cmp.Compare(a.ID, b.ID) })
	s.all = slices.CompactFunc(s.all, func(a, b *Order) bool { return a.ID == b.ID })
	for _, o := range s.all {
		s.byID[int64(o.ID)] = o
	}
	s.byUpdated = slices.Clone(s.all)
	slices.SortFunc(s.byUpdated, cmpUpdated)
}

// updatedRange returns the sub-slice of byUpdated within the bounds (nil
// bound: open). loIncl/hiIncl say whether the bound itself is included.
func (s *orderStore) updatedRange(b timeBounds) []*Order {
	lo, hi := 0, len(s.byUpdated)
	if b.hasLo {
		lo = sort.Search(len(s.byUpdated), func(i int) bool {
			c := s.byUpdated[i].UpdatedAt.Compare(b.lo)
			return c > 0 || (c == 0 && b.loIncl)
		})
	}
	if b.hasHi {
		hi = sort.Search(len(s.byUpdated), func(i int) bool {
			c := s.byUpdated[i].UpdatedAt.Compare(b.hi)
			return c > 0 || (c == 0 && !b.hiIncl)
		})
	}
	if hi < lo {
		hi = lo
	}
	return s.byUpdated[lo:hi]
}
