/*
Copyright 2026 The meshkeeper Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package helm

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// writeYAML writes a JSON-like value (what asYAMLValue returns: nil, bool, the integer types, float64,
// UTF-8 strings, map[string]any and []any) byte for byte as go-yaml v2's Marshal writes it, with go-yaml's
// defaults: block style, an indentation of 2, lists in a map at the map's indentation, empty maps and
// lists as {} and [], map keys in go-yaml's order, and each string in the style go-yaml picks for it,
// folded at spaces past column 80 as go-yaml folds it.
//
// go-yaml queues every event of a document before it writes the first one and never frees the queue,
// so writing one of the base chart's CRDs copied and collected megabytes; this writer goes through the
// value once. It tells false for what it does not write as go-yaml would (a key longer than 128 bytes
// or with a line break, which go-yaml writes as a complex key; a line break other than "\n"; keys
// go-yaml's order cannot tell apart; any other type), and the caller then takes go-yaml's Marshal.
// FuzzWriteYAML checks it against go-yaml.
func writeYAML(v any) ([]byte, bool) {
	w := yamlWriter{whitespace: true, indention: true}
	if !w.node(v, -1, false) {
		return nil, false
	}
	w.writeIndent(-1)
	return w.out, true
}

const (
	yamlBestWidth    = 80  // the column past which go-yaml folds a scalar at a space
	yamlBestIndent   = 2   // go-yaml's indentation step
	yamlSimpleKeyMax = 128 // the longest key go-yaml writes as a simple key, in bytes
)

// yamlWriter holds what go-yaml's emitter tracks of the line it writes.
type yamlWriter struct {
	out    []byte
	column int // in characters
	// whitespace: the last thing written leaves room for the next token without a space.
	whitespace bool
	// indention: nothing but indentation (and block indicators) written on this line so far.
	indention bool
	ra, rb    []rune // scratch for comparing keys
}

// node writes v, a value in a collection whose indentation is indent (-1 at the document's root);
// inMapping tells whether v is a map's value.
func (w *yamlWriter) node(v any, indent int, inMapping bool) bool {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			w.indicator("{", true, true, false)
			w.indicator("}", false, false, false)
			return true
		}
		return w.mapping(v, indent)
	case []any:
		if len(v) == 0 {
			w.indicator("[", true, true, false)
			w.indicator("]", false, false, false)
			return true
		}
		return w.sequence(v, indent, inMapping)
	case string:
		return w.str(v, scalarIndent(indent), false)
	case nil:
		w.plain("null", scalarIndent(indent), true)
	case bool:
		w.plain(strconv.FormatBool(v), scalarIndent(indent), true)
	case int:
		w.plain(strconv.FormatInt(int64(v), 10), scalarIndent(indent), true)
	case int32:
		w.plain(strconv.FormatInt(int64(v), 10), scalarIndent(indent), true)
	case int64:
		w.plain(strconv.FormatInt(v, 10), scalarIndent(indent), true)
	case uint64:
		w.plain(strconv.FormatUint(v, 10), scalarIndent(indent), true)
	case float64:
		// go-yaml writes a float as Go's shortest 'g' form; NaN and the infinities never come here
		// (asYAMLValue refuses them, as JSON does).
		w.plain(strconv.FormatFloat(v, 'g', -1, 64), scalarIndent(indent), true)
	default:
		return false
	}
	return true
}

// scalarIndent is the indentation go-yaml gives the continuation lines of a scalar written in a
// collection whose indentation is indent.
func scalarIndent(indent int) int {
	if indent < 0 {
		return yamlBestIndent
	}
	return indent + yamlBestIndent
}

// mapping writes a map that holds at least one key, each key on its own line at the map's indentation.
func (w *yamlWriter) mapping(m map[string]any, indent int) bool {
	inner := 0
	if indent >= 0 {
		inner = indent + yamlBestIndent
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if len(k) > yamlSimpleKeyMax || strings.ContainsAny(k, "\n\r\u0085\u2028\u2029") {
			return false // go-yaml writes it as a complex key ("? key")
		}
		keys = append(keys, k)
	}
	if !w.sortKeys(keys) {
		return false
	}
	for _, k := range keys {
		w.writeIndent(inner)
		if !w.str(k, scalarIndent(inner), true) {
			return false
		}
		w.indicator(":", false, false, false)
		if !w.node(m[k], inner, true) {
			return false
		}
	}
	return true
}

// sequence writes a list that holds at least one item. A list that is a map's value goes at the map's
// indentation ("key:\n- item"); any other is indented.
func (w *yamlWriter) sequence(s []any, indent int, inMapping bool) bool {
	inner := 0
	switch {
	case indent < 0:
	case inMapping && !w.indention:
		inner = indent
	default:
		inner = indent + yamlBestIndent
	}
	for _, item := range s {
		w.writeIndent(inner)
		w.indicator("-", true, false, true)
		if !w.node(item, inner, false) {
			return false
		}
	}
	return true
}

// writeIndent starts a new line at indent unless only indentation up to it is written, and pads to it.
func (w *yamlWriter) writeIndent(indent int) {
	indent = max(indent, 0)
	if !w.indention || w.column > indent || (w.column == indent && !w.whitespace) {
		w.newline()
	}
	for w.column < indent {
		w.out = append(w.out, ' ')
		w.column++
	}
	w.whitespace = true
	w.indention = true
}

// indicator writes an indicator (":", "-", a quote, a block scalar's header), after a space when
// needSpace and the last thing written leaves no room.
func (w *yamlWriter) indicator(s string, needSpace, isWhitespace, isIndention bool) {
	if needSpace && !w.whitespace {
		w.out = append(w.out, ' ')
		w.column++
	}
	w.out = append(w.out, s...)
	w.column += utf8.RuneCountInString(s)
	w.whitespace = isWhitespace
	w.indention = w.indention && isIndention
}

func (w *yamlWriter) newline() {
	w.out = append(w.out, '\n')
	w.column = 0
}

// char writes the character of s that starts at byte i and returns its width in bytes.
func (w *yamlWriter) char(s string, i int) int {
	_, size := utf8.DecodeRuneInString(s[i:])
	w.out = append(w.out, s[i:i+size]...)
	w.column++
	return size
}

// scalarTraits is what go-yaml's emitter learns of a string before it picks the string's style.
type scalarTraits struct {
	multiline    bool // holds a line break
	plainAllowed bool // may be written plain in block context
	singleQuoted bool // may be written in single quotes
	blockAllowed bool // may be written as a literal block
}

// analyzeScalar tells which styles go-yaml's emitter allows for s, and false when s holds a line break
// other than "\n" (which this writer leaves to go-yaml).
func analyzeScalar(s string) (scalarTraits, bool) {
	if s == "" {
		return scalarTraits{plainAllowed: true, singleQuoted: true}, true
	}
	var blockIndicators, lineBreaks, special, leadingSpace, leadingBreak, trailingSpace, trailingBreak,
		breakSpace, spaceBreak, previousSpace, previousBreak bool
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
		blockIndicators = true
	}
	precededByWhitespace := true
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		followedByWhitespace := i+size >= len(s) || s[i+size] == ' ' || s[i+size] == '\t'
		if i == 0 {
			switch r {
			case '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
				blockIndicators = true
			case '?', ':', '-':
				if followedByWhitespace {
					blockIndicators = true
				}
			}
		} else {
			switch r {
			case ':':
				if followedByWhitespace {
					blockIndicators = true
				}
			case '#':
				if precededByWhitespace {
					blockIndicators = true
				}
			}
		}
		if !yamlPrintable(r) {
			special = true
		}
		switch r {
		case ' ':
			leadingSpace = leadingSpace || i == 0
			trailingSpace = trailingSpace || i+size == len(s)
			breakSpace = breakSpace || previousBreak
			previousSpace, previousBreak = true, false
		case '\n':
			lineBreaks = true
			leadingBreak = leadingBreak || i == 0
			trailingBreak = trailingBreak || i+size == len(s)
			spaceBreak = spaceBreak || previousSpace
			previousSpace, previousBreak = false, true
		case '\r', '\u0085', '\u2028', '\u2029':
			return scalarTraits{}, false
		default:
			previousSpace, previousBreak = false, false
		}
		precededByWhitespace = r == ' ' || r == '\t' || r == '\n' || r == 0
		i += size
	}
	t := scalarTraits{multiline: lineBreaks, plainAllowed: true, singleQuoted: true, blockAllowed: true}
	if leadingSpace || leadingBreak || trailingSpace || trailingBreak || lineBreaks || blockIndicators {
		t.plainAllowed = false
	}
	if trailingSpace {
		t.blockAllowed = false
	}
	if breakSpace {
		t.plainAllowed, t.singleQuoted = false, false
	}
	if spaceBreak || special {
		t.plainAllowed, t.singleQuoted, t.blockAllowed = false, false, false
	}
	return t, true
}

// yamlPrintable tells whether go-yaml's emitter writes r as it is (with its unicode option, which
// Marshal sets): a line feed, printable ASCII, and the Basic Multilingual Plane but for the C1
// controls, the surrogates, the byte order mark and U+FFFE, U+FFFF.
func yamlPrintable(r rune) bool {
	return r == '\n' || (r >= 0x20 && r <= 0x7e) || (r >= 0xa0 && r <= 0xd7ff) ||
		(r >= 0xe000 && r <= 0xfffd && r != 0xfeff)
}

type scalarStyle int

const (
	plainStyle scalarStyle = iota
	singleQuotedStyle
	doubleQuotedStyle
	literalStyle
)

// str writes a string (a key when key) in the style go-yaml picks: go-yaml's encoder asks for a
// literal block when it holds a line feed, plain style when a plain scalar reads back as this string,
// double quotes otherwise; its emitter then falls back from plain to single quotes to double quotes,
// and from a literal block to double quotes, where the string's characters rule the first out.
func (w *yamlWriter) str(s string, indent int, key bool) bool {
	t, ok := analyzeScalar(s)
	if !ok {
		return false
	}
	style := doubleQuotedStyle
	switch {
	case t.multiline: // a line feed: analyzeScalar declines every other line break
		style = literalStyle
	case plainIsString(s) && !isBase60Float(s): // never the empty string, which reads back as null
		style = plainStyle
	}
	if style == plainStyle && !t.plainAllowed {
		style = singleQuotedStyle
	}
	if style == singleQuotedStyle && !t.singleQuoted {
		style = doubleQuotedStyle
	}
	if style == literalStyle && (!t.blockAllowed || key) {
		style = doubleQuotedStyle
	}
	switch style {
	case plainStyle:
		w.plain(s, indent, !key)
	case singleQuotedStyle:
		w.singleQuoted(s, indent, !key)
	case doubleQuotedStyle:
		w.doubleQuoted(s, indent, !key)
	case literalStyle:
		w.literal(s, indent)
	}
	return true
}

// plain writes s unquoted; when fold, a space past the width that starts no run of spaces becomes a
// line break.
func (w *yamlWriter) plain(s string, indent int, fold bool) {
	if !w.whitespace {
		w.out = append(w.out, ' ')
		w.column++
	}
	// Most strings cannot fold: no space, or the line does not pass the best width before the last
	// one. They are copied whole.
	if runes := utf8.RuneCountInString(s); !fold || w.column+runes <= yamlBestWidth || !strings.Contains(s, " ") {
		w.out = append(w.out, s...)
		w.column += runes
		w.whitespace = false
		w.indention = false
		return
	}
	spaces := false
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			if fold && !spaces && w.column > yamlBestWidth && i+1 < len(s) && s[i+1] != ' ' {
				w.writeIndent(indent)
				i++
			} else {
				i += w.char(s, i)
			}
			spaces = true
			continue
		}
		i += w.char(s, i)
		w.indention = false
		spaces = false
	}
	w.whitespace = false
	w.indention = false
}

// singleQuoted writes s in single quotes, each quote doubled, folded as plain folds but never at its
// first or last character.
func (w *yamlWriter) singleQuoted(s string, indent int, fold bool) {
	w.indicator("'", true, false, false)
	spaces := false
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			if fold && !spaces && w.column > yamlBestWidth && i > 0 && i < len(s)-1 && s[i+1] != ' ' {
				w.writeIndent(indent)
				i++
			} else {
				i += w.char(s, i)
			}
			spaces = true
			continue
		}
		if s[i] == '\'' {
			w.out = append(w.out, '\'')
			w.column++
		}
		i += w.char(s, i)
		w.indention = false
		spaces = false
	}
	w.indicator("'", false, false, false)
	w.whitespace = false
	w.indention = false
}

// doubleQuoted writes s in double quotes with go-yaml's escapes, folded at a space past the width (a
// space after the break is escaped).
func (w *yamlWriter) doubleQuoted(s string, indent int, fold bool) {
	w.indicator(`"`, true, false, false)
	spaces := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case !yamlPrintable(r) || r == '\n' || r == '"' || r == '\\':
			w.escape(r)
			i += size
			spaces = false
		case r == ' ':
			if fold && !spaces && w.column > yamlBestWidth && i > 0 && i < len(s)-1 {
				w.writeIndent(indent)
				if s[i+1] == ' ' {
					w.out = append(w.out, '\\')
					w.column++
				}
				i++
			} else {
				i += w.char(s, i)
			}
			spaces = true
		default:
			i += w.char(s, i)
			spaces = false
		}
	}
	w.indicator(`"`, false, false, false)
	w.whitespace = false
	w.indention = false
}

// yamlEscapes are the short escapes go-yaml writes in double quotes.
var yamlEscapes = map[rune]byte{
	0x00: '0', 0x07: 'a', 0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0b: 'v', 0x0c: 'f', 0x0d: 'r', 0x1b: 'e',
	'"': '"', '\\': '\\', 0x85: 'N', 0xa0: '_', 0x2028: 'L', 0x2029: 'P',
}

func (w *yamlWriter) escape(r rune) {
	const hex = "0123456789ABCDEF"
	start := len(w.out)
	w.out = append(w.out, '\\')
	if c, ok := yamlEscapes[r]; ok {
		w.out = append(w.out, c)
	} else {
		digits := 8
		switch {
		case r <= 0xff:
			w.out, digits = append(w.out, 'x'), 2
		case r <= 0xffff:
			w.out, digits = append(w.out, 'u'), 4
		default:
			w.out = append(w.out, 'U')
		}
		for k := (digits - 1) * 4; k >= 0; k -= 4 {
			w.out = append(w.out, hex[(r>>k)&0xf])
		}
	}
	w.column += len(w.out) - start
}

// literal writes s as a literal block ("|"), with an indentation indicator when s starts with a space
// or a line break and go-yaml's chomping indicator, each line at indent.
func (w *yamlWriter) literal(s string, indent int) {
	w.indicator("|", true, false, false)
	if s[0] == ' ' || s[0] == '\n' {
		w.indicator(strconv.Itoa(yamlBestIndent), false, false, false)
	}
	switch {
	case !strings.HasSuffix(s, "\n"):
		w.indicator("-", false, false, false)
	case len(s) == 1 || strings.HasSuffix(s, "\n\n"):
		w.indicator("+", false, false, false)
	}
	w.newline()
	w.indention, w.whitespace = true, true
	breaks := true
	for i := 0; i < len(s); {
		if s[i] == '\n' {
			w.newline()
			i++
			w.indention, breaks = true, true
			continue
		}
		if breaks {
			w.writeIndent(indent)
		}
		i += w.char(s, i)
		w.indention, breaks = false, false
	}
}

// plainIsString tells whether go-yaml reads s, written plain, back as the string s: not as null, a
// bool, a number, a timestamp or a merge key, by go-yaml's own rules (which are YAML 1.1's: "yes",
// "on", "0x1F", "1_000" and "2006-01-02" are not strings).
func plainIsString(s string) bool {
	if s == "" {
		return false // null
	}
	switch c := s[0]; {
	case c == '+' || c == '-' || c >= '0' && c <= '9':
		if _, ok := yamlNonStrings[s]; ok {
			return false
		}
		return !numberOrTimestamp(s)
	case c == '.':
		if _, ok := yamlNonStrings[s]; ok {
			return false
		}
		_, err := strconv.ParseFloat(s, 64)
		return err != nil
	case strings.IndexByte("yYnNtTfFoO~", c) >= 0:
		_, ok := yamlNonStrings[s]
		return !ok
	}
	return true
}

// yamlNonStrings are the plain scalars go-yaml reads as a bool, null or a special float.
var yamlNonStrings = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, s := range strings.Fields(`y Y yes Yes YES true True TRUE on On ON n N no No NO false False FALSE
		off Off OFF ~ null Null NULL .nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF`) {
		m[s] = struct{}{}
	}
	return m
}()

var yamlStyleFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// numberOrTimestamp tells whether go-yaml reads a plain scalar that starts with a sign or a digit as a
// timestamp or a number.
func numberOrTimestamp(s string) bool {
	if yamlTimestamp(s) {
		return true
	}
	digits := strings.ReplaceAll(s, "_", "")
	if _, err := strconv.ParseInt(digits, 0, 64); err == nil {
		return true
	}
	if _, err := strconv.ParseUint(digits, 0, 64); err == nil {
		return true
	}
	if yamlStyleFloat.MatchString(digits) {
		if _, err := strconv.ParseFloat(digits, 64); err == nil {
			return true
		}
	}
	if rest, ok := strings.CutPrefix(digits, "0b"); ok {
		if _, err := strconv.ParseInt(rest, 2, 64); err == nil {
			return true
		}
		if _, err := strconv.ParseUint(rest, 2, 64); err == nil {
			return true
		}
	} else if rest, ok := strings.CutPrefix(digits, "-0b"); ok {
		if _, err := strconv.ParseInt("-"+rest, 2, 64); err == nil {
			return true
		}
	}
	return false
}

// yamlTimestamp tells whether go-yaml reads a plain scalar as a timestamp: four digits, a dash, then
// one of the layouts it tries.
func yamlTimestamp(s string) bool {
	if len(s) < 5 || s[4] != '-' {
		return false
	}
	for i := range 4 {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	for _, layout := range []string{"2006-1-2T15:4:5.999999999Z07:00", "2006-1-2t15:4:5.999999999Z07:00",
		"2006-1-2 15:4:5.999999999", "2006-1-2"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

var base60Float = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`)

// isBase60Float tells whether s is a YAML 1.1 sexagesimal number ("1:20"), which go-yaml quotes.
func isBase60Float(s string) bool {
	if s == "" || strings.IndexByte(s, ':') < 0 {
		return false
	}
	if c := s[0]; c != '+' && c != '-' && (c < '0' || c > '9') {
		return false
	}
	return base60Float.MatchString(s)
}

// sortKeys puts keys in go-yaml's order, and tells false when that order is not one: go-yaml compares
// runs of digits by their value, which can make its comparison intransitive ("a1x" < "a9" < "a10" <
// "a1x"), and go-yaml's sort then writes the keys in an order that depends on the map's iteration.
// Keys without digits are compared character by character, a total order.
func (w *yamlWriter) sortKeys(keys []string) bool {
	less := func(a, b string) bool {
		w.ra, w.rb = appendRunes(w.ra[:0], a), appendRunes(w.rb[:0], b)
		return yamlKeyLess(w.ra, w.rb)
	}
	slices.SortFunc(keys, func(a, b string) int {
		switch {
		case less(a, b):
			return -1
		case less(b, a):
			return 1
		}
		return 0
	})
	digits := false
	for _, k := range keys {
		digits = digits || strings.ContainsFunc(k, unicode.IsDigit)
	}
	for i := 1; i < len(keys); i++ {
		if !less(keys[i-1], keys[i]) {
			return false
		}
		for j := 0; digits && j < i-1; j++ {
			if !less(keys[j], keys[i]) {
				return false
			}
		}
	}
	return true
}

func appendRunes(buf []rune, s string) []rune {
	for _, r := range s {
		buf = append(buf, r)
	}
	return buf
}

// yamlKeyLess is go-yaml's order of string keys: character by character, letters after everything
// else, and runs of digits by their value.
func yamlKeyLess(ar, br []rune) bool {
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			continue
		}
		al, bl := unicode.IsLetter(ar[i]), unicode.IsLetter(br[i])
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			return bl
		}
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		ai, bi := i, i
		for ; ai < len(ar) && unicode.IsDigit(ar[ai]); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for ; bi < len(br) && unicode.IsDigit(br[bi]); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
}
