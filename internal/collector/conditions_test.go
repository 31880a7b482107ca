package collector_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/surveyops/survey-operator/api/v1alpha1"
	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/campaign"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

// repairsSurvey asks about the repairs service only of tenants who had a repair, as the tenant
// satisfaction measures prescribe.
func repairsSurvey() *v1alpha1.Survey {
	return &v1alpha1.Survey{Title: "Riverside Homes tenant survey", PrimaryQuestion: "tp01", Questions: []v1alpha1.Question{
		{ID: "repair", Kind: v1alpha1.QuestionChoice, Required: true, Choices: []string{"Yes", "No"},
			Text: "Has Riverside Homes carried out a repair to your home in the last 12 months?"},
		{ID: "tp02", Kind: v1alpha1.QuestionCSAT, Required: true, ShowIf: `answers.repair == "Yes"`,
			Text: "How satisfied or dissatisfied are you with the overall repairs service from Riverside Homes over the last 12 months?"},
		{ID: "tp01", Kind: v1alpha1.QuestionCSAT, Required: true,
			Text: "Taking everything into account, how satisfied or dissatisfied are you with the service provided by Riverside Homes?"},
		{ID: "topics", Kind: v1alpha1.QuestionChoice, Multiple: true, MaxSelections: ptr.To(int32(2)),
			Choices: []string{"Repairs", "Rent", "Neighbourhood", "Communal areas"},
			Text:    "Which of these would you most like us to improve?"},
	}, Translations: []v1alpha1.SurveyTranslation{
		{Language: "cy", Title: "Arolwg tenantiaid Cartrefi Glan yr Afon", Questions: []v1alpha1.QuestionTranslation{
			{ID: "repair", Text: "A yw Cartrefi Glan yr Afon wedi gwneud gwaith atgyweirio i'ch cartref yn ystod y 12 mis diwethaf?", Choices: []string{"Ydy", "Nac ydy"}},
			{ID: "tp02", Text: "Pa mor fodlon neu anfodlon ydych chi â'r gwasanaeth atgyweirio cyffredinol gan Gartrefi Glan yr Afon dros y 12 mis diwethaf?"},
			{ID: "tp01", Text: "Gan ystyried popeth, pa mor fodlon neu anfodlon ydych chi â'r gwasanaeth a ddarperir gan Gartrefi Glan yr Afon?"},
			{ID: "topics", Text: "Pa rai o'r rhain yr hoffech i ni eu gwella fwyaf?", Choices: []string{"Atgyweirio", "Rhent", "Cymdogaeth", "Mannau cymunedol"}},
		}},
		{Language: "ar", Title: "استبيان مستأجري ريفرسايد هومز", Questions: []v1alpha1.QuestionTranslation{
			{ID: "repair", Text: "هل أجرت ريفرسايد هومز إصلاحًا في منزلك خلال الأشهر الاثني عشر الماضية؟", Choices: []string{"نعم", "لا"}},
			{ID: "tp02", Text: "ما مدى رضاك أو عدم رضاك عن خدمة الإصلاح بشكل عام من ريفرسايد هومز خلال الأشهر الاثني عشر الماضية؟"},
			{ID: "tp01", Text: "مع أخذ كل شيء في الاعتبار، ما مدى رضاك أو عدم رضاك عن الخدمة التي تقدمها ريفرسايد هومز؟"},
			{ID: "topics", Text: "أي مما يلي تود أن نحسّنه أكثر؟", Choices: []string{"الإصلاحات", "الإيجار", "الحي", "المناطق المشتركة"}},
		}},
	}}
}

// repairsWave registers repairsSurvey as the wave "cond", and signs a person's link to it
// ("/s/TOKEN"), as a sending Job does.
func (e *env) repairsWave() func(who string) string {
	e.t.Helper()
	e.api(http.MethodPut, responseapi.RoutePutWave.Path(uid, "cond"), responseapi.WaveRegistration{Namespace: "riverside-homes",
		Campaign: "tenant-satisfaction", Definition: campaign.Definition(repairsSurvey()), OpensAt: opens, ClosesAt: closes}, http.StatusOK, nil)
	return func(who string) string {
		tok, err := e.keys.ForNamespace("riverside-homes").Sign(token.Claims{Purpose: token.PurposeSurvey, CampaignUID: uid, Wave: "cond",
			Recipient: who, Segment: "general-needs", Channel: "email", Expiry: closes.Add(365 * 24 * time.Hour)})
		if err != nil {
			e.t.Fatal(err)
		}
		return "/s/" + tok
	}
}

