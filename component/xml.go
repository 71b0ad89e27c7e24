package component

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/stanza"
)

// Namespaces used on the wire.
const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nsCommands   = "http://jabber.org/protocol/commands"
	nsData       = "jabber:x:data"
	nsPing       = "urn:xmpp:ping"
	nsVersion    = "jabber:iq:version"
	nsRoster     = "jabber:iq:roster"
	nsStanzas    = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsPrivilege1 = "urn:xmpp:privilege:1"
	nsPrivilege2 = "urn:xmpp:privilege:2"
	nsAdmin      = "http://jabber.org/protocol/admin"
)

// element is a generic XML element. Stanzas are small (servers cap them),
// so the component reads each one whole into a tree and works on that: no
// token stream stays open across goroutines.
type element struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []element  `xml:",any"`
	Text     string     `xml:",chardata"`
}

// Limits on one incoming stanza. The component's stanzas are shallow: the
// deepest it reads is an ad-hoc command with a data form (iq, command, x,
// field, value: 5 levels), and a chat message with XHTML-IM or other
// extensions rarely passes 15. encoding/xml refuses only at 10,000 levels;
// a stanza that deep is about 70 KB, far below the servers' stanza size
// limits. A stanza over these limits is refused as soon as it crosses
// them and read on to its end without being kept, so its cost stays
// linear in its size and its memory constant.
const (
	// maxStanzaDepth is the deepest element nesting read, the stanza
	// itself being level 1.
	maxStanzaDepth = 32
	// maxStanzaElements caps the elements of one stanza, the stanza
	// included. The largest legitimate one is the server's command list
	// (a few dozen items).
	maxStanzaElements = 4096
)

// badStanzaError reports a stanza that the component refuses to read: too
// deep, too large, or with content the stream reader rejects. The stream
// is still in sync after it: the stanza has been read to its end.
type badStanzaError struct {
	// limit: the stanza crossed maxStanzaDepth or maxStanzaElements (a
	// policy of the component) rather than carrying invalid content.
	limit   bool
	tooDeep bool // the limit crossed is maxStanzaDepth
	reason  string
}

func (e *badStanzaError) Error() string { return "unreadable stanza: " + e.reason }

// readElement reads the element that start opens from r, which yields the
// element's content and then its end element (the rest of a stanza as
// mellium hands it to a handler or a reply waiter), into a tree. It builds
// the tree without recursion and within maxStanzaDepth and
// maxStanzaElements.
//
// It returns a *badStanzaError when the element crosses a limit, holds
// streamFilter's marker for an element in the streams namespace, or the
// stream reader rejects a token inside it (mellium reports a comment, a
// processing instruction or a directive as an error after consuming it).
// It then reads on to the element's end element without keeping anything,
// so the next stanza is read from its start. Any other read error is
// returned as it is: the stream itself is broken.
func readElement(start xml.StartElement, r xml.TokenReader) (*element, error) {
	root := &element{XMLName: start.Name, Attrs: start.Attr}
	stack := []*element{root}
	text := [][]byte{nil} // character data of each open element
	elements := 1
	var bad *badStanzaError
	depth := 1 // open elements, counted on when no longer building
	for depth > 0 {
		// A reader may return the last token together with io.EOF (the
		// reply readers of mellium do), so the token comes first.
		tok, err := r.Token()
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch {
			case bad != nil:
			case t.Name.Space == nsRemoved:
				bad = &badStanzaError{reason: "an element in the streams namespace"}
			case depth > maxStanzaDepth:
				bad = &badStanzaError{limit: true, tooDeep: true, reason: fmt.Sprintf("nested deeper than %d levels", maxStanzaDepth)}
			case elements >= maxStanzaElements:
				bad = &badStanzaError{limit: true, reason: fmt.Sprintf("more than %d elements", maxStanzaElements)}
			default:
				elements++
				stack = append(stack, &element{XMLName: t.Name, Attrs: t.Attr})
				text = append(text, nil)
			}
		case xml.EndElement:
			depth--
			if bad != nil {
				break
			}
			n := len(stack) - 1
			e := stack[n]
			e.Text = string(text[n])
			stack, text = stack[:n], text[:n]
			if n > 0 {
				parent := stack[n-1]
				parent.Children = append(parent.Children, *e)
			}
		case xml.CharData:
			if bad == nil {
				text[len(text)-1] = append(text[len(text)-1], t...)
			}
		}
		switch {
		case err == nil:
		case err == io.EOF:
			if depth > 0 {
				// A stanza's reader ends after its end element. Earlier,
				// mellium's stream reader has taken a nested end tag in
				// the streams namespace for the end of the stream (which
				// streamFilter prevents): the rest cannot be reached.
				return nil, fmt.Errorf("stanza ended before its end element: %w", io.ErrUnexpectedEOF)
			}
		case rejectedToken(err):
			if bad == nil {
				bad = &badStanzaError{reason: "content the XMPP stream reader rejects"}
			}
		default:
			return nil, err
		}
	}
	if bad != nil {
		return nil, bad
	}
	return root, nil
}

// rejectedToken reports whether err is mellium's complaint about one token
// inside a stanza, which it has consumed, rather than a broken stream: a
// comment, a processing instruction or a directive. Its internal stream
// reader has no exported errors for these, so they are known by their text
// (mellium v0.22.0); a test sends each kind. (It also complains about
// elements in the streams namespace, which streamFilter keeps from it.)
func rejectedToken(err error) bool {
	switch err.Error() {
	case "disallowed XML proc inst encountered",
		"disallowed XML comment encountered",
		"disallowed XML directive encountered":
		return true
	}
	return false
}

// attr returns the value of the unqualified attribute local.
func (e *element) attr(local string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attrs {
		if a.Name.Local == local && (a.Name.Space == "" || a.Name.Space == e.XMLName.Space) {
			return a.Value
		}
	}
	return ""
}

