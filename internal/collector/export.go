package collector

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/survey"
)

// The export: a wave's responses, one row per respondent, streamed as the store reads them (a
// wave of any size in the same memory). A respondent is named by a pseudonym, an HMAC of their
// key under the campaign's export key (which never leaves the store): the same person has the
// same pseudonym in every export of the campaign, and no contact address or key appears.

// notApplicableCell is a "not applicable" answer in a CSV cell.
const notApplicableCell = "N/A"

// flushEvery rows, the response is sent on.
const flushEvery = 500

// exportStall is how long an export may go without sending flushEvery rows.
const exportStall = time.Minute

func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	ref := store.WaveRef{CampaignUID: pathID(r, "campaign"), WaveID: pathID(r, "wave")}
	campaign, waveID := pathName(r, "campaign"), pathName(r, "wave")
	if !s.permitWaves(w, r, ref) {
		return
	}
	format := queryValue(r, "format")
	switch format {
	case "":
		format = "csv"
	case "csv", "jsonl":
	default:
		writeJSONError(w, http.StatusBadRequest, "format must be csv or jsonl")
		return
	}
	wave, err := s.store.GetWave(r.Context(), campaign, waveID)
	if err != nil {
		s.storeError(w, err)
		return
	}
	def, err := s.definition(wave)
	if err != nil {
		s.storeError(w, err)
		return
	}
	name := wave.Campaign + "-" + wave.WaveID + "." + format
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	if wave.Anonymous {
		// No row per respondent: the written answers, one per row, in random order.
		write, finish := commentRows(w, format)
		streamRows(s, w, r, ref, func(fn func(store.Comment) error) error {
			return s.store.ExportComments(r.Context(), campaign, waveID, fn)
		}, write, finish)
		return
	}
	key, err := s.store.ExportKey(r.Context(), campaign)
	if err != nil {
		s.storeError(w, err)
		return
	}
	write, finish := jsonRows(w, def, key)
	if format == "csv" {
		write, finish = csvRows(w, def, key)
	}
	streamRows(s, w, r, ref, func(fn func(store.ExportedResponse) error) error {
		return s.store.ExportResponses(r.Context(), campaign, waveID, fn)
	}, write, finish)
}

// streamRows writes the rows read, flushing every flushEvery of them. The server's write
// timeout bounds a page; an export runs as long as it moves: each flush gives it another
// exportStall.
func streamRows[T any](s *Server, w http.ResponseWriter, r *http.Request, ref store.WaveRef, read func(func(T) error) error,
	write func(T) error, finish func() error) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(exportStall))
	rows := 0
	err := read(func(row T) error {
		if err := write(row); err != nil {
			return err
		}
		if rows++; rows%flushEvery == 0 {
			if err := finish(); err != nil {
				return err
			}
			if err := rc.Flush(); err != nil {
				return err
			}
			_ = rc.SetWriteDeadline(time.Now().Add(exportStall))
		}
		return nil
	})
	if err == nil {
		err = finish()
	}
	if err != nil {
		// The status is sent: cut the response off, so that the caller sees an error, not a
		// file that looks whole.
		if !errors.Is(err, r.Context().Err()) {
			s.log.Error("an export failed part way", "campaign", ref.CampaignUID, "wave", ref.WaveID, "rows", rows, "error", err)
		}
		panic(http.ErrAbortHandler)
	}
}

// commentRows writes an anonymous wave's written answers: question and comment.
func commentRows(w io.Writer, format string) (func(store.Comment) error, func() error) {
	if format == "csv" {
		cw := csv.NewWriter(w)
		headerErr := cw.Write([]string{"question", "comment"})
		return func(c store.Comment) error {
				if headerErr != nil {
					return headerErr
				}
				return cw.Write([]string{c.Question, defuse(c.Text)})
			}, func() error {
				cw.Flush()
				return cw.Error()
			}
	}
	enc := json.NewEncoder(w)
	return func(c store.Comment) error {
		return enc.Encode(map[string]string{"question": c.Question, "comment": c.Text})
	}, func() error { return nil }
}

// pseudonym names a respondent in the exports of a campaign.
func pseudonym(key []byte, recipientKey string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(recipientKey))
	return "p-" + hex.EncodeToString(h.Sum(nil)[:10])
}

func disposition(complete bool) string {
	if complete {
		return "complete"
	}
	return "partial"
}

