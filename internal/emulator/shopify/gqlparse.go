package shopify

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A small GraphQL parser: executable documents with operations (query,
// anonymous shorthand), variables with defaults, fields with aliases and
// arguments, named fragments, inline fragments and @include/@skip. It is
// enough for real client queries; type-system definitions and
// subscriptions are rejected.

type tokKind int

const (
	tEOF tokKind = iota
	tPunct
	tName
	tInt
	tFloat
	tString
)

type token struct {
	kind      tokKind
	val       string
	line, col int
}

type lexer struct {
	src       string
	pos       int
	line, col int
}

// gqlError is a GraphQL error with a location.
type gqlError struct {
	Message   string         `json:"message"`
	Locations []location     `json:"locations,omitempty"`
	Path      []any          `json:"path,omitempty"`
	Ext       map[string]any `json:"extensions,omitempty"`
}

type location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

func (e *gqlError) Error() string { return e.Message }

func errAt(line, col int, code, format string, args ...any) *gqlError {
	e := &gqlError{Message: fmt.Sprintf(format, args...), Locations: []location{{line, col}}}
	if code != "" {
		e.Ext = map[string]any{"code": code}
	}
	return e
}

func (l *lexer) next() (token, error) {
	// Skip ignored tokens: whitespace, commas, BOM, comments.
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.pos++
			l.line++
			l.col = 1
		case c == ' ' || c == '\t' || c == '\r' || c == ',':
			l.pos++
			l.col++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case strings.HasPrefix(l.src[l.pos:], "\ufeff"):
			l.pos += 3
		default:
			goto tok
		}
	}
	return token{kind: tEOF, line: l.line, col: l.col}, nil
tok:
	line, col := l.line, l.col
	c := l.src[l.pos]
	switch {
	case strings.HasPrefix(l.src[l.pos:], "..."):
		l.pos += 3
		l.col += 3
		return token{tPunct, "...", line, col}, nil
	case strings.ContainsRune("!$():=@[]{}|&", rune(c)):
		l.pos++
		l.col++
		return token{tPunct, string(c), line, col}, nil
	case c == '_' || isLetter(c):
		start := l.pos
		for l.pos < len(l.src) && (l.src[l.pos] == '_' || isLetter(l.src[l.pos]) || isDigit(l.src[l.pos])) {
			l.pos++
		}
		l.col += l.pos - start
		return token{tName, l.src[start:l.pos], line, col}, nil
	case c == '-' || isDigit(c):
		start := l.pos
		l.pos++
		isFloat := false
		for l.pos < len(l.src) {
			d := l.src[l.pos]
			if isDigit(d) {
				l.pos++
			} else if d == '.' || d == 'e' || d == 'E' || ((d == '+' || d == '-') && (l.src[l.pos-1] == 'e' || l.src[l.pos-1] == 'E')) {
				isFloat = true
				l.pos++
			} else {
				break
			}
		}
		l.col += l.pos - start
		s := l.src[start:l.pos]
		if isFloat {
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return token{}, errAt(line, col, "", "Parse error on bad number %q", s)
			}
			return token{tFloat, s, line, col}, nil
		}
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return token{}, errAt(line, col, "", "Parse error on bad number %q", s)
		}
		return token{tInt, s, line, col}, nil
	case c == '"':
		if strings.HasPrefix(l.src[l.pos:], `"""`) {
			end := strings.Index(l.src[l.pos+3:], `"""`)
			if end < 0 {
				return token{}, errAt(line, col, "", "Parse error: unterminated block string")
			}
			s := l.src[l.pos+3 : l.pos+3+end]
			for _, r := range l.src[l.pos : l.pos+6+end] {
				if r == '\n' {
					l.line++
					l.col = 1
				} else {
					l.col++
				}
			}
			l.pos += 6 + end
			return token{tString, strings.TrimSpace(s), line, col}, nil
		}
		var b strings.Builder
		l.pos++
		l.col++
		for {
			if l.pos >= len(l.src) || l.src[l.pos] == '\n' {
				return token{}, errAt(line, col, "", "Parse error: unterminated string")
			}
			ch := l.src[l.pos]
			if ch == '"' {
				l.pos++
				l.col++
				return token{tString, b.String(), line, col}, nil
			}
			if ch == '\\' && l.pos+1 < len(l.src) {
				esc := l.src[l.pos+1]
				l.pos += 2
				l.col += 2
				switch esc {
				case '"', '\\', '/':
					b.WriteByte(esc)
				case 'b':
					b.WriteByte('\b')
				case 'f':
					b.WriteByte('\f')
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case 'u':
					if l.pos+4 > len(l.src) {
						return token{}, errAt(line, col, "", "Parse error: bad unicode escape")
					}
					n, err := strconv.ParseUint(l.src[l.pos:l.pos+4], 16, 32)
					if err != nil {
						return token{}, errAt(line, col, "", "Parse error: bad unicode escape")
					}
					b.WriteRune(rune(n))
					l.pos += 4
					l.col += 4
				default:
					return token{}, errAt(line, col, "", "Parse error: bad escape \\%c", esc)
				}
				continue
			}
			r, size := utf8.DecodeRuneInString(l.src[l.pos:])
			b.WriteRune(r)
			l.pos += size
			l.col++
		}
	}
	return token{}, errAt(line, col, "", "Parse error on %q at [%d, %d]", string(c), line, col)
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// AST.