// A question asked only on a condition: without JavaScript the page comes back with the
// questions the answers brought up, and saves nothing until they were seen; a question not
// asked drops its answer, never makes a response partial, and counts in no score: the scores
// are the hand-worked ones.
func TestConditionalQuestions(t *testing.T) {
	bothStores(t, func(t *testing.T) {
		e := newEnv(t)
		link := e.repairsWave()

		// The page hides the repairs question until the answers call for it.
		_, page := e.get(link("T-1"))
		if !strings.Contains(page, `data-question="tp02" hidden`) || !strings.Contains(page, `name="shown" value="repair tp01 topics"`) ||
			!strings.Contains(page, `<script src="/static/survey.js" defer></script>`) {
			t.Fatalf("the first page:\n%s", page)
		}
		// Sent without JavaScript: "Yes" brings the repairs question up, and nothing is saved.
		resp, page := e.post(link("T-1"), url.Values{"q.repair": {"0"}, "q.tp01": {"5"}, "shown": {"repair tp01 topics"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "bring up more questions") || strings.Contains(page, `data-question="tp02" hidden`) ||
			strings.Contains(page, "Please answer this question") || !strings.Contains(page, `value="5" checked`) {
			t.Fatalf("after sending Yes: %s\n%s", resp.Status, page)
		}
		if _, err := e.store.GetResponse(t.Context(), uid, "cond", "T-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("saved before the repairs question was seen: %v", err)
		}
		// What the page asks as the answers change (JavaScript).
		code, visible := e.send(http.MethodPost, link("T-1")+"/visible", []byte("q.repair=0"), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		if code != http.StatusOK || strings.TrimSpace(visible) != `{"visible":["repair","tp02","tp01","topics"]}` {
			t.Errorf("visible: %d %s", code, visible)
		}

		// Too many topics ticked: the page comes back with the problem, the boxes still ticked.
		resp, page = e.post(link("T-1"), url.Values{"q.repair": {"1"}, "q.tp01": {"5"}, "q.topics": {"0", "1", "2"}, "shown": {"repair tp01 topics"}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Please choose no more than 2 of the answers (you chose 3).") ||
			!strings.Contains(page, `type="checkbox" name="q.topics" id="q-topics-2" value="2" checked`) || !strings.Contains(page, "Choose up to 2.") {
			t.Fatalf("three topics: %s\n%s", resp.Status, page)
		}
		for who, form := range map[string]url.Values{
			"T-1": {"q.repair": {"0"}, "q.tp02": {"5"}, "q.tp01": {"5"}, "q.topics": {"0", "1"}, "shown": {"repair tp02 tp01 topics"}},
			"T-2": {"q.repair": {"0"}, "q.tp02": {"2"}, "q.tp01": {"4"}, "q.topics": {"1"}, "shown": {"repair tp02 tp01 topics"}},
			"T-3": {"q.repair": {"0"}, "q.tp02": {"4"}, "q.tp01": {"2"}, "shown": {"repair tp02 tp01 topics"}},
			// a tp02 the page never asked
			"T-4": {"q.repair": {"1"}, "q.tp02": {"1"}, "q.tp01": {"5"}, "q.topics": {"3", "1"}, "shown": {"repair tp01 topics"}},
			"T-5": {"q.repair": {"1"}, "q.tp01": {"4"}, "q.topics": {"2"}, "shown": {"repair tp01 topics"}},
		} {
			if resp, page := e.post(link(who), form); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s: %s\n%s", who, resp.Status, page)
			}
		}
		r, err := e.store.GetResponse(t.Context(), uid, "cond", "T-4")
		if err != nil || !r.Complete || len(r.Answers) != 3 {
			t.Errorf("T-4, who had no repair: %+v, %v (complete, without tp02)", r, err)
		}
		if _, page := e.get(link("T-4")); !strings.Contains(page, `id="q-topics-1" value="1" checked`) || !strings.Contains(page, `id="q-topics-3" value="3" checked`) ||
			strings.Contains(page, `id="q-topics-0" value="0" checked`) {
			t.Errorf("T-4's page on a later visit does not show their topics ticked")
		}

		// tp02 over the 3 tenants asked it, 2 satisfied: 66.7; tp01 over all 5, 4 satisfied: 80.0.
		var sum responseapi.Summary
		e.api(http.MethodGet, responseapi.RouteSummary.Path(uid, "cond")+"?primary=tp01", nil, http.StatusOK, &sum)
		// A minimum group size of 3, so that tp02's 3 answers are scored (the default 5 would
		// publish only their count).
		spec := &v1alpha1.SurveyCampaignSpec{Survey: *repairsSurvey(), Reporting: &v1alpha1.Reporting{MinimumGroupSize: ptr.To(int32(3))}}
		got := map[string]v1alpha1.QuestionScore{}
		for _, s := range campaign.Score(spec, sum).Scores {
			got[s.Question] = s
		}
		if got["tp02"].N != 3 || got["tp02"].Value != "66.7" || got["tp01"].N != 5 || got["tp01"].Value != "80.0" {
			t.Errorf("scores %+v", got)
		}
		// Topics: 4 answered (T-3 ticked none); Rent chosen by 3 of them.
		choices := campaign.Score(spec, sum).Choices
		want := []campaign.OptionShare{{Choice: "Repairs", Count: 1, Share: "25.0"}, {Choice: "Rent", Count: 3, Share: "75.0"},
			{Choice: "Neighbourhood", Count: 1, Share: "25.0"}, {Choice: "Communal areas", Count: 1, Share: "25.0"}}
		if len(choices) != 2 || choices[1].Question != "topics" || choices[1].N != 4 || !slices.Equal(choices[1].Options, want) {
			t.Errorf("choices %+v", choices)
		}
		if choices[0].Question != "repair" || choices[0].N != 5 || choices[0].Options[0].Count != 3 || choices[0].Options[0].Share != "60.0" {
			t.Errorf("repair: %+v", choices[0])
		}

		// The export names the topics ticked.
		exporter := http.Header{"Authorization": {"Bearer " + apitoken.Credential([]byte(apiToken), apitoken.Exporter, "riverside-homes")}}
		if code, csv := e.send(http.MethodGet, responseapi.RouteExport.Path(uid, "cond"), nil, exporter); code != http.StatusOK ||
			!strings.Contains(csv, ",Rent; Communal areas\n") {
			t.Errorf("export: %d\n%s", code, csv)
		}
		if code, jsonl := e.send(http.MethodGet, responseapi.RouteExport.Path(uid, "cond")+"?format=jsonl", nil, exporter); code != http.StatusOK ||
			!strings.Contains(jsonl, `"topics":["Rent","Communal areas"]`) {
			t.Errorf("export as JSON Lines: %d\n%s", code, jsonl)
		}
	})
}
