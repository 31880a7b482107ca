package audience

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

// secret appears on lines that are wrong: no error may quote it.
const secret = "SECRET-PERSONAL-DATA"

func spec() Spec {
	return Spec{
		Format:  CSV,
		IDField: "tenancy_ref",
		Segments: []Segment{
			{Name: "older", Match: `int(attrs.age) >= 65`, Channels: []string{"sms", "email"}},
			{Name: "shared", Match: `attrs.tenure == "shared-ownership"`, Channels: []string{"email"}},
			{Name: "everyone", Channels: []string{"email", "sms"}},
		},
		ContactColumns: map[string]string{"email": "email", "sms": "mobile"},
	}
}

var header = []string{"tenancy_ref", "email", "mobile", "tenure", "age"}

func mustCompile(t *testing.T, s Spec, columns []string) *Plan {
	t.Helper()
	p, err := Compile(s, columns)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// scan runs both passes and closes the Selection. It fails when the first pass kept its
// records in memory past spillAfter, or on disk below it.
func scan(t *testing.T, p *Plan, data, seed string) (Stats, []Invitee) {
	t.Helper()
	sel, stats, err := p.Scan(strings.NewReader(data), seed)
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()
	if spilled := sel.spill != nil; spilled != (stats.Records > spillAfter) || spilled == (sel.ids != nil) {
		t.Fatalf("%d records, %d kept in memory: spilled %v", stats.Records, len(sel.ids), spilled)
	}
	var out []Invitee
	if err := p.Select(strings.NewReader(data), sel, func(i Invitee) error { out = append(out, i); return nil }); err != nil {
		t.Fatal(err)
	}
	return stats, out
}

// bothWays runs a test with the first pass's records in memory, then with all but the first
// two on disk, in a temporary directory that must be empty afterwards: a scan that fails, and
// a Selection closed, leave nothing behind.
func bothWays(t *testing.T, test func(t *testing.T)) {
	t.Run("in memory", test)
	t.Run("spilled", func(t *testing.T) {
		defer func(n int) { spillAfter = n }(spillAfter)
		spillAfter = 2
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		test(t)
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
	})
}

func TestSegmentsAndChannels(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		data := "\ufefftenancy_ref,email,mobile,tenure,age\r\n" +
			"T-1,a@example.org,+447700900001,general-needs,70\r\n" + // older: sms first
			"T-2,b@example.org,,general-needs,80\r\n" + // older, no mobile: falls back to email
			"T-3,c@example.org,+447700900003,shared-ownership,40\r\n" + // shared
			"T-4,,,shared-ownership,41\r\n" + // shared, no email: unreachable
			"T-5,,+447700900005,general-needs,30\r\n" // everyone: email empty, sms
		p := mustCompile(t, spec(), header)
		stats, got := scan(t, p, data, "wave-1")
		want := []string{"T-1 older sms +447700900001", "T-2 older email b@example.org", "T-3 shared email c@example.org", "T-5 everyone sms +447700900005"}
		if len(got) != len(want) {
			t.Fatalf("invitees = %+v", got)
		}
		for i, w := range want {
			if g := fmt.Sprintf("%s %s %s %s", got[i].Key, got[i].Segment, got[i].Channel, got[i].Contact); g != w {
				t.Errorf("invitee %d = %q, want %q", i, g, w)
			}
		}
		if stats.Records != 5 || stats.Unreachable != 1 || stats.BySegment["shared"] != 2 || stats.Selected["older"] != 2 {
			t.Errorf("stats = %+v", stats)
		}
	})
}

func TestJSONLines(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		s := spec()
		s.Format = JSONLines
		s.LanguageColumn = "lang"
		data := `{"tenancy_ref": "T-1", "email": "a@example.org", "mobile": null, "tenure": "general-needs", "age": 70, "lang": "cy"}` + "\n\n" +
			`{"tenancy_ref": "T-2", "email": "b@example.org", "mobile": "+447700900002", "tenure": "shared-ownership", "age": 33, "vip": true}` + "\r\n"
		p := mustCompile(t, s, nil)
		_, got := scan(t, p, data, "w")
		if len(got) != 2 || got[0].Channel != "email" || got[1].Segment != "shared" || got[0].Language != "cy" || got[1].Language != "" ||
			!reflect.DeepEqual(got[1].Contacts.Map(), map[string]string{"email": "b@example.org", "sms": "+447700900002"}) {
			t.Errorf("invitees = %+v", got)
		}
	})
}

