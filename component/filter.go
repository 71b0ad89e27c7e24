package component

import (
	"bufio"
	"encoding/xml"
	"io"
	"net"
)

// nsStreams is the namespace of the stream's own elements.
const nsStreams = "http://etherx.jabber.org/streams"

// removedMarker is what streamFilter puts where it left an element out;
// readElement refuses a stanza that contains it.
const removedMarker = "<removed xmlns='" + nsRemoved + "'/>"

const nsRemoved = "urn:xmpp-invites:removed"

// streamFilter is the component's reader of the server's side of the
// stream: mellium reads through it. It parses the bytes with a decoder of
// its own and passes them on unchanged as soon as each token is complete,
// except an element in the streams namespace inside a stanza, which it
// replaces with removedMarker.
//
// mellium's stream reader treats such an element wherever it appears: a
// <stream/> is a stream restart and its end tag the end of the stream
// (past which the handler cannot read the rest of its stanza), an
// <error/> is a stream error that Serve sends back to the server, anything
// else an unknown stream element. Each ends the link, and Prosody and
// ejabberd forward such elements in any user's stanza. Elements of the
// stream itself (features, errors) are direct children of the stream and
// pass.
//
// Read is called by one goroutine at a time, as a decoder does.
type streamFilter struct {
	src   *bufio.Reader
	d     *xml.Decoder
	rec   []byte // bytes the decoder has read, from offset base on
	base  int64
	out   []byte // bytes for the next Read
	depth int    // open elements; the stream itself is 1, a stanza 2
	skip  int    // depth of the element being left out; 0 when none
	err   error  // the decoder's error, returned after out is drained
}

func newStreamFilter(r io.Reader) *streamFilter {
	f := &streamFilter{src: bufio.NewReader(r)}
	f.d = xml.NewDecoder(filterSource{f})
	return f
}

// filterSource is what the filter's decoder reads: the connection, with
// every byte recorded until the filter knows the token it belongs to.
type filterSource struct{ f *streamFilter }

// ReadByte makes the decoder read byte by byte (it would buffer any other
// reader), so every byte it has taken is in rec.
func (s filterSource) ReadByte() (byte, error) {
	b, err := s.f.src.ReadByte()
	if err == nil {
		s.f.rec = append(s.f.rec, b)
	}
	return b, err
}

func (s filterSource) Read(p []byte) (int, error) {
	n, err := s.f.src.Read(p)
	s.f.rec = append(s.f.rec, p[:n]...)
	return n, err
}

// Read returns the filtered stream.
func (f *streamFilter) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		f.next()
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

// next reads one token and queues its bytes, the marker, or nothing.
func (f *streamFilter) next() {
	f.out = f.out[:0]
	tok, err := f.d.Token()
	if err != nil {
		// The stream is broken or ended. Whatever was read is passed on,
		// so mellium meets the same error in the same place.
		if f.skip == 0 {
			f.out = append(f.out, f.rec...)
		}
		f.rec = f.rec[:0]
		f.err = err
		return
	}
	// The decoder may have read one byte of the next token (the '<' that
	// ends character data); InputOffset says where this token ends.
	off := f.d.InputOffset()
	n := int(off - f.base)
	emit := f.skip == 0
	switch t := tok.(type) {
	case xml.StartElement:
		f.depth++
		if emit && f.depth > 2 && t.Name.Space == nsStreams {
			f.skip = f.depth
			emit = false
			f.out = append(f.out, removedMarker...)
		}
	case xml.EndElement:
		if f.skip == f.depth {
			f.skip = 0 // the end of the element left out
		}
		f.depth--
	}
	if emit {
		f.out = append(f.out, f.rec[:n]...)
	}
	f.rec = f.rec[:copy(f.rec, f.rec[n:])]
	f.base = off
}

// filteredConn is the server's connection as mellium sees it: reads go
// through a streamFilter, writes straight to the connection.
type filteredConn struct {
	net.Conn
	f *streamFilter
}

func newFilteredConn(c net.Conn) filteredConn { return filteredConn{Conn: c, f: newStreamFilter(c)} }

func (c filteredConn) Read(p []byte) (int, error) { return c.f.Read(p) }
