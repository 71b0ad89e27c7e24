package httpapi

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"sync"

	"rsc.io/qr"
)

// qrQuiet is the quiet zone around a QR code, in modules; scanners need four.
const qrQuiet = 4

// qrSVG renders text as a QR code in one inline SVG element: a white square
// and a single path of one rectangle per horizontal run of dark modules, a
// few kilobytes instead of one element per module. The code stays dark on
// white in dark mode too, because that is what scanners read best.
func qrSVG(text, label string) (template.HTML, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	n := code.Size + 2*qrQuiet
	var b strings.Builder
	b.Grow(code.Size * code.Size)
	fmt.Fprintf(&b, `<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s" shape-rendering="crispEdges">`,
		n, n, template.HTMLEscapeString(label))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y := 0; y < code.Size; y++ {
		for x := 0; x < code.Size; {
			if !code.Black(x, y) {
				x++
				continue
			}
			run := 1
			for code.Black(x+run, y) {
				run++
			}
			b.WriteString("M")
			b.WriteString(strconv.Itoa(x + qrQuiet))
			b.WriteString(" ")
			b.WriteString(strconv.Itoa(y + qrQuiet))
			b.WriteString("h")
			b.WriteString(strconv.Itoa(run))
			b.WriteString("v1h-")
			b.WriteString(strconv.Itoa(run))
			b.WriteString("z")
			x += run
		}
	}
	b.WriteString(`"/></svg>`)
	// Only numbers and the escaped label went into the markup.
	return template.HTML(b.String()), nil
}

// qrCacheSize bounds the QR cache: a few kilobytes an entry.
const qrCacheSize = 1024

// qrCache keeps recently rendered QR codes: an invite link is opened
// several times (a person, their phone, link previews), and encoding is a
// quarter of the landing page's cost.
type qrCache struct {
	mu sync.Mutex
	m  map[string]template.HTML
}

func (c *qrCache) svg(text, label string) (template.HTML, error) {
	key := label + "\x00" + text
	c.mu.Lock()
	svg, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return svg, nil
	}
	svg, err := qrSVG(text, label)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= qrCacheSize {
		c.m = make(map[string]template.HTML, qrCacheSize)
	}
	c.m[key] = svg
	c.mu.Unlock()
	return svg, nil
}