// child returns the first child named local in namespace space ("" matches
// any namespace), or nil.
func (e *element) child(space, local string) *element {
	if e == nil {
		return nil
	}
	for i := range e.Children {
		c := &e.Children[i]
		if c.XMLName.Local == local && (space == "" || c.XMLName.Space == space) {
			return c
		}
	}
	return nil
}

// children returns the children named local in namespace space.
func (e *element) children(space, local string) []*element {
	if e == nil {
		return nil
	}
	var out []*element
	for i := range e.Children {
		c := &e.Children[i]
		if c.XMLName.Local == local && (space == "" || c.XMLName.Space == space) {
			out = append(out, c)
		}
	}
	return out
}

// payload returns the first child element, the payload of an IQ.
func (e *element) payload() *element {
	if e == nil || len(e.Children) == 0 {
		return nil
	}
	return &e.Children[0]
}

// stanzaError returns the stanza error carried by an error stanza.
func stanzaError(e *element) stanza.Error {
	se := stanza.Error{Type: stanza.Cancel, Condition: stanza.UndefinedCondition}
	errEl := e.child("", "error")
	if errEl == nil {
		return se
	}
	if t := errEl.attr("type"); t != "" {
		se.Type = stanza.ErrorType(t)
	}
	for _, c := range errEl.Children {
		if c.XMLName.Space != nsStanzas {
			continue
		}
		if c.XMLName.Local == "text" {
			if txt := strings.TrimSpace(c.Text); txt != "" {
				se.Text = map[string]string{"": txt}
			}
			continue
		}
		se.Condition = stanza.Condition(c.XMLName.Local)
	}
	return se
}

// describe prints a stanza error with its condition and text, for logs and
// wrapped errors (stanza.Error.Error drops the condition when there is a
// text).
func describe(se stanza.Error) string {
	if t := se.Text[""]; t != "" {
		return fmt.Sprintf("%s (%s)", se.Condition, t)
	}
	return string(se.Condition)
}

// isCondition reports whether err is a stanza error with condition cond.
func isCondition(err error, cond stanza.Condition) bool {
	var se stanza.Error
	return errors.As(err, &se) && se.Condition == cond
}

// Builders for outgoing XML. Each returns a fresh, single-use reader.

func name(space, local string) xml.Name { return xml.Name{Space: space, Local: local} }

func attr(local, value string) xml.Attr { return xml.Attr{Name: xml.Name{Local: local}, Value: value} }

// el returns the element n with attributes and children. Children should
// leave their namespace empty to inherit it.
func el(n xml.Name, attrs []xml.Attr, children ...xml.TokenReader) xml.TokenReader {
	return xmlstream.Wrap(xmlstream.MultiReader(children...), xml.StartElement{Name: n, Attr: attrs})
}

// text returns character data.
func text(s string) xml.TokenReader { return xmlstream.Token(xml.CharData(s)) }

// textEl returns <local>s</local> in the parent's namespace.
func textEl(local, s string) xml.TokenReader { return el(name("", local), nil, text(s)) }

// formField is one field of a data form.
type formField struct {
	Var, Type, Label string
	Values           []string
	Options          []formOption // list-single choices
	Required         bool
}

// formOption is one choice of a list field.
type formOption struct{ Label, Value string }

// dataForm returns <x xmlns='jabber:x:data' type=typ> with a title (may be
// empty) and fields.
func dataForm(typ, title string, fields ...formField) xml.TokenReader {
	var parts []xml.TokenReader
	if title != "" {
		parts = append(parts, textEl("title", title))
	}
	for _, f := range fields {
		attrs := []xml.Attr{attr("var", f.Var)}
		if f.Type != "" {
			attrs = append(attrs, attr("type", f.Type))
		}
		if f.Label != "" {
			attrs = append(attrs, attr("label", f.Label))
		}
		var vals []xml.TokenReader
		if f.Required {
			vals = append(vals, el(name("", "required"), nil))
		}
		for _, v := range f.Values {
			vals = append(vals, textEl("value", v))
		}
		for _, o := range f.Options {
			vals = append(vals, el(name("", "option"), []xml.Attr{attr("label", o.Label)}, textEl("value", o.Value)))
		}
		parts = append(parts, el(name("", "field"), attrs, vals...))
	}
	return el(name(nsData, "x"), []xml.Attr{attr("type", typ)}, parts...)
}

// reportForm returns a result form listing rows under the columns cols
// (XEP-0004 <reported/> and <item/>s): each row has one value per column.
func reportForm(title string, cols []formField, rows [][]string) xml.TokenReader {
	var parts []xml.TokenReader
	if title != "" {
		parts = append(parts, textEl("title", title))
	}
	var reported []xml.TokenReader
	for _, c := range cols {
		reported = append(reported, el(name("", "field"), []xml.Attr{attr("var", c.Var), attr("label", c.Label), attr("type", "text-single")}))
	}
	parts = append(parts, el(name("", "reported"), nil, reported...))
	for _, row := range rows {
		var fields []xml.TokenReader
		for i, v := range row {
			fields = append(fields, el(name("", "field"), []xml.Attr{attr("var", cols[i].Var)}, textEl("value", v)))
		}
		parts = append(parts, el(name("", "item"), nil, fields...))
	}
	return el(name(nsData, "x"), []xml.Attr{attr("type", "result")}, parts...)
}

// formValues returns the values of field v in a data form element.
func formValues(x *element, v string) []string {
	for _, f := range x.children("", "field") {
		if f.attr("var") != v {
			continue
		}
		var out []string
		for _, val := range f.children("", "value") {
			out = append(out, val.Text)
		}
		return out
	}
	return nil
}
