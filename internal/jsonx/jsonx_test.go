package jsonx_test

import (
	"testing"

	"switchyard/internal/jsonx"
)

func TestInt(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{`3`: 3, `"3"`: 3, `" 42 "`: 42, `3.9`: 3, `"-7.5"`: -7, `3e2`: 300, `""`: 0, `null`: 0, `9007199254740993`: 9007199254740993} {
		got, err := jsonx.Int([]byte(in))
		if err != nil || got != want {
			t.Errorf("Int(%s) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{`"abc"`, `{}`, `[1]`, `true`, `"NaN"`, `"1e400"`, ``} {
		if got, err := jsonx.Int([]byte(in)); err == nil {
			t.Errorf("Int(%s) = %d, want an error", in, got)
		}
	}
}

func TestFloat(t *testing.T) {
	t.Parallel()
	if v, ok, err := jsonx.Float([]byte(`"4.5"`)); v != 4.5 || !ok || err != nil {
		t.Errorf("Float(\"4.5\") = %v %v %v", v, ok, err)
	}
	if _, ok, err := jsonx.Float([]byte(`null`)); ok || err != nil {
		t.Errorf("Float(null) valid=%v err=%v", ok, err)
	}
	if _, _, err := jsonx.Float([]byte(`"x"`)); err == nil {
		t.Error("Float(\"x\") has no error")
	}
}
