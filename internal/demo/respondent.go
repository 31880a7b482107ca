package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Mail is one message as the demo's mail sink (hack/mailsink) shows it.
type Mail struct {
	ID      int      `json:"id"`
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Text    string   `json:"text"`
}

// Mailbox reads the mail sink's JSON API at base (such as http://10.96.12.7:8025).
func Mailbox(ctx context.Context, client *http.Client, base string) ([]Mail, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/api/messages", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mail sink: %s", resp.Status)
	}
	var mails []Mail
	return mails, json.NewDecoder(resp.Body).Decode(&mails)
}

// ClearMailbox empties the mail sink at base.
func ClearMailbox(ctx context.Context, client *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, strings.TrimSuffix(base, "/")+"/api/messages", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mail sink: %s", resp.Status)
	}
	return nil
}

var surveyLink = regexp.MustCompile(`https?://[^\s<>"]+/s/[A-Za-z0-9._~-]+`)

// SurveyLinks returns the distinct survey links in the messages (invitations and reminders
// carry the same link), in the order they first appear.
func SurveyLinks(mails []Mail) []string {
	seen := map[string]bool{}
	var links []string
	for _, m := range mails {
		for _, l := range surveyLink.FindAllString(m.Text, -1) {
			if !seen[l] {
				seen[l] = true
				links = append(links, l)
			}
		}
	}
	return links
}

// Respondent answers survey links like a population of tenants: about Rate of them answer, each
// with a mood drawn from a realistic spread of overall satisfaction (about seven in ten
// satisfied, one in five dissatisfied), the other answers following the mood with some noise,
// "not applicable" where offered and plausible, and a comment from some. Everything is decided by
// the link's token, so a second run gives the same answers (and the survey page updates the
// response rather than adding one).
type Respondent struct {
	// Base replaces the scheme and host of each link: where the survey page is reached from
	// here (links carry the public URL, which may be a port-forward or an Ingress).
	Base   string
	Rate   float64
	Client *http.Client
	// Mood, when set, overrides the mood (1 very dissatisfied ... 5 very satisfied) of a link.
	Mood func(link string) int
}

// Outcome counts what a run did.
type Outcome struct {
	Links, Answered, Skipped int
	// ByMood counts the answered links by mood (index 1..5).
	ByMood [6]int
}

// Run answers every link it decides to answer; it stops at the first link that fails.
func (r *Respondent) Run(ctx context.Context, links []string) (Outcome, error) {
	out := Outcome{Links: len(links)}
	for _, link := range links {
		rng := rngFor(link)
		if rng.Float64() >= r.Rate {
			out.Skipped++
			continue
		}
		mood := moodOf(rng)
		if r.Mood != nil {
			mood = r.Mood(link)
		}
		if err := r.Answer(ctx, link, mood); err != nil {
			return out, err
		}
		out.Answered++
		out.ByMood[mood]++
	}
	return out, nil
}

// Answer opens the survey page of link, fills it in with the given mood and sends it; it
// returns nil only when the service acknowledged the submission (303 to the thank-you page).
func (r *Respondent) Answer(ctx context.Context, link string, mood int) error {
	page, err := r.Rebase(link)
	if err != nil {
		return err
	}
	body, status, err := r.do(ctx, http.MethodGet, page, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("survey page: HTTP %d", status)
	}
	// Every question is answered, those the page hides too (a question asked only on a
	// condition): the service keeps the answers of the questions the answers call for.
	form := fill(body, rngFor(link+"#answers"), mood)
	if len(form) == 0 {
		return errors.New("survey page: no questions found")
	}
	for range 3 {
		if m := shownField.FindStringSubmatch(body); m != nil {
			form.Set("shown", m[1])
		}
		body, status, err = r.do(ctx, http.MethodPost, page, form)
		if err != nil {
			return err
		}
		switch {
		case status == http.StatusSeeOther:
			return nil
		case status == http.StatusOK && shownField.MatchString(body):
			continue // the answers brought up questions the page had hidden: sent again, now seen
		}
		return fmt.Errorf("submitting the survey: HTTP %d", status)
	}
	return errors.New("submitting the survey: the page kept asking for more questions")
}

