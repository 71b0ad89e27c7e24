package component

import (
	"encoding/xml"
	"errors"
	"fmt"
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
}

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
		for _, v := range f.Values {
			vals = append(vals, textEl("value", v))
		}
		parts = append(parts, el(name("", "field"), attrs, vals...))
	}
	return el(name(nsData, "x"), []xml.Attr{attr("type", typ)}, parts...)
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