func TestBadInputNamesTheLine(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		csvPlan := mustCompile(t, spec(), header)
		js := spec()
		js.Format = JSONLines
		jsonPlan := mustCompile(t, js, nil)
		good := "T-1,a@example.org,,general-needs,50\n"
		var forty string // ids of population(6000) again, the last first
		for i := 139; i >= 100; i-- {
			forty += fmt.Sprintf("T-%06d,d@x,,x,1\n", i)
		}
		for _, c := range []struct {
			name string
			plan *Plan
			data string
			want string
		}{
			{"empty file", csvPlan, "", "line 1: the file is empty"},
			{"no id column", csvPlan, "ref,email,mobile,tenure,age\n" + good, `line 1: the header has no column "tenancy_ref"`},
			{"a column twice", csvPlan, "tenancy_ref,email,email\n", `line 1: the header names the column "email" twice`},
			{"wrong number of fields", csvPlan, strings.Join(header, ",") + "\n" + good + "T-2," + secret + "\n", "line 3: wrong number of fields"},
			{"bare quote", csvPlan, strings.Join(header, ",") + "\n" + good + `T-2,a"` + secret + `,,x,1` + "\n", "line 3: a quote is misplaced"},
			{"invalid UTF-8", csvPlan, strings.Join(header, ",") + "\n" + good + "T-2,\xff" + secret + ",,x,1\n", `line 3: column "email" is not valid UTF-8`},
			{"empty id", csvPlan, strings.Join(header, ",") + "\n" + good + "," + secret + ",,x,1\n", `line 3: the id column "tenancy_ref" is empty`},
			{"a NUL in an id", csvPlan, strings.Join(header, ",") + "\n" + good + "T-\x002," + secret + ",,x,1\n",
				`line 3: the id column "tenancy_ref" holds an id with a control character`},
			{"a tab in a quoted id", csvPlan, strings.Join(header, ",") + "\n" + good + "\"T-\t2\"," + secret + ",,x,1\n",
				`line 3: the id column "tenancy_ref" holds an id with a control character`},
			{"a line break in a quoted id", csvPlan, strings.Join(header, ",") + "\n" + good + "\"T-\n2\"," + secret + ",,x,1\n",
				`line 3: the id column "tenancy_ref" holds an id with a control character`},
			{"a C1 control in an id", csvPlan, strings.Join(header, ",") + "\n" + good + "T-\u00852," + secret + ",,x,1\n",
				`line 3: the id column "tenancy_ref" holds an id with a control character`},
			{"an id of 201 bytes", csvPlan, strings.Join(header, ",") + "\n" + good + "T-" + strings.Repeat("9", 199) + "," + secret + ",,x,1\n",
				`line 3: the id column "tenancy_ref" holds an id longer than 200 bytes`},
			{"JSON: a NUL in an id", jsonPlan, `{"tenancy_ref": "T-\u00001", "age": 50, "tenure": "x", "email": "` + secret + `"}`,
				`line 1: the id column "tenancy_ref" holds an id with a control character`},
			{"duplicate id", csvPlan, strings.Join(header, ",") + "\n" + good + good + "T-1," + secret + ",,x,1\n", "line 3: the id is the same as on line 2"},
			{"a duplicate id before a bad line", csvPlan, strings.Join(header, ",") + "\n" + good + "T-2,b@x,,x,1\n" + good + "T-3,e@x,,x," + secret + "\n",
				"line 4: the id is the same as on line 2"},
			{"a bad line before a duplicate id", csvPlan, strings.Join(header, ",") + "\n" + good + "T-3,e@x,,x," + secret + "\n" + good,
				"line 3: spec.audience.segments[0].match cannot be evaluated"},
			{"a duplicate id far down a long file", csvPlan, population(6000) + "T-000010,d@x,,x,1\n" + "T-999999,f@x,,x,1\n",
				"line 6002: the id is the same as on line 12"},
			{"the first of forty duplicate ids", csvPlan, population(6000) + forty, "line 6002: the id is the same as on line 141"},
			{"invalid UTF-8 far down a long file", csvPlan, population(6000) + "T-x,e@x,,\xff" + secret + ",1\n", `line 6002: column "tenure" is not valid UTF-8`},
			{"a rune cut short at the end of the file", csvPlan, population(2) + "T-x,e@x,,x,4\xe2\x82", `line 4: column "age" is not valid UTF-8`},
			{"a duplicate id after a record over two lines and a blank line", csvPlan, strings.Join(header, ",") + "\n" + good +
				"T-2,\"e@x\ny\",,x,1\n\nT-3,f@x,,x,1\n" + good, "line 7: the id is the same as on line 2"},
			{"JSON: a duplicate id after blank lines", jsonPlan, "\n" + `{"tenancy_ref": "T-1", "age": 50, "tenure": "x"}` + "\n\n\n" + `{"tenancy_ref": "T-2", "age": 50, "tenure": "x"}` +
				"\n" + `{"tenancy_ref": "T-1", "age": 50, "tenure": "x"}` + "\n", "line 6: the id is the same as on line 2"},
			{"JSON: a duplicate of the second id after blank lines", jsonPlan, "\n" + `{"tenancy_ref": "T-1", "age": 50, "tenure": "x"}` + "\n\n\n" +
				`{"tenancy_ref": "T-2", "age": 50, "tenure": "x"}` + "\n" + `{"tenancy_ref": "T-2", "age": 50, "tenure": "x"}` + "\n",
				"line 6: the id is the same as on line 5"},
			{"a match that fails on a value", csvPlan, strings.Join(header, ",") + "\n" + good + "T-2,e@x,,x," + secret + "\n",
				"line 3: spec.audience.segments[0].match cannot be evaluated: it fails on this line's values"},
			{"JSON: not an object", jsonPlan, `{"tenancy_ref": "T-1", "age": 50, "email": "e@x", "tenure": "x"}` + "\n[\"" + secret + "\"]\n", "line 2: not a JSON object"},
			{"JSON: nested value", jsonPlan, `{"tenancy_ref": "T-1", "x": {"y": "` + secret + `"}}`, `line 1: field "x" is not a string, number or boolean`},
			{"JSON: no id", jsonPlan, `{"email": "` + secret + `"}`, `line 1: has no field "tenancy_ref"`},
			{"JSON: missing field in a match", jsonPlan, `{"tenancy_ref": "T-1", "email": "` + secret + `"}`,
				`line 1: spec.audience.segments[0].match cannot be evaluated: this line has no field "age"`},
			{"JSON: invalid UTF-8", jsonPlan, "{\"tenancy_ref\": \"\xff" + secret + "\"}", "line 1: not valid UTF-8"},
		} {
			_, _, err := c.plan.Scan(strings.NewReader(c.data), "w")
			if err == nil || err.Error() != c.want && !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("%s: %v, want %q", c.name, err, c.want)
				continue
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error quotes the data: %v", c.name, err)
			}
		}
	})
}

