package bench

import "testing"

func TestWindowFloor(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		n, burst, steady int
		want             float64
	}{
		{0, 10, 150, 0},
		{1, 10, 150, 0},
		{10, 10, 150, 0},
		{11, 10, 150, 1},
		{150, 10, 150, 14},
		{151, 10, 150, 60},
		{200, 10, 150, 64},
		{301, 10, 150, 120},
	} {
		if got := windowFloor(tt.n, tt.burst, tt.steady); got != tt.want {
			t.Errorf("windowFloor(%d, %d, %d) = %v, want %v", tt.n, tt.burst, tt.steady, got, tt.want)
		}
	}
}
