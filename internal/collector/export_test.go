package collector_test

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/responseapi"
)

// A wave's export: one row per respondent under a pseudonym that is stable within the campaign
// and is not the person's key, each answer as it reads (a choice's text, "N/A"), free text
// defused for spreadsheets, as CSV and JSON Lines; only for the namespace's exporter.
func TestExport(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		for who, form := range map[string]url.Values{
			"T-1001": {"q.tp01": {"5"}, "q.tp02": {"na"}, "q.visit": {"0"}, "q.comments": {"Quick and polite."}},
			"T-1002": {"q.tp01": {"2"}, "q.tp02": {"1"}, "q.visit": {"1"}, "q.comments": {"=HYPERLINK(\"http://x\")"}},
			"T-1003": {"q.tp01": {"4"}},
		} {
			if resp, body := e.post("/s/"+e.link(who, closes), form); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s: %d %s", who, resp.StatusCode, body)
			}
		}
		exporter := apitoken.Credential([]byte(apiToken), apitoken.Exporter, "riverside-homes")
		get := func(credential, format string) (int, string, http.Header) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+responseapi.RouteExport.Path(uid, "20260401-0900")+"?format="+format, nil)
			req.Header.Set("Authorization", "Bearer "+credential)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
			return resp.StatusCode, b.String(), resp.Header
		}

		code, body, header := get(exporter, "csv")
		if code != http.StatusOK || header.Get("Content-Type") != "text/csv; charset=utf-8" || header.Get("Cache-Control") != "no-store" ||
			!strings.Contains(header.Get("Content-Disposition"), `filename="tenant-satisfaction-20260401-0900.csv"`) {
			t.Fatalf("export: %d %v\n%s", code, header, body)
		}
		records, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(records[0], ",") != "respondent,segment,channel,disposition,submitted_at,updated_at,language,tp01,tp02,visit,comments" ||
			len(records) != 4 {
			t.Fatalf("export:\n%s", body)
		}
		byAnswer := map[string][]string{}
		for _, r := range records[1:] {
			byAnswer[r[7]] = r
			if !strings.HasPrefix(r[0], "p-") || len(r[0]) != 22 || strings.Contains(body, "T-100") {
				t.Errorf("respondent %q: want a pseudonym, never the key", r[0])
			}
		}
		if r := byAnswer["5"]; r == nil || r[1] != "general-needs" || r[2] != "sms" || r[3] != "complete" || r[6] != "en" ||
			r[8] != "N/A" || r[9] != "Yes" || r[10] != "Quick and polite." {
			t.Errorf("T-1001's row: %q", r)
		}
		if r := byAnswer["2"]; r == nil || r[9] != "No" || r[10] != `'=HYPERLINK("http://x")` {
			t.Errorf("T-1002's row: %q (a formula must not reach a spreadsheet as one)", r)
		}
		if r := byAnswer["4"]; r == nil || r[8] != "" || r[10] != "" {
			t.Errorf("T-1003's row: %q", r)
		}

		// The same people under the same pseudonyms, as JSON Lines.
		code, body, _ = get(exporter, "jsonl")
		if code != http.StatusOK {
			t.Fatalf("export jsonl: %d %s", code, body)
		}
		lines := strings.Split(strings.TrimSpace(body), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d lines:\n%s", len(lines), body)
		}
		for _, line := range lines {
			var row struct {
				Respondent    string
				Disposition   string
				Answers       map[string]any
				NotApplicable []string
			}
			if err := json.Unmarshal([]byte(line), &row); err != nil {
				t.Fatal(err)
			}
			if row.Answers["tp01"] == 5.0 {
				if row.Respondent != byAnswer["5"][0] || row.Answers["visit"] != "Yes" || len(row.NotApplicable) != 1 || row.NotApplicable[0] != "tp02" {
					t.Errorf("T-1001 as JSON: %s", line)
				}
			}
		}

		// Who may export: the manager and the namespace's exporter; not another namespace's, not
		// a reader (figures only) or a sender.
		master := []byte(apiToken)
		for name, want := range map[string]int{
			apitoken.Credential(master, apitoken.Exporter, "lakeside"):                              http.StatusForbidden,
			apitoken.Credential(master, apitoken.Reader, "riverside-homes"):                         http.StatusForbidden,
			apitoken.Credential(master, apitoken.Sender, "riverside-homes"):                         http.StatusForbidden,
			apitoken.Credential([]byte("guessed-0123456789"), apitoken.Exporter, "riverside-homes"): http.StatusUnauthorized,
			apiToken: http.StatusOK,
		} {
			if code, body, _ := get(name, "csv"); code != want {
				t.Errorf("%.30s...: %d %s, want %d", name, code, body, want)
			}
		}
		if code, _, _ := get(exporter, "xlsx"); code != http.StatusBadRequest {
			t.Errorf("an unknown format: %d, want 400", code)
		}
	})
}
