// Command demo is the synthetic side of `make demo` (hack/demo.sh):
//
//	demo audience [--count N] [--seed S]     writes a CSV of N synthetic residents to stdout
//	demo respond --mail URL --survey URL     answers the survey links that arrived at the mail
//	             [--rate R] [--wait D]       sink, as a realistic spread of tenants would
//	demo links --mail URL [--clear]         prints how many distinct survey links the mail sink
//	                                         holds; --clear empties it first
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/surveyops/survey-operator/internal/demo"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: demo audience|respond [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "audience":
		fs := flag.NewFlagSet("audience", flag.ExitOnError)
		count := fs.Int("count", 300, "how many residents")
		seed := fs.Uint64("seed", 2026, "the seed: the same seed gives the same residents")
		_ = fs.Parse(os.Args[2:])
		err = demo.WriteAudience(os.Stdout, *count, *seed)
	case "respond":
		fs := flag.NewFlagSet("respond", flag.ExitOnError)
		mail := fs.String("mail", "", "the mail sink's web address (its JSON API)")
		survey := fs.String("survey", "", "where the survey page is reached from here (replaces the links' scheme and host)")
		rate := fs.Float64("rate", 0.45, "the share of invited tenants who answer")
		want := fs.Int("invitations", 1, "wait until at least this many survey links have arrived")
		wait := fs.Duration("wait", 3*time.Minute, "how long to wait for them")
		_ = fs.Parse(os.Args[2:])
		err = respond(*mail, *survey, *rate, *want, *wait)
	case "links":
		fs := flag.NewFlagSet("links", flag.ExitOnError)
		mail := fs.String("mail", "", "the mail sink's web address (its JSON API)")
		clear := fs.Bool("clear", false, "empty the mail sink first")
		_ = fs.Parse(os.Args[2:])
		err = links(*mail, *clear)
	default:
		err = fmt.Errorf("unknown command %q (audience, respond or links)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func respond(mail, survey string, rate float64, want int, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait+5*time.Minute)
	defer cancel()
	// A connection per request: one made before kube-proxy routes a Service's cluster IP goes
	// out by the default route, and kept alive it would stay there.
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var links []string
	waitCtx, stop := context.WithTimeout(ctx, wait)
	defer stop()
	err := demo.Retry(waitCtx, 2*time.Second, func() error {
		mails, err := demo.Mailbox(ctx, client, mail)
		if err != nil {
			return err
		}
		if links = demo.SurveyLinks(mails); len(links) < want {
			return fmt.Errorf("%d of %d survey links have arrived", len(links), want)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the invitations: %w", err)
	}
	r := &demo.Respondent{Base: survey, Rate: rate, Client: client}
	out, err := r.Run(ctx, links)
	if err != nil {
		return err
	}
	fmt.Printf("demo respondent: %d invitations, %d answered (very satisfied %d, fairly satisfied %d, neither %d, fairly dissatisfied %d, very dissatisfied %d), %d did not answer\n",
		out.Links, out.Answered, out.ByMood[5], out.ByMood[4], out.ByMood[3], out.ByMood[2], out.ByMood[1], out.Skipped)
	return nil
}

// links prints how many distinct survey links the mail sink holds, after emptying it when
// clear is set.
func links(mail string, clear bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if clear {
		if err := demo.ClearMailbox(ctx, client, mail); err != nil {
			return err
		}
	}
	mails, err := demo.Mailbox(ctx, client, mail)
	if err != nil {
		return err
	}
	fmt.Println(len(demo.SurveyLinks(mails)))
	return nil
}
