package jsonx_test

import (
	"math"
	"strconv"
	"testing"

	"switchyard/internal/jsonx"
)

// FuzzIntFloat: Int and Float never panic, and what they accept is
// consistent: a whole number Int reads is the number Float reads (within
// float precision), and neither yields NaN or ±Inf.
func FuzzIntFloat(f *testing.F) {
	for _, s := range []string{`3`, `"3"`, `" 42 "`, `3.9`, `"-7.5"`, `3e2`, `""`, `null`, `9007199254740993`,
		`"abc"`, `{}`, `[1]`, `true`, `"NaN"`, `"1e400"`, ``, `"\u0031"`, `"`, `-0`, `1e19`, `-9223372036854775808`,
		`"Inf"`, `0x10`, `" "`, `"null"`, `1_000`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ierr := jsonx.Int(b)
		v, valid, ferr := jsonx.Float(b)
		if ferr == nil && valid && (math.IsNaN(v) || math.IsInf(v, 0)) {
			t.Fatalf("Float(%q) = %v", b, v)
		}
		if ferr != nil && (valid || v != 0) {
			t.Fatalf("Float(%q) failed but returned %v valid=%v", b, v, valid)
		}
		if ierr != nil && n != 0 {
			t.Fatalf("Int(%q) failed but returned %d", b, n)
		}
		if ierr == nil && ferr == nil && valid && math.Abs(v) < 1<<53 {
			if want := int64(v); n != want {
				t.Fatalf("Int(%q) = %d, Float says %v", b, n, v)
			}
		}
		// A number Int reads is written back the same way.
		if ierr == nil {
			if back, err := jsonx.Int([]byte(strconv.FormatInt(n, 10))); err != nil || back != n {
				t.Fatalf("Int(%d) round trip = %d, %v", n, back, err)
			}
		}
	})
}