type valueKind int

const (
	vVar valueKind = iota
	vInt
	vFloat
	vString
	vBool
	vNull
	vEnum
	vList
	vObject
)

type value struct {
	kind   valueKind
	raw    string // var name, literal text, enum name
	list   []value
	fields map[string]value
}

type argument struct {
	name string
	val  value
}

type directive struct {
	name string
	args []argument
}

type selection struct {
	// Exactly one of field, spread (fragment name) or inline is set.
	field  *field
	spread string
	inline *inlineFragment
	dirs   []directive
	line   int
	col    int
}

type field struct {
	alias, name string
	args        []argument
	sel         []selection
	line, col   int
}

func (f *field) key() string {
	if f.alias != "" {
		return f.alias
	}
	return f.name
}

type inlineFragment struct {
	typeCond string
	sel      []selection
}

type fragment struct {
	name, typeCond string
	sel            []selection
}

type varDef struct {
	name    string
	typ     string // e.g. "String!", "[ID!]"
	def     *value
	nonNull bool
}

type operation struct {
	kind string
	name string
	vars []varDef
	sel  []selection
}

type document struct {
	ops   []*operation
	frags map[string]*fragment
}

type parser struct {
	lx  lexer
	tok token
}

func parseDocument(src string) (*document, error) {
	p := &parser{lx: lexer{src: src, line: 1, col: 1}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	doc := &document{frags: map[string]*fragment{}}
	for p.tok.kind != tEOF {
		switch {
		case p.is(tPunct, "{"):
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			doc.ops = append(doc.ops, &operation{kind: "query", sel: sel})
		case p.tok.kind == tName && (p.tok.val == "query" || p.tok.val == "mutation"):
			op, err := p.operation()
			if err != nil {
				return nil, err
			}
			doc.ops = append(doc.ops, op)
		case p.tok.kind == tName && p.tok.val == "fragment":
			f, err := p.fragment()
			if err != nil {
				return nil, err
			}
			if _, dup := doc.frags[f.name]; dup {
				return nil, errAt(p.tok.line, p.tok.col, "", "Fragment name %q must be unique", f.name)
			}
			doc.frags[f.name] = f
		default:
			return nil, p.unexpected()
		}
	}
	if len(doc.ops) == 0 {
		return nil, &gqlError{Message: "No operations in document"}
	}
	return doc, nil
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) is(k tokKind, v string) bool { return p.tok.kind == k && p.tok.val == v }

func (p *parser) unexpected() error {
	if p.tok.kind == tEOF {
		return errAt(p.tok.line, p.tok.col, "", "Parse error on end of file (EOF) at [%d, %d]", p.tok.line, p.tok.col)
	}
	return errAt(p.tok.line, p.tok.col, "", "Parse error on %q at [%d, %d]", p.tok.val, p.tok.line, p.tok.col)
}

func (p *parser) expect(k tokKind, v string) error {
	if p.tok.kind != k || (v != "" && p.tok.val != v) {
		return p.unexpected()
	}
	return p.advance()
}

func (p *parser) name() (string, error) {
	if p.tok.kind != tName {
		return "", p.unexpected()
	}
	n := p.tok.val
	return n, p.advance()
}

func (p *parser) operation() (*operation, error) {
	op := &operation{kind: p.tok.val}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tName {
		op.name = p.tok.val
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if p.is(tPunct, "(") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		for !p.is(tPunct, ")") {
			if err := p.expect(tPunct, "$"); err != nil {
				return nil, err
			}
			n, err := p.name()
			if err != nil {
				return nil, err
			}
			if err := p.expect(tPunct, ":"); err != nil {
				return nil, err
			}
			typ, nonNull, err := p.typeRef()
			if err != nil {
				return nil, err
			}
			vd := varDef{name: n, typ: typ, nonNull: nonNull}
			if p.is(tPunct, "=") {
				if err := p.advance(); err != nil {
					return nil, err
				}
				v, err := p.value(true)
				if err != nil {
					return nil, err
				}
				vd.def = &v
			}
			op.vars = append(op.vars, vd)
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if _, err := p.directives(); err != nil {
		return nil, err
	}
	sel, err := p.selectionSet()
	if err != nil {
		return nil, err
	}
	op.sel = sel
	return op, nil
}

func (p *parser) typeRef() (string, bool, error) {
	var s string
	if p.is(tPunct, "[") {
		if err := p.advance(); err != nil {
			return "", false, err
		}
		inner, _, err := p.typeRef()
		if err != nil {
			return "", false, err
		}
		if err := p.expect(tPunct, "]"); err != nil {
			return "", false, err
		}
		s = "[" + inner + "]"
	} else {
		n, err := p.name()
		if err != nil {
			return "", false, err
		}
		s = n
	}
	if p.is(tPunct, "!") {
		if err := p.advance(); err != nil {
			return "", false, err
		}
		return s + "!", true, nil
	}
	return s, false, nil
}

func (p *parser) fragment() (*fragment, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	n, err := p.name()
	if err != nil {
		return nil, err
	}
	if n == "on" {
		return nil, p.unexpected()
	}
	if p.tok.kind != tName || p.tok.val != "on" {
		return nil, p.unexpected()
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	tc, err := p.name()
	if err != nil {
		return nil, err
	}
	if _, err := p.directives(); err != nil {
		return nil, err
	}
	sel, err := p.selectionSet()
	if err != nil {
		return nil, err
	}
	return &fragment{name: n, typeCond: tc, sel: sel}, nil
}

func (p *parser) selectionSet() ([]selection, error) {
	if err := p.expect(tPunct, "{"); err != nil {
		return nil, err
	}
	var out []selection
	for !p.is(tPunct, "}") {
		line, col := p.tok.line, p.tok.col
		if p.is(tPunct, "...") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind == tName && p.tok.val != "on" {
				n := p.tok.val
				if err := p.advance(); err != nil {
					return nil, err
				}
				dirs, err := p.directives()
				if err != nil {
					return nil, err
				}
				out = append(out, selection{spread: n, dirs: dirs, line: line, col: col})
				continue
			}
			inl := &inlineFragment{}
			if p.tok.kind == tName && p.tok.val == "on" {
				if err := p.advance(); err != nil {
					return nil, err
				}
				tc, err := p.name()
				if err != nil {
					return nil, err
				}
				inl.typeCond = tc
			}
			dirs, err := p.directives()
			if err != nil {
				return nil, err
			}
			sel, err := p.selectionSet()
			if err != nil {
				return nil, err
			}
			inl.sel = sel
			out = append(out, selection{inline: inl, dirs: dirs, line: line, col: col})
			continue
		}
		f := &field{line: line, col: col}
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		if p.is(tPunct, ":") {
			if err := p.advance(); err != nil {
				return nil, err
			}
			f.alias = n
			if n, err = p.name(); err != nil {
				return nil, err
			}
		}
		f.name = n
		if p.is(tPunct, "(") {
			if f.args, err = p.arguments(); err != nil {
				return nil, err
			}
		}
		dirs, err := p.directives()
		if err != nil {
			return nil, err
		}
		if p.is(tPunct, "{") {
			if f.sel, err = p.selectionSet(); err != nil {
				return nil, err
			}
		}
		out = append(out, selection{field: f, dirs: dirs, line: line, col: col})
	}
	if len(out) == 0 {
		return nil, p.unexpected()
	}
	return out, p.advance()
}

func (p *parser) arguments() ([]argument, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	var out []argument
	for !p.is(tPunct, ")") {
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tPunct, ":"); err != nil {
			return nil, err
		}
		v, err := p.value(false)
		if err != nil {
			return nil, err
		}
		out = append(out, argument{n, v})
	}
	if len(out) == 0 {
		return nil, p.unexpected()
	}
	return out, p.advance()
}

func (p *parser) directives() ([]directive, error) {
	var out []directive
	for p.is(tPunct, "@") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		d := directive{name: n}
		if p.is(tPunct, "(") {
			if d.args, err = p.arguments(); err != nil {
				return nil, err
			}
		}
		out = append(out, d)
	}
	return out, nil
}

func (p *parser) value(constant bool) (value, error) {
	t := p.tok
	switch {
	case t.kind == tPunct && t.val == "$":
		if constant {
			return value{}, p.unexpected()
		}
		if err := p.advance(); err != nil {
			return value{}, err
		}
		n, err := p.name()
		return value{kind: vVar, raw: n}, err
	case t.kind == tInt:
		return value{kind: vInt, raw: t.val}, p.advance()
	case t.kind == tFloat:
		return value{kind: vFloat, raw: t.val}, p.advance()
	case t.kind == tString:
		return value{kind: vString, raw: t.val}, p.advance()
	case t.kind == tName:
		switch t.val {
		case "true", "false":
			return value{kind: vBool, raw: t.val}, p.advance()
		case "null":
			return value{kind: vNull}, p.advance()
		}
		return value{kind: vEnum, raw: t.val}, p.advance()
	case t.kind == tPunct && t.val == "[":
		if err := p.advance(); err != nil {
			return value{}, err
		}
		v := value{kind: vList}
		for !p.is(tPunct, "]") {
			item, err := p.value(constant)
			if err != nil {
				return value{}, err
			}
			v.list = append(v.list, item)
		}
		return v, p.advance()
	case t.kind == tPunct && t.val == "{":
		if err := p.advance(); err != nil {
			return value{}, err
		}
		v := value{kind: vObject, fields: map[string]value{}}
		for !p.is(tPunct, "}") {
			n, err := p.name()
			if err != nil {
				return value{}, err
			}
			if err := p.expect(tPunct, ":"); err != nil {
				return value{}, err
			}
			item, err := p.value(constant)
			if err != nil {
				return value{}, err
			}
			v.fields[n] = item
		}
		return v, p.advance()
	}
	return value{}, p.unexpected()
}

// resolve turns a value into a Go value (string, int64, float64, bool, nil,
// []any, map[string]any); enums become strings.
func (v value) resolve(vars map[string]any) any {
	switch v.kind {
	case vVar:
		return vars[v.raw]
	case vInt:
		n, _ := strconv.ParseInt(v.raw, 10, 64)
		return n
	case vFloat:
		f, _ := strconv.ParseFloat(v.raw, 64)
		return f
	case vString, vEnum:
		return v.raw
	case vBool:
		return v.raw == "true"
	case vList:
		out := make([]any, 0, len(v.list))
		for _, x := range v.list {
			out = append(out, x.resolve(vars))
		}
		return out
	case vObject:
		out := map[string]any{}
		for k, x := range v.fields {
			out[k] = x.resolve(vars)
		}
		return out
	}
	return nil
}
