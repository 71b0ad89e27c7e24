package component

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

const testHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' " +
	"xmlns:stream='http://etherx.jabber.org/streams' from='invites.example.test' id='s1'>"

// filterAll runs in through a streamFilter, reading one byte at a time.
func filterAll(in string) (string, error) {
	out, err := io.ReadAll(iotest.OneByteReader(newStreamFilter(strings.NewReader(in))))
	return string(out), err
}

func TestStreamFilter(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"stanzas pass unchanged",
			testHeader + "<handshake/> <stream:features><x/></stream:features>" +
				"<message from='a@example.test' to='invites.example.test'><body>a &amp; b &lt; <![CDATA[<c>]]> \u00e9</body>" +
				"<x xmlns='urn:x' xmlns:p='urn:p'><p:y a=\"1\"/></x></message>\n<iq type='get' id='1'/>" +
				"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
			""},
		{"a nested stream with the default namespace",
			testHeader + "<message><x><stream xmlns='http://etherx.jabber.org/streams'/></x><body>b</body></message><iq/></stream:stream>",
			testHeader + "<message><x>" + removedMarker + "</x><body>b</body></message><iq/></stream:stream>"},
		{"the header's prefix, with content",
			testHeader + "<iq><stream:error><stream:stream><a>t</a></stream:stream></stream:error><q/></iq></stream:stream>",
			testHeader + "<iq>" + removedMarker + "<q/></iq></stream:stream>"},
		{"a prefix of its own, twice",
			testHeader + "<message xmlns:s='http://etherx.jabber.org/streams'><s:features/>x<s:stream>y</s:stream></message></stream:stream>",
			testHeader + "<message xmlns:s='http://etherx.jabber.org/streams'>" + removedMarker + "x" + removedMarker + "</message></stream:stream>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want == "" {
				want = tc.in
			}
			got, err := filterAll(tc.in)
			if err != nil && err != io.EOF {
				t.Fatalf("filter: %v", err)
			}
			if got != want {
				t.Errorf("filtered\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// A broken stream gives the decoder's error after the bytes read.
func TestStreamFilterError(t *testing.T) {
	got, err := filterAll(testHeader + "<message></iq>")
	var se *xml.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v, want a syntax error", err)
	}
	if got != testHeader+"<message></iq>" {
		t.Errorf("passed on %q", got)
	}
}

// FuzzStreamFilter checks that the filter passes every stream unchanged
// but for elements in the streams namespace inside stanzas, which it
// replaces with the marker: the output's tokens are the input's with those
// subtrees replaced.
func FuzzStreamFilter(f *testing.F) {
	for _, s := range []string{
		"<message><body>hi</body></message>",
		"<iq><stream:stream/></iq>",
		"<iq><a xmlns='http://etherx.jabber.org/streams'><b/>t</a>u</iq>",
		"<stream:features/><presence/> ",
		"<m xmlns:s='http://etherx.jabber.org/streams'><s:x><s:y/></s:x></m>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		in := testHeader + body + "</stream:stream>"
		want, err := expectedTokens(in)
		if err != nil {
			return // not a well-formed stream: the server never sends one
		}
		out, err := filterAll(in)
		if err != nil && err != io.EOF {
			t.Fatalf("filter: %v on a stream the decoder reads", err)
		}
		got, err := expectedTokens(out)
		if err != nil {
			t.Fatalf("filtered stream %q does not parse: %v", out, err)
		}
		if got != want {
			t.Fatalf("tokens of the filtered stream\n%s\nwant\n%s", got, want)
		}
	})
}

// expectedTokens prints the tokens of a stream, with every element in the
// streams namespace inside a stanza, and the marker, printed as the marker.
func expectedTokens(s string) (string, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	var b bytes.Buffer
	depth, skip := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if skip == 0 && depth > 2 && (t.Name.Space == nsStreams || t.Name.Space == nsRemoved) {
				skip = depth
				b.WriteString("[removed]")
			}
		case xml.EndElement:
			if skip == depth {
				skip = 0
				depth--
				continue
			}
			depth--
		}
		if skip == 0 {
			fmt.Fprintf(&b, "%q\n", fmtToken(tok))
		}
	}
}

func fmtToken(tok xml.Token) string {
	switch t := tok.(type) {
	case xml.CharData:
		return "text:" + string(t)
	case xml.StartElement:
		return fmt.Sprintf("start:%s %s %v", t.Name.Space, t.Name.Local, t.Attr)
	case xml.EndElement:
		return "end:" + t.Name.Space + " " + t.Name.Local
	case xml.Comment:
		return "comment:" + string(t)
	case xml.ProcInst:
		return "pi:" + t.Target + " " + string(t.Inst)
	case xml.Directive:
		return "directive:" + string(t)
	}
	return "?"
}

// BenchmarkStreamFilter measures what the filter adds to reading the
// server's stream: the decoder alone against the decoder behind the filter,
// on command replies like those of XEP-0133 (MB/s and ns per stanza).
func BenchmarkStreamFilter(b *testing.B) {
	stanza := "<iq type='result' from='example.test' to='invites.example.test' id='0123456789abcdef' xml:lang='en'>" +
		"<command xmlns='http://jabber.org/protocol/commands' node='http://jabber.org/protocol/admin#add-user' " +
		"sessionid='2026-12-04T18:30:55.597Z' status='completed'><note type='info'>Account successfully created</note>" +
		"<x xmlns='jabber:x:data' type='result'><field var='accountjid'><value>user@example.test</value></field></x></command></iq>"
	const n = 1000
	stream := testHeader + strings.Repeat(stanza, n) + "</stream:stream>"
	for _, tc := range []struct {
		name string
		r    func() io.Reader
	}{
		{"decoder", func() io.Reader { return strings.NewReader(stream) }},
		{"filter+decoder", func() io.Reader { return newStreamFilter(strings.NewReader(stream)) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(stream)))
			for b.Loop() {
				d := xml.NewDecoder(tc.r())
				for {
					if _, err := d.Token(); err == io.EOF {
						break
					} else if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/stanza")
		})
	}
}
