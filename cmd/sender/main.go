// Command sender is the container of every sending Job: one wave, one reminder round or one
// follow-up batch. It reads the job file the manager mounts, sends, and leaves a summary (counts
// only, no personal data) in the termination message and as its last log line.
//
// Exit status: 0 when done, or when it stopped at the start of quiet hours (the summary says
// "stopped": the manager starts the rest in the next window); 1 on an error, such as an invalid
// audience (nothing is sent then).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
	_ "time/tzdata" // the time zone database in the binary: the image has none

	"github.com/surveyops/survey-operator/internal/jobfile"
	"github.com/surveyops/survey-operator/internal/sender"
)

func main() {
	jobFile := flag.String("job", "/etc/survey/job/job.json", "the job file; the "+jobfile.EnvJob+" environment variable, when set, is used instead")
	terminationLog := flag.String("termination-log", "/dev/termination-log", "where the summary is written for the Job's status")
	progressEvery := flag.Duration("progress-every", 10*time.Second, "how often progress is logged")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	sum, err := run(log, *jobFile, *progressEvery)
	if werr := os.WriteFile(*terminationLog, []byte(sum.JSON()), 0o644); werr != nil {
		log.Warn("cannot write the termination message", "error", werr)
	}
	fmt.Println(sum.JSON())
	if err != nil && !errors.Is(err, sender.ErrQuietHours) {
		os.Exit(1)
	}
}

func run(log *slog.Logger, jobFile string, every time.Duration) (jobfile.Summary, error) {
	fail := func(err error) (jobfile.Summary, error) {
		return jobfile.Summary{Error: err.Error(), Failed: map[string]int{}, Skipped: map[string]int{}}, err
	}
	var err error
	data := []byte(os.Getenv(jobfile.EnvJob))
	if len(data) == 0 {
		if data, err = os.ReadFile(jobFile); err != nil {
			return fail(fmt.Errorf("reading the job file: %w", err))
		}
	}
	var cfg jobfile.Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fail(fmt.Errorf("the job file is not valid: %w", err))
	}
	shard := 0
	if v := os.Getenv("JOB_COMPLETION_INDEX"); v != "" {
		if shard, err = strconv.Atoi(v); err != nil {
			return fail(fmt.Errorf("JOB_COMPLETION_INDEX %q is not a number", v))
		}
	}
	job, err := sender.Build(cfg, shard)
	if err != nil {
		return fail(err)
	}
	defer func() {
		for _, c := range job.Channels {
			_ = c.Close()
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	start, last := time.Now(), time.Now()
	job.Progress = func(s jobfile.Summary) {
		if time.Since(last) < every {
			return
		}
		last = time.Now()
		elapsed := time.Since(start).Seconds()
		log.Info("progress", "sent", s.Sent, "invited", s.Invited, "perSecond", float64(s.Sent)/max(elapsed, 0.001))
	}
	log.Info("sending", "campaign", cfg.Campaign, "wave", cfg.WaveID, "round", cfg.Round, "shard", shard)
	return sender.Run(ctx, job)
}
