package demo_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/demo"
	"github.com/surveyops/survey-operator/internal/followup"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

func load(t *testing.T, file string, obj any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../../config/demo/riverside", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, obj); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// The demo's campaign and follow-up are valid against the synthetic audience, and every segment
// has residents.
func TestDemoCampaignAndAudience(t *testing.T) {
	var c v1alpha1.SurveyCampaign
	var fu v1alpha1.FollowUp
	load(t, "campaign.yaml", &c)
	load(t, "followup.yaml", &fu)
	var buf bytes.Buffer
	if err := demo.WriteAudience(&buf, 300, 2026); err != nil {
		t.Fatal(err)
	}
	cols, err := campaign.Columns(v1alpha1.AudienceCSV, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if ps := campaign.Validate(&c.Spec, cols); len(ps) > 0 {
		t.Fatalf("the demo campaign is invalid: %v", ps)
	}
	if ps := followup.Validate(&fu.Spec, &c.Spec); len(ps) > 0 {
		t.Fatalf("the demo follow-up is invalid: %v", ps)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	tenures := map[string]int{}
	for _, r := range rows[1:] {
		tenures[r[3]]++
	}
	if len(rows) != 301 || tenures["general-needs"] < 150 || tenures["shared-ownership"] == 0 ||
		tenures["supported"]+tenures["older-persons"] == 0 {
		t.Errorf("audience: %d rows, tenures %v", len(rows), tenures)
	}
	var again bytes.Buffer
	_ = demo.WriteAudience(&again, 300, 2026)
	if !bytes.Equal(again.Bytes(), mustAudience(t, 300, 2026)) {
		t.Error("the same seed gave a different audience")
	}
}

func mustAudience(t *testing.T, n int, seed uint64) []byte {
	var b bytes.Buffer
	if err := demo.WriteAudience(&b, n, seed); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const (
	uid  = "0b7e3c9a-1d2f-4e5a-8b6c-7d8e9f0a1b2c"
	wave = "now-1a2b3c4d"
)

// The respondent answers the demo survey on a real response service: about the share asked,
// every answer accepted, the spread of overall satisfaction near the sector's, and a second
// run updates the same responses instead of adding any.
func TestRespondentAnswersTheSurveyPage(t *testing.T) {
	var c v1alpha1.SurveyCampaign
	load(t, "campaign.yaml", &c)
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "survey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := token.NewKeyRing(token.Key{ID: "2026-11", Secret: bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := collector.New(collector.Config{Store: st, Keys: func() *token.KeyRing { return keys }, APIToken: []byte("demo-api-token-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	now := time.Now().UTC()
	if err := st.PutWave(ctx, store.Wave{CampaignUID: uid, WaveID: wave, Namespace: "riverside-homes", Campaign: c.Name,
		Definition: mustJSON(t, campaign.Definition(&c.Spec.Survey)), OpensAt: now.Add(-time.Hour), ClosesAt: now.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var mails []demo.Mail
	for i := range 200 {
		tok, err := keys.Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid, Wave: wave,
			Recipient: "T" + string(rune('A'+i%26)) + string(rune('A'+i/26)), Segment: "general-needs", Channel: "email", Expiry: now.Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		text := "Please tell us how we are doing: http://localhost:8080/s/" + tok + "\n"
		mails = append(mails, demo.Mail{ID: i, Text: text}, demo.Mail{ID: 1000 + i, Text: "Reminder: " + text})
	}
	links := demo.SurveyLinks(mails)
	if len(links) != 200 {
		t.Fatalf("%d distinct links, want 200 (a reminder carries the invitation's link)", len(links))
	}
	r := &demo.Respondent{Base: hs.URL, Rate: 0.45, Client: http.DefaultClient}
	out, err := r.Run(ctx, links)
	if err != nil {
		t.Fatal(err)
	}
	if out.Answered < 65 || out.Answered > 115 || out.Answered+out.Skipped != 200 {
		t.Errorf("answered %d, skipped %d of 200 at a rate of 0.45", out.Answered, out.Skipped)
	}
	satisfied := out.ByMood[4] + out.ByMood[5]
	if share := float64(satisfied) / float64(out.Answered); share < 0.55 || share > 0.85 {
		t.Errorf("%.0f%% satisfied, want about 71%%: %v", 100*share, out.ByMood)
	}
	sum, err := st.Summarize(ctx, uid, wave, "tp01")
	if err != nil {
		t.Fatal(err)
	}
	if got := total(sum.Responded); got != out.Answered {
		t.Errorf("the service holds %d responses, the respondent sent %d", got, out.Answered)
	}
	again, err := r.Run(ctx, links)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ = st.Summarize(ctx, uid, wave, "tp01")
	if again != out || total(sum.Responded) != out.Answered {
		t.Errorf("second run: %+v (first %+v), %d responses held", again, out, total(sum.Responded))
	}
	// A detractor on demand: the mood decides the primary answer exactly.
	if err := r.Answer(ctx, links[0], 1); err != nil {
		t.Fatal(err)
	}
}

func total(m map[store.Group]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
