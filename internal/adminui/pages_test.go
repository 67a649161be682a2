package adminui

import (
	"net/http/httptest"
	"testing"
)

func TestPaging(t *testing.T) {
	all := make([]int, 120)
	for i := range all {
		all[i] = i
	}
	rows, p := pageOf(httptest.NewRequest("GET", "/ui/merchants?x=1", nil), "page", all)
	if len(rows) != 50 || rows[0] != 0 || p.Page != 1 || p.Pages != 3 || p.Prev != "" || p.Next != "/ui/merchants?page=2&x=1" {
		t.Errorf("first page: %d rows, %+v", len(rows), p)
	}
	rows, p = pageOf(httptest.NewRequest("GET", "/ui/merchants?page=3", nil), "page", all)
	if len(rows) != 20 || rows[0] != 100 || p.Next != "" || p.Prev != "/ui/merchants?page=2" {
		t.Errorf("last page: %d rows, %+v", len(rows), p)
	}
	if _, p = pageOf(httptest.NewRequest("GET", "/ui/merchants?page=99", nil), "page", all); p.Page != 3 {
		t.Errorf("page 99 of 3 shows page %d", p.Page)
	}
	if rows, p = pageOf(httptest.NewRequest("GET", "/ui/merchants", nil), "page", []int{}); len(rows) != 0 || p.Pages != 1 || p.Next != "" {
		t.Errorf("empty list: %+v", p)
	}

	k := keysetOf(httptest.NewRequest("GET", "/ui/m/a/events?installation=i1&before=90", nil), pageSize, 40)
	if k.First || k.Newest != "/ui/m/a/events?installation=i1" || k.Older != "/ui/m/a/events?before=40&installation=i1" {
		t.Errorf("keyset: %+v", k)
	}
	if k = keysetOf(httptest.NewRequest("GET", "/ui/m/a/events", nil), 7, 3); !k.First || k.Older != "" {
		t.Errorf("short last page: %+v", k)
	}
}
