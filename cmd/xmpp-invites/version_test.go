package main

import (
	"runtime/debug"
	"testing"
)

func TestResolveVersion(t *testing.T) {
	info := func(v string, ok bool) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			if !ok {
				return nil, false
			}
			return &debug.BuildInfo{Main: debug.Module{Path: "xmpp-invites", Version: v}}, true
		}
	}
	for _, tc := range []struct {
		name    string
		stamped string
		info    func() (*debug.BuildInfo, bool)
		want    string
	}{
		{"stamped wins", "1.0.0", info("v1.0.1", true), "1.0.0"},
		{"module version", "", info("v1.0.0", true), "1.0.0"},
		{"pseudo-version", "", info("v0.0.0-20260101000000-0123456789ab+dirty", true), "0.0.0-20260101000000-0123456789ab+dirty"},
		{"local build", "", info("(devel)", true), "devel"},
		{"no build info", "", info("", false), "devel"},
	} {
		if got := resolveVersion(tc.stamped, tc.info); got != tc.want {
			t.Errorf("%s: resolveVersion = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	e := newCLIEnv(t)
	if out := e.ok("--version"); out != "xmpp-invites version "+version+"\n" || version == "" {
		t.Fatalf("--version printed %q (version %q)", out, version)
	}
}