// answerValue is an answer as an export shows it: a scale's point, a choice's text, the text.
func answerValue(q *survey.Question, a store.Answer) any {
	switch {
	case a.Value != nil && q.Multiple:
		return strings.Join(q.Picked(*a.Value), "; ")
	case a.Value != nil && len(q.Choices) > 0 && *a.Value >= 0 && *a.Value < len(q.Choices):
		return q.Choices[*a.Value]
	case a.Value != nil:
		return *a.Value
	}
	return a.Text
}

// answerColumn is the first CSV column of the answers, after the respondent's own.
const answerColumn = 7

func csvRows(w io.Writer, def survey.Definition, key []byte) (func(store.ExportedResponse) error, func() error) {
	cw := csv.NewWriter(w)
	header := []string{"respondent", "segment", "channel", "disposition", "submitted_at", "updated_at", "language"}
	index := map[string]int{}
	for i, q := range def.Questions {
		header = append(header, q.ID)
		index[q.ID] = i
	}
	headerErr := cw.Write(header)
	row := make([]string, len(header))
	write := func(r store.ExportedResponse) error {
		if headerErr != nil {
			return headerErr
		}
		clear(row)
		// Every cell from outside is defused: the segment and channel too, though today the
		// spec's names cannot start with a formula character.
		row[0], row[1], row[2], row[3] = pseudonym(key, r.RecipientKey), defuse(r.Segment), defuse(r.Channel), disposition(r.Complete)
		row[6] = defuse(r.Language)
		row[4], row[5] = r.SubmittedAt.UTC().Format(time.RFC3339), r.UpdatedAt.UTC().Format(time.RFC3339)
		for _, a := range r.Answers {
			i, ok := index[a.Question]
			if !ok {
				continue // a question no longer in the definition
			}
			if a.NotApplicable {
				row[answerColumn+i] = notApplicableCell
				continue
			}
			switch v := answerValue(&def.Questions[i], a).(type) {
			case int:
				row[answerColumn+i] = strconv.Itoa(v)
			case string:
				row[answerColumn+i] = defuse(v)
			}
		}
		return cw.Write(row)
	}
	finish := func() error {
		cw.Flush()
		return cw.Error()
	}
	return write, finish
}

// defuse keeps a spreadsheet from reading a cell as a formula: one that starts with =, +, -, @,
// |, a tab or a carriage return gets a leading apostrophe (OWASP's advice on CSV injection),
// and so does one that starts with them behind invisible characters (a zero-width space, a
// byte-order mark: spreadsheets skip them) or in their fullwidth forms (＝, ＋, －, ＠, ｜),
// which some spreadsheets read as the ASCII ones.
func defuse(text string) string {
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Cf, r): // invisible: look at what follows
			continue
		case strings.ContainsRune("=+-@|\t\r\uff1d\uff0b\uff0d\uff20\uff5c", r):
			return "'" + text
		}
		break
	}
	return text
}

// exportedRow is a respondent as a line of JSON.
type exportedRow struct {
	Respondent    string         `json:"respondent"`
	Segment       string         `json:"segment"`
	Channel       string         `json:"channel"`
	Disposition   string         `json:"disposition"`
	Language      string         `json:"language,omitempty"`
	SubmittedAt   time.Time      `json:"submittedAt"`
	UpdatedAt     time.Time      `json:"updatedAt"`
	Answers       map[string]any `json:"answers"`
	NotApplicable []string       `json:"notApplicable,omitempty"`
}

func jsonRows(w io.Writer, def survey.Definition, key []byte) (func(store.ExportedResponse) error, func() error) {
	enc := json.NewEncoder(w)
	questions := map[string]*survey.Question{}
	for i := range def.Questions {
		questions[def.Questions[i].ID] = &def.Questions[i]
	}
	write := func(r store.ExportedResponse) error {
		row := exportedRow{Respondent: pseudonym(key, r.RecipientKey), Segment: r.Segment, Channel: r.Channel,
			Disposition: disposition(r.Complete), Language: r.Language, SubmittedAt: r.SubmittedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Answers: map[string]any{}}
		for _, a := range r.Answers {
			q, ok := questions[a.Question]
			switch {
			case !ok:
			case a.NotApplicable:
				row.NotApplicable = append(row.NotApplicable, a.Question)
			case q.Multiple && a.Value != nil:
				row.Answers[a.Question] = q.Picked(*a.Value) // the choices ticked, as a list
			default:
				row.Answers[a.Question] = answerValue(q, a)
			}
		}
		return enc.Encode(row)
	}
	return write, func() error { return nil }
}
