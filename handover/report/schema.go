package report

import (
	"cmp"
	"fmt"
	"html"
	"net"
	"slices"
	"strings"

	"github.com/handoverhq/handover/handover/connector"
)

// Geometry of the schéma de principe, in SVG user units.
const (
	colW      = 200 // box width
	colGap    = 90  // room for the arrows between columns
	boxH      = 40
	boxGap    = 10
	headH     = 46
	margin    = 20
	maxBoxes  = 10 // per group; the rest fold into one "+ n more" box
	labelRune = 26 // longest name printed in a box
)

// linkPalette colours the kinds of links, in the order of their names.
var linkPalette = []string{"#374151", "#0e7490", "#9d174d", "#854d0e", "#3730a3", "#166534"}

type schemaNode struct {
	col, y         int
	title, sub     string
	kind           string
	provider, more bool
	header         bool
}

type edgeRow struct {
	From, Kind, To string
	Count          int
	// Provider: the outgoing provider controls the dependency; Why is
	// what the first such link was read from.
	Provider bool
	Why      string
}

// providerColor draws the dependencies the outgoing provider controls.
const providerColor = "#c81e1e"

// schema draws the targets as groups of boxes, one box per system, and the
// inventory's links between them as arrows. Its size is linear in the
// number of systems and links: a group shows at most maxBoxes systems and
// folds the rest into one box, and equal links are drawn once.
func schema(r *Report, w words, lk looks) (string, []edgeRow) {
	type group struct {
		inv  int
		kind string
	}
	var groups []group
	for i, inv := range r.Dossier {
		groups = append(groups, group{i, dominantKind(inv.Systems, lk)})
	}
	slices.SortStableFunc(groups, func(a, b group) int { return cmp.Compare(lk.rank(a.kind), lk.rank(b.kind)) })

	var nodes []schemaNode
	colY := [3]int{margin, margin, margin}
	used := [3]bool{}
	add := func(n schemaNode) int {
		c := n.col
		if n.header && colY[c] > margin {
			colY[c] += 2 * boxGap // space between groups
		}
		n.y = colY[c]
		if n.header {
			colY[c] += headH + boxGap
		} else {
			colY[c] += boxH + boxGap
		}
		used[c] = true
		nodes = append(nodes, n)
		return len(nodes) - 1
	}
	// where maps a system name, address, host or target name to its box.
	where := map[string]int{}
	claim := func(key string, n int) {
		if key == "" {
			return
		}
		if _, ok := where[key]; !ok {
			where[key] = n
		}
	}
	type sysRef struct{ target, name string }
	boxOf := map[sysRef]int{}
	for _, g := range groups {
		inv := r.Dossier[g.inv]
		col := lk.column(g.kind)
		head := add(schemaNode{col: col, title: inv.Target, sub: inv.Type, kind: g.kind, header: true})
		claim(inv.Target, head)
		shown := len(inv.Systems)
		if shown > maxBoxes {
			shown = maxBoxes - 1
		}
		more := -1
		for si, s := range inv.Systems {
			var n int
			switch {
			case si < shown:
				n = add(schemaNode{col: col, title: s.Name, sub: s.Address, kind: s.Kind})
			case more < 0:
				more = add(schemaNode{col: col, title: w.F("schema.more", len(inv.Systems)-shown), kind: g.kind, more: true})
				n = more
			default:
				n = more
			}
			if hasProvider(s) {
				nodes[n].provider = true
			}
			boxOf[sysRef{inv.Target, s.Name}] = n
			claim(s.Name, n)
			claim(s.Address, n)
			claim(hostOf(s.Address), n)
		}
	}

	// Edges, deduplicated; unknown destinations become external boxes.
	type edgeKey struct {
		from, to int
		kind     string
		provider bool
	}
	count := map[edgeKey]int{}
	var keys []edgeKey
	extHead, extShown, extMore := -1, 0, -1
	var rows []edgeRow
	rowAt := map[[3]string]int{}
	for _, inv := range r.Dossier {
		for _, s := range inv.Systems {
			for _, l := range s.Links {
				from := boxOf[sysRef{inv.Target, s.Name}]
				to, ok := where[l.To]
				if !ok {
					to, ok = where[hostOf(l.To)]
				}
				toName := l.To
				if ok && !nodes[to].more && !nodes[to].header && nodes[to].kind != kindExternal {
					toName = nodes[to].title
				}
				if !ok {
					if extHead < 0 {
						extHead = add(schemaNode{col: 0, title: w.T("kind.external"), kind: kindExternal, header: true})
					}
					switch {
					case extShown < maxBoxes-1:
						to = add(schemaNode{col: 0, title: l.To, kind: kindExternal})
						where[l.To] = to
						extShown++
					case extMore < 0:
						extMore = add(schemaNode{col: 0, kind: kindExternal, more: true})
						to = extMore
					default:
						to = extMore
					}
				}
				k := edgeKey{from, to, l.Kind, l.Provider}
				if count[k] == 0 {
					keys = append(keys, k)
				}
				count[k]++
				rk := [3]string{inv.Target + "/" + s.Name, l.Kind, toName}
				if i, ok := rowAt[rk]; ok {
					rows[i].Count++
					rows[i].Provider = rows[i].Provider || l.Provider
				} else {
					rowAt[rk] = len(rows)
					rows = append(rows, edgeRow{From: rk[0], Kind: linkWord(r, w, l.Kind), To: toName, Count: 1, Provider: l.Provider, Why: l.Why})
				}
			}
		}
	}
	if extMore >= 0 {
		extra := 0
		for _, k := range keys {
			if k.to == extMore {
				extra += count[k]
			}
		}
		nodes[extMore].title = w.F("schema.more", extra)
	}

	var linkKinds []string
	anyProvider := false
	for _, k := range keys {
		if !slices.Contains(linkKinds, k.kind) {
			linkKinds = append(linkKinds, k.kind)
		}
		anyProvider = anyProvider || k.provider
	}
	slices.Sort(linkKinds)
	linkColor := map[string]string{}
	for i, k := range linkKinds {
		linkColor[k] = linkPalette[i%len(linkPalette)]
	}

	// Only the columns in use take room.
	colX := [3]int{}
	x := margin
	for c := range 3 {
		colX[c] = x
		if used[c] {
			x += colW + colGap*2
		}
	}
	// Arrows between boxes of one column bend out to its right.
	bendRoom := 0
	for _, k := range keys {
		if nodes[k.from].col == nodes[k.to].col {
			bendRoom = colGap
		}
	}
	width := max(x-colGap*2+margin+bendRoom, 3*colW)
	bottom := max(colY[0], colY[1], colY[2])
	legendY := bottom + boxGap*2
	legendItems := len(linkKinds)
	if anyProvider {
		legendItems++
	}
	legendLines := 1 + (legendItems+1)/2
	totalH := legendY + legendLines*22 + margin
	height := func(n schemaNode) int {
		if n.header {
			return headH
		}
		return boxH
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="schema-title" class="schema" viewBox="0 0 %d %d" width="%d" height="%d" font-family="Helvetica, Arial, sans-serif">`, width, totalH, width, totalH)
	fmt.Fprintf(&b, `<title id="schema-title">%s</title>`, esc(w.T("s2.schema")))
	b.WriteString(`<defs>`)
	for _, k := range linkKinds {
		c := linkColor[k]
		fmt.Fprintf(&b, `<marker id="arrow-%s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>`, c[1:], c)
	}
	if anyProvider {
		fmt.Fprintf(&b, `<marker id="arrow-%s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>`, providerColor[1:], providerColor)
	}
	b.WriteString(`</defs>`)
	// Group backgrounds: from each header to the group's last box.
	for i := 0; i < len(nodes); i++ {
		if !nodes[i].header {
			continue
		}
		j := i
		for j+1 < len(nodes) && !nodes[j+1].header && nodes[j+1].col == nodes[i].col {
			j++
		}
		last := nodes[j]
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="8" fill="#f6f7f9" stroke="#d9dde3"/>`, colX[nodes[i].col]-6, nodes[i].y-6, colW+12, last.y+height(last)-nodes[i].y+12)
	}
	// Arrows under the boxes.
	for _, k := range keys {
		a, z := nodes[k.from], nodes[k.to]
		ax, ay := colX[a.col], a.y+height(a)/2
		zx, zy := colX[z.col], z.y+height(z)/2
		var d string
		switch {
		case a.col < z.col:
			x1, x2 := ax+colW, zx
			d = fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", x1, ay, x1+colGap, ay, x2-colGap, zy, x2-2, zy)
		case a.col > z.col:
			x1, x2 := ax, zx+colW
			d = fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", x1, ay, x1-colGap, ay, x2+colGap, zy, x2+2, zy)
		default:
			x1 := ax + colW
			bend := x1 + min(colGap, 30+abs(zy-ay)/6)
			d = fmt.Sprintf("M%d,%d C%d,%d %d,%d %d,%d", x1, ay, bend, ay, bend, zy, x1+2, zy)
		}
		c := linkColor[k.kind]
		sw := 1.4 + min(float64(count[k]-1)*0.4, 2.5)
		if r.FormatVersion <= format2 {
			fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="%.1f" stroke-opacity="0.8" marker-end="url(#arrow-%s)"><title>%s → %s: %s (%d)</title></path>`,
				d, c, sw, c[1:], esc(a.title), esc(z.title), esc(linkWord(r, w, k.kind)), count[k])
			continue
		}
		// From format 3, an edge says what it joins, for a reader (and a
		// test) to match it with the inventory's links.
		class := "link"
		if k.provider {
			c, class = providerColor, "link provider"
		}
		fmt.Fprintf(&b, `<path class="%s" data-from="%s" data-to="%s" data-kind="%s" d="%s" fill="none" stroke="%s" stroke-width="%.1f" stroke-opacity="0.8" marker-end="url(#arrow-%s)"><title>%s → %s: %s (%d)</title></path>`,
			class, esc(a.title), esc(z.title), esc(k.kind), d, c, sw, c[1:], esc(a.title), esc(z.title), esc(linkWord(r, w, k.kind)), count[k])
	}
	// Boxes.
	for _, n := range nodes {
		bx, by := colX[n.col], n.y
		c := lk.color(n.kind)
		switch {
		case n.header:
			fmt.Fprintf(&b, `<g class="target"><rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s"/>`, bx, by, colW, headH, c)
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#fff" font-size="14" font-weight="700">%s</text>`, bx+12, by+20, esc(clip(n.title)))
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#fff" fill-opacity="0.85" font-size="11">%s</text></g>`, bx+12, by+36, esc(clip(n.sub)))
		case n.more:
			fmt.Fprintf(&b, `<g class="more"><rect x="%d" y="%d" width="%d" height="%d" rx="5" fill="#fff" stroke="%s" stroke-dasharray="4 3"/>`, bx, by, colW, boxH, c)
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#374151" font-size="12" font-style="italic">%s</text></g>`, bx+12, by+25, esc(clip(n.title)))
		default:
			fmt.Fprintf(&b, `<g class="system"><rect x="%d" y="%d" width="%d" height="%d" rx="5" fill="#fff" stroke="%s"/><rect x="%d" y="%d" width="5" height="%d" fill="%s"/>`, bx, by, colW, boxH, c, bx, by, boxH, c)
			ty := by + 17
			if n.sub == "" {
				ty = by + 25
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#111827" font-size="12.5" font-weight="600">%s</text>`, bx+13, ty, esc(clip(n.title)))
			if n.sub != "" {
				fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#6b7280" font-size="10.5">%s</text>`, bx+13, by+32, esc(clip(n.sub)))
			}
			if n.provider {
				fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="5" fill="#c81e1e"><title>%s</title></circle>`, bx+colW-11, by+11, esc(w.T("legend.provider")))
			}
			b.WriteString(`</g>`)
		}
	}
	// Legend: system kinds and the provider marker, then link kinds.
	lx, ly := margin, legendY+12
	fmt.Fprintf(&b, `<g class="legend" font-size="11" fill="#374151"><text x="%d" y="%d" font-weight="700">%s</text>`, lx, ly, esc(w.T("legend")))
	lx += 64
	for _, k := range lk.kinds {
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="12" height="12" rx="2" fill="%s"/><text x="%d" y="%d">%s</text>`, lx, ly-10, lk.color(k.Kind), lx+17, ly, esc(k.Label.In(w.lang)))
		lx += 92
	}
	fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="5" fill="#c81e1e"/><text x="%d" y="%d">%s</text>`, lx+6, ly-4, lx+17, ly, esc(w.T("legend.provider")))
	for i, k := range linkKinds {
		lx = margin + 64 + (i%2)*260
		ly2 := ly + 22*(1+i/2)
		c := linkColor[k]
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" marker-end="url(#arrow-%s)"/><text x="%d" y="%d">%s</text>`, lx, ly2-4, lx+30, ly2-4, c, c[1:], lx+38, ly2, esc(linkWord(r, w, k)))
	}
	if anyProvider {
		i := len(linkKinds)
		lx = margin + 64 + (i%2)*260
		ly2 := ly + 22*(1+i/2)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" marker-end="url(#arrow-%s)"/><text x="%d" y="%d">%s</text>`, lx, ly2-4, lx+30, ly2-4, providerColor, providerColor[1:], lx+38, ly2, esc(w.T("legend.providerlink")))
	}
	b.WriteString(`</g></svg>`)
	return b.String(), rows
}