func TestCompileErrorsNameTheField(t *testing.T) {
	for _, c := range []struct {
		match, want string
	}{
		{`agee >= 65`, "spec.audience.segments[0].match: ERROR: <input>:1:1: undeclared reference to 'agee'"},
		{`int(attrs.agee) >= 65`, `spec.audience.segments[0].match: attrs has no column "agee"`},
		{`attrs["ten ure"] == "x"`, `spec.audience.segments[0].match: attrs has no column "ten ure"`},
		{`attrs.tenure`, "spec.audience.segments[0].match: the expression gives string; it must give true or false"},
		{`attrs.tenure ==`, "spec.audience.segments[0].match: ERROR"},
	} {
		s := spec()
		s.Segments[0].Match = c.match
		_, err := Compile(s, header)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.match, err, c.want)
		}
	}
	s := spec()
	s.Segments[1].Channels = []string{"whatsapp"}
	if _, err := Compile(s, header); err == nil || !strings.Contains(err.Error(), `spec.audience.segments[1].channels: no channel "whatsapp"`) {
		t.Errorf("unknown channel: %v", err)
	}
	// Without a header (JSON Lines) an unknown attribute is found at the line, not at compile.
	if _, err := Compile(spec(), nil); err != nil {
		t.Errorf("compile without columns: %v", err)
	}
}

func population(n int) string {
	var b strings.Builder
	b.WriteString(strings.Join(header, ",") + "\n")
	for i := range n {
		fmt.Fprintf(&b, "T-%06d,p%d@example.org,,general-needs,40\n", i, i)
	}
	return b.String()
}

func keys(inv []Invitee) map[string]bool {
	out := map[string]bool{}
	for _, i := range inv {
		out[i.Key] = true
	}
	return out
}

func TestSamplingIsDeterministicAndIndependent(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		const n = 20000
		data := population(n)
		s := spec()
		s.Segments[2].Percent = 40
		p := mustCompile(t, s, header)
		stats, a := scan(t, p, data, "campaign-uid/20260401-0900")
		_, again := scan(t, p, data, "campaign-uid/20260401-0900")
		_, other := scan(t, p, data, "campaign-uid/20260701-0900")

		// 40% of 20,000: 8,000, within four standard deviations (sqrt(20000·0.4·0.6) ≈ 69).
		if math.Abs(float64(len(a))-8000) > 4*69 || stats.Selected["everyone"] != len(a) {
			t.Errorf("a 40%% sample kept %d (stats %d)", len(a), stats.Selected["everyone"])
		}
		if fmt.Sprint(keys(a)) != fmt.Sprint(keys(again)) {
			t.Error("the same wave sampled different people")
		}
		// Independent waves overlap by about 0.4 · 0.4 = 16% of the population.
		overlap := 0
		ka := keys(a)
		for k := range keys(other) {
			if ka[k] {
				overlap++
			}
		}
		if math.Abs(float64(overlap)-0.16*n) > 4*math.Sqrt(n*0.16*0.84) {
			t.Errorf("two waves share %d people, want about %d", overlap, int(0.16*n))
		}

		// A count takes exactly that many, the same ones again, and everyone when there are fewer.
		s.Segments[2].Percent, s.Segments[2].Count = 0, 1234
		p = mustCompile(t, s, header)
		stats, c1 := scan(t, p, data, "w1")
		_, c2 := scan(t, p, data, "w1")
		if len(c1) != 1234 || stats.Selected["everyone"] != 1234 || fmt.Sprint(keys(c1)) != fmt.Sprint(keys(c2)) {
			t.Errorf("count sample: %d, stats %d", len(c1), stats.Selected["everyone"])
		}
		s.Segments[2].Count = n + 10
		p = mustCompile(t, s, header)
		if _, all := scan(t, p, data, "w1"); len(all) != n {
			t.Errorf("a count above the segment's size kept %d of %d", len(all), n)
		}
	})
}

