package workload

import "testing"

func TestSubset(t *testing.T) {
	cases := map[string]struct {
		want, have any
		ok         bool
	}{
		"nil wants nothing":                  {want: nil, have: "anything", ok: true},
		"nil against nil":                    {want: nil, have: nil, ok: true},
		"equal strings":                      {want: "a", have: "a", ok: true},
		"different strings":                  {want: "a", have: "b", ok: false},
		"string against missing":             {want: "a", have: nil, ok: false},
		"equal bools":                        {want: true, have: true, ok: true},
		"false against missing":              {want: false, have: nil, ok: false},
		"int64 against float64":              {want: int64(3), have: float64(3), ok: true},
		"float64 against int64":              {want: float64(3), have: int64(3), ok: true},
		"int against int64":                  {want: 3, have: int64(3), ok: true},
		"int32 against float64":              {want: int32(3), have: float64(3), ok: true},
		"fraction against its floor":         {want: 1.5, have: int64(1), ok: false},
		"different numbers":                  {want: int64(3), have: int64(4), ok: false},
		"number against string":              {want: int64(3), have: "3", ok: false},
		"number against missing":             {want: int64(0), have: nil, ok: false},
		"map with extra keys in have":        {want: map[string]any{"a": "1"}, have: map[string]any{"a": "1", "b": "2"}, ok: true},
		"map missing a key":                  {want: map[string]any{"a": "1", "b": "2"}, have: map[string]any{"a": "1"}, ok: false},
		"map with a nil value":               {want: map[string]any{"a": nil}, have: map[string]any{}, ok: true},
		"empty map against missing":          {want: map[string]any{}, have: nil, ok: true},
		"empty map against a string":         {want: map[string]any{}, have: "x", ok: false},
		"map against missing":                {want: map[string]any{"a": "1"}, have: nil, ok: false},
		"map against a list":                 {want: map[string]any{"a": "1"}, have: []any{"1"}, ok: false},
		"equal lists":                        {want: []any{"a", "b"}, have: []any{"a", "b"}, ok: true},
		"list order matters":                 {want: []any{"a", "b"}, have: []any{"b", "a"}, ok: false},
		"list longer in have":                {want: []any{"a"}, have: []any{"a", "b"}, ok: false},
		"list shorter in have":               {want: []any{"a", "b"}, have: []any{"a"}, ok: false},
		"empty list against missing":         {want: []any{}, have: nil, ok: true},
		"empty list against empty":           {want: []any{}, have: []any{}, ok: true},
		"empty list against a non-empty one": {want: []any{}, have: []any{"a"}, ok: false},
		"list against a map":                 {want: []any{"a"}, have: map[string]any{"0": "a"}, ok: false},
		"list of maps with defaults added": {
			want: []any{map[string]any{"port": int64(80)}},
			have: []any{map[string]any{"port": float64(80), "protocol": "TCP"}},
			ok:   true,
		},
		"list of maps with a value changed": {
			want: []any{map[string]any{"port": int64(80)}},
			have: []any{map[string]any{"port": int64(81), "protocol": "TCP"}},
			ok:   false,
		},
		"deeply nested change": {
			want: map[string]any{"a": map[string]any{"b": []any{map[string]any{"c": "x"}}}},
			have: map[string]any{"a": map[string]any{"b": []any{map[string]any{"c": "y"}}}},
			ok:   false,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := subset(tc.want, tc.have); got != tc.ok {
				t.Errorf("subset(%#v, %#v) = %v, want %v", tc.want, tc.have, got, tc.ok)
			}
		})
	}
}