// linkWord is a link kind in the report's language, from format 3 on (a
// connector names it in English; earlier reports print it as written).
func linkWord(r *Report, w words, kind string) string {
	if r.FormatVersion <= format2 {
		return kind
	}
	return w.Maybe("link."+kind, toolText(w.lang, kind))
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func dominantKind(ss []connector.System, lk looks) string {
	n := map[string]int{}
	best := ""
	for _, s := range ss {
		n[s.Kind]++
		if best == "" || n[s.Kind] > n[best] || (n[s.Kind] == n[best] && lk.rank(s.Kind) < lk.rank(best)) {
			best = s.Kind
		}
	}
	return best
}

func hasProvider(s connector.System) bool {
	for _, f := range s.Findings {
		if f.Provider {
			return true
		}
	}
	for _, a := range s.Accounts {
		if a.Provider {
			return true
		}
	}
	return false
}

// hostOf strips a port from an address ("10.0.0.5:389" -> "10.0.0.5")
// and a scheme from a URL ("ldaps://dc1:636" -> "dc1").
func hostOf(addr string) string {
	if _, rest, ok := strings.Cut(addr, "://"); ok {
		addr = rest
	}
	addr, _, _ = strings.Cut(addr, "/")
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func clip(s string) string {
	r := []rune(s)
	if len(r) > labelRune {
		return string(r[:labelRune-1]) + "…"
	}
	return s
}

func esc(s string) string { return html.EscapeString(s) }