// A sample of 100 percent is everyone: the threshold is the largest hash, not a fraction of
// it that overflows.
func TestSampleOfAHundredPercentIsEveryone(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		const n = 200
		for name, c := range map[string]struct {
			percent, want int
		}{
			"100 percent":  {100, n},
			"no sample":    {0, n},
			"a percentage": {50, -1},
		} {
			s := spec()
			s.Segments[2].Percent = c.percent
			p := mustCompile(t, s, header)
			stats, got := scan(t, p, population(n), "campaign-uid/20260401-0900")
			if stats.Selected["everyone"] != len(got) {
				t.Errorf("%s: the first pass selected %d, the second kept %d", name, stats.Selected["everyone"], len(got))
			}
			if c.want >= 0 && len(got) != c.want {
				t.Errorf("%s: kept %d of %d", name, len(got), n)
			}
			if c.want < 0 && (len(got) == n || len(got) == 0) {
				t.Errorf("%s: kept %d of %d, want a sample", name, len(got), n)
			}
		}
	})
}

// Sampled and census segments interleave, with people no channel reaches and people in no
// segment between them: the second pass keeps exactly everyone reachable of a census segment,
// and of a sampled one those whose hash of the seed and their id falls under its threshold.
func TestSampledAndCensusSegmentsInterleave(t *testing.T) {
	bothWays(t, func(t *testing.T) {
		s := spec()
		s.Segments[1].Percent = 30 // shared ownership: sampled
		s.Segments[2].Match = `attrs.tenure == "general-needs"`
		p := mustCompile(t, s, header)
		var b strings.Builder
		b.WriteString(strings.Join(header, ",") + "\n")
		want := map[string]bool{}
		threshold := uint64(float64(30) / 100 * math.MaxUint64) // as Scan works it out
		for i := range 3000 {
			key := fmt.Sprintf("T-%05d", i)
			switch i % 5 {
			case 0: // older: census, by SMS
				fmt.Fprintf(&b, "%s,,0770%05d,general-needs,70\n", key, i)
				want[key] = true
			case 1, 2: // shared ownership: sampled
				fmt.Fprintf(&b, "%s,p%d@example.org,,shared-ownership,40\n", key, i)
				want[key] = hash("w", key) <= threshold
			case 3: // general needs, no contact: unreachable
				fmt.Fprintf(&b, "%s,,,general-needs,40\n", key)
			case 4: // in no segment
				fmt.Fprintf(&b, "%s,p%d@example.org,,leasehold,40\n", key, i)
			}
		}
		stats, got := scan(t, p, b.String(), "w")
		kept := keys(got)
		for key, keep := range want {
			if kept[key] != keep {
				t.Errorf("%s: kept %v, want %v", key, kept[key], keep)
			}
		}
		if n := stats.Selected["older"] + stats.Selected["shared"]; n != len(got) {
			t.Errorf("the first pass selected %d, the second kept %d", n, len(got))
		}
	})
}

func TestShardsPartitionTheAudience(t *testing.T) {
	const shards = 4
	count := make([]int, shards)
	for i := range 20000 {
		key := fmt.Sprintf("T-%06d", i)
		s := Shard(key, shards)
		if s < 0 || s >= shards || Shard(key, shards) != s {
			t.Fatalf("shard of %s = %d", key, s)
		}
		count[s]++
	}
	for i, c := range count {
		if math.Abs(float64(c)-5000) > 300 {
			t.Errorf("shard %d holds %d of 20,000", i, c)
		}
	}
	if Shard("x", 1) != 0 || Shard("x", 0) != 0 {
		t.Error("one shard is shard 0")
	}
}

func BenchmarkScan(b *testing.B) {
	data := population(100000)
	s := spec()
	s.Segments[2].Percent = 40
	p, _ := Compile(s, header)
	for b.Loop() {
		if _, _, err := p.Scan(strings.NewReader(data), "w"); err != nil {
			b.Fatal(err)
		}
	}
}
