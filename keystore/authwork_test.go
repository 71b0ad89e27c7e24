package keystore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestAuthSameWork: a wrong secret for an existing key and an unknown key
// ID go through the same steps (cache compare, database lookup, row read,
// hash, compare), in Authenticate and in AuthenticateToCreate, with the key
// remembered by the cache or not. Timing then has nothing to tell.
func TestAuthSameWork(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	// Other keys around the real one, so that an unknown ID falls between
	// existing ones.
	for range 3 {
		if _, _, err := s.CreateKey(ctx, KeyParams{Name: "other"}); err != nil {
			t.Fatal(err)
		}
	}
	k, cred, err := s.CreateKey(ctx, KeyParams{Name: "real"})
	if err != nil {
		t.Fatal(err)
	}
	id, secret, _ := strings.Cut(cred, "/")
	bad := map[string]string{
		"wrong secret":                 id + "/" + strings.Repeat("A", len(secret)),
		"unknown ID":                   strings.Repeat("A", len(id)) + "/" + secret,
		"unknown ID, the key's secret": strings.Repeat("z", len(id)) + "/" + secret,
	}
	var steps []string
	s.authTrace = func(step string) { steps = append(steps, step) }
	record := func(call func(string) error, c string) []string {
		steps = nil
		if err := call(c); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("%q: %v, want ErrUnauthorized", c, err)
		}
		return steps
	}
	auth := func(c string) error { _, err := s.Authenticate(ctx, c); return err }
	toCreate := func(c string) error { _, _, err := s.AuthenticateToCreate(ctx, c); return err }
	for _, warm := range []bool{false, true} {
		if warm {
			// The key is now remembered as verified.
			if got, err := s.Authenticate(ctx, cred); err != nil || got.ID != k.ID {
				t.Fatalf("Authenticate with the right secret: %+v, %v", got, err)
			}
		}
		for _, c := range []struct {
			name string
			call func(string) error
		}{{"Authenticate", auth}, {"AuthenticateToCreate", toCreate}} {
			want := record(c.call, bad["wrong secret"])
			if !slices.Contains(want, "row") || !slices.Contains(want, "compare") {
				t.Fatalf("%s, wrong secret: steps %q lack the row read or the compare", c.name, want)
			}
			for name, b := range bad {
				if got := record(c.call, b); !slices.Equal(got, want) {
					t.Errorf("%s (key cached: %v), %s: steps %q, want those of a wrong secret %q",
						c.name, warm, name, got, want)
				}
			}
		}
	}
}
