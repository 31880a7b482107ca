package collector_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/surveyops/survey-operator/internal/apitoken"
	"github.com/surveyops/survey-operator/internal/collector"
	"github.com/surveyops/survey-operator/internal/responseapi"
	"github.com/surveyops/survey-operator/internal/store"
	"github.com/surveyops/survey-operator/internal/token"
)

// A token is rotated without refusing anyone: the service accepts every line of the file, the
// client sends the first, and both follow the file as it changes.
func TestAPITokenRotation(t *testing.T) {
	const oldToken, newToken = "old-token-0123456789", "new-token-0123456789"
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "survey.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, _ := token.NewKeyRing(token.Key{ID: "2026-01", Secret: bytes.Repeat([]byte{5}, 32)})
	file := filepath.Join(t.TempDir(), "token")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(oldToken + "\n")
	initial, _ := apitoken.Parse([]byte(oldToken))
	var accepted atomic.Pointer[[][]byte]
	accepted.Store(&initial)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var reloads atomic.Int32
	wg.Go(func() {
		apitoken.Watch(ctx, slog.New(slog.DiscardHandler), file, 5*time.Millisecond, initial, func(t [][]byte) {
			accepted.Store(&t)
			reloads.Add(1)
		})
	})
	srv, err := collector.New(collector.Config{Store: st, Keys: func() *token.KeyRing { return keys },
		APITokens: func() [][]byte { return *accepted.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ask := func(tok string) error {
		_, err := responseapi.NewClient(ts.URL, tok, nil).OptedOut(context.Background(), "riverside-homes", []string{"T-1"})
		return err
	}
	refused := func(err error) bool {
		var se *responseapi.StatusError
		return errors.As(err, &se) && se.Status == 401
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("never: %s", what)
			}
		}
	}

	if err := ask(oldToken); err != nil || !refused(ask(newToken)) {
		t.Fatalf("before: old %v, new %v", err, ask(newToken))
	}
	write(oldToken + "\n" + newToken + "\n") // the new token added
	eventually("the new token accepted", func() bool { return ask(newToken) == nil })
	if err := ask(oldToken); err != nil {
		t.Errorf("the old token refused while both are listed: %v", err)
	}
	client := responseapi.NewClient(ts.URL, oldToken+"\n"+newToken, nil) // sends the first line
	if _, err := client.OptedOut(context.Background(), "riverside-homes", []string{"T-1"}); err != nil {
		t.Fatal(err)
	}
	write("too-short\n") // a broken update keeps the tokens in use
	time.Sleep(50 * time.Millisecond)
	if err := ask(newToken); err != nil || reloads.Load() != 1 {
		t.Errorf("after a broken update: %v, %d reloads", err, reloads.Load())
	}
	write(newToken + "\n") // the old one removed
	eventually("the old token refused", func() bool { return refused(ask(oldToken)) })
	client.SetToken(newToken)
	if _, err := client.OptedOut(context.Background(), "riverside-homes", []string{"T-1"}); err != nil {
		t.Errorf("a client given the new token: %v", err)
	}
}
