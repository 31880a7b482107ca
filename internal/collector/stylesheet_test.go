package collector_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	cssComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	cssString  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	// cssBlock is a block of declarations: the innermost braces (a rule inside @media too).
	cssBlock = regexp.MustCompile(`\{([^{}]*)\}`)
	// cssSide is "left" or "right" as a word of a property or a value: border-left,
	// margin-right, left: 0, text-align: right, float: left, background-position: left top…
	cssSide = regexp.MustCompile(`(?i)(^|[^a-z0-9_])(left|right)([^a-z0-9_]|$)`)
)

// boxShorthands take one to four values, top, right, bottom and left: four of them with the
// right differing from the left set one side of the box, not the start or end.
var boxShorthands = map[string]bool{
	"margin": true, "padding": true, "inset": true, "border-width": true, "border-style": true, "border-color": true,
	"scroll-margin": true, "scroll-padding": true,
}

// physicalSides lists a stylesheet's declarations that set a side by its place on the screen,
// left or right, where a page read right to left needs the side where the line starts or ends
// (border-inline-start, padding-inline-end, margin-inline, text-align: start, inset-inline-start…).
func physicalSides(css string) []string {
	css = cssComment.ReplaceAllString(css, "")
	var found []string
	for _, block := range cssBlock.FindAllStringSubmatch(css, -1) {
		for decl := range strings.SplitSeq(block[1], ";") {
			prop, value, ok := strings.Cut(decl, ":")
			if !ok {
				continue
			}
			prop = strings.ToLower(strings.TrimSpace(prop))
			value = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "!important"))
			decl = prop + ": " + value
			fields := strings.Fields(value)
			switch {
			case cssSide.MatchString(prop) || cssSide.MatchString(cssString.ReplaceAllString(value, `""`)):
				found = append(found, decl)
			case boxShorthands[prop] && len(fields) == 4 && fields[1] != fields[3]:
				found = append(found, decl)
			case prop == "border-radius":
				// Its corners go round from the top left: mirrored, they must look the same.
				for part := range strings.SplitSeq(value, "/") {
					if corners := strings.Fields(part); slices.ContainsFunc(corners, func(c string) bool { return c != corners[0] }) {
						found = append(found, decl)
						break
					}
				}
			}
		}
	}
	return found
}

func TestPhysicalSidesAreFound(t *testing.T) {
	for name, c := range map[string]struct {
		css  string
		want int
	}{
		"border-left":                     {`.notice { border-left: 6px solid #00703c; }`, 1},
		"padding-left and margin":         {`.x { padding-left: 1rem; margin-right: 2px }`, 2},
		"position":                        {`.x { position: absolute; left: 0; RIGHT: 1px; }`, 2},
		"text-align":                      {`.x { text-align: left; }`, 1},
		"float":                           {`.x { float: right !important; }`, 1},
		"inside @media":                   {`@media (min-width: 40rem) { .x { border-right-width: 2px; } }`, 1},
		"in a value":                      {`.x { background-position: left top; transition: margin-left 1s; }`, 2},
		"a corner":                        {`.x { border-top-left-radius: 4px; }`, 1},
		"four sides":                      {`.x { margin: 0 1rem 0 2rem; padding: 0 0 0 1rem; }`, 2},
		"uneven corners":                  {`.x { border-radius: 4px 0; } .y { border-radius: 4px 4px / 2px 0 } .z { border-radius: 4px 14px; }`, 3},
		"logical":                         {`.x { border-inline-start: 6px solid; padding-inline: 1rem; margin-inline-end: 0.25rem; text-align: start; inset-inline-start: 0; float: inline-end; }`, 0},
		"even sides":                      {`main { margin: 0 auto; padding: 1rem 1rem 3rem; } .x { margin: 1px 2px 3px 2px; border-radius: 4px; }`, 0},
		"comments, strings and selectors": {`/* border-left here */ .left, .right-hand { content: "left"; color: red; }`, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if got := physicalSides(c.css); len(got) != c.want {
				t.Errorf("found %q, want %d", got, c.want)
			}
		})
	}
}

// The pages are read right to left too (Arabic): no rule of theirs may set a side by its place on
// the screen, or the bars meant to mark where a line starts sit at its end.
func TestStylesheetsHaveNoPhysicalSides(t *testing.T) {
	sheets, err := filepath.Glob(filepath.Join("web", "*.css"))
	if err != nil || len(sheets) == 0 {
		t.Fatalf("no stylesheets in web/: %v", err)
	}
	for _, sheet := range sheets {
		css, err := os.ReadFile(sheet)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range physicalSides(string(css)) {
			t.Errorf("%s: %q sets a side by its place on the screen: use the logical property (inline-start, inline-end)", sheet, decl)
		}
	}
}