// Rebase returns the link with the scheme and host of Base.
func (r *Respondent) Rebase(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", err
	}
	if r.Base == "" {
		return link, nil
	}
	b, err := url.Parse(r.Base)
	if err != nil {
		return "", err
	}
	u.Scheme, u.Host = b.Scheme, b.Host
	return u.String(), nil
}

func (r *Respondent) do(ctx context.Context, method, page string, form url.Values) (string, int, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, page, body)
	if err != nil {
		return "", 0, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	client := *r.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return string(b), resp.StatusCode, err
}

func rngFor(s string) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return rand.New(rand.NewPCG(h.Sum64(), 0xdec0de))
}

// moodOf draws overall satisfaction: 30% very satisfied, 41% fairly satisfied, 9% neither,
// 12% fairly dissatisfied, 8% very dissatisfied (about the sector's median of 71% satisfied).
func moodOf(r *rand.Rand) int {
	p := r.IntN(100)
	switch {
	case p < 30:
		return 5
	case p < 71:
		return 4
	case p < 80:
		return 3
	case p < 92:
		return 2
	default:
		return 1
	}
}

var (
	shownField = regexp.MustCompile(`<input type="hidden" name="shown" value="([^"]*)">`)
	radio      = regexp.MustCompile(`<input type="radio" name="q\.([^"]+)" id="[^"]*" value="([^"]*)"`)
	textarea   = regexp.MustCompile(`<textarea id="[^"]*" name="q\.([^"]+)"`)
)

var comments = []string{
	"The repairs team were polite but it took three visits to fix the boiler.",
	"Please keep the communal stairs cleaner, the lights have been out for weeks.",
	"Very happy with my home and the neighbourhood officer is always helpful.",
	"Nobody called back when I reported the damp in the bedroom.",
	"Good service overall, thank you.",
}

// fill answers the questions of a survey page (its radio groups and text areas) for a mood.
func fill(page string, r *rand.Rand, mood int) url.Values {
	options := map[string][]string{}
	var order []string
	for _, m := range radio.FindAllStringSubmatch(page, -1) {
		if _, ok := options[m[1]]; !ok {
			order = append(order, m[1])
		}
		options[m[1]] = append(options[m[1]], m[2])
	}
	form := url.Values{}
	for i, q := range order {
		if v := pick(options[q], r, mood, i == 0); v != "" {
			form.Set("q."+q, v)
		}
	}
	for _, m := range textarea.FindAllStringSubmatch(page, -1) {
		if r.IntN(100) < 30 {
			form.Set("q."+m[1], comments[r.IntN(len(comments))])
		}
	}
	return form
}

// pick chooses one option of a question: numeric scales follow the mood (the first question
// exactly, the others with noise), "na" is chosen now and then where offered, and choices
// (indexes) lean to the first for content tenants.
func pick(values []string, r *rand.Rand, mood int, first bool) string {
	var nums []int
	na := false
	for _, v := range values {
		if v == "na" {
			na = true
			continue
		}
		if n, err := strconv.Atoi(v); err == nil {
			nums = append(nums, n)
		}
	}
	if len(nums) == 0 {
		return ""
	}
	if na && !first && r.IntN(100) < 25 {
		return "na"
	}
	sort.Ints(nums)
	lo, hi := nums[0], nums[len(nums)-1]
	if lo == 0 && hi == len(nums)-1 && len(nums) <= 4 {
		// Choices, by index: content tenants mostly give the first answer.
		if r.IntN(5) < mood {
			return "0"
		}
		return strconv.Itoa(1 + r.IntN(len(nums)-1))
	}
	m := mood
	if !first {
		m += r.IntN(3) - 1
		m = max(1, min(5, m))
	}
	pos := float64(m-1) / 4
	return strconv.Itoa(lo + int(pos*float64(hi-lo)+0.5))
}

// Retry runs f until it succeeds or ctx ends, waiting between attempts.
func Retry(ctx context.Context, every time.Duration, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(every):
		}
	}
}
