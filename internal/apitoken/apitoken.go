// Package apitoken is the contract of the response service's API token file: one bearer token
// per line, every one accepted by the service, the first sent by clients. It is read by the
// collector, the manager and each sender, and imports none of them.
package apitoken

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"
)

// The API token file holds one token per line. The service accepts every one of them; clients
// send the first. Rotating is so done without refusing anyone: add the new token as a second
// line, then make it the first, then remove the old. The file is a mounted Secret's key, which
// the kubelet updates in place: the service and the manager read it again (Watch), and
// each sending Job reads it when it starts.

// MinBytes is the shortest token accepted.
const MinBytes = 16

// Parse reads an API token file: its non-empty lines, trimmed, each at least 16 bytes with no
// control character but a tab.
func Parse(data []byte) ([][]byte, error) {
	var tokens [][]byte
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(line) < MinBytes {
			return nil, fmt.Errorf("the API token on line %d is shorter than %d bytes", i+1, MinBytes)
		}
		if bytes.ContainsFunc(line, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			// Such as a carriage return that ends lines without a line feed: no HTTP header
			// carries it, so no client could send the token.
			return nil, fmt.Errorf("the API token on line %d has a control character", i+1)
		}
		tokens = append(tokens, line)
	}
	if len(tokens) == 0 {
		return nil, errors.New("the API token file holds no token")
	}
	return tokens, nil
}

// First is the token a client sends: the first line of the file's contents.
func First(data string) string {
	for line := range bytes.Lines([]byte(data)) {
		if t := bytes.TrimSpace(line); len(t) > 0 {
			return string(t)
		}
	}
	return ""
}

// Watch reads the token file every `every` and calls update with its tokens when they
// change, until ctx ends. A file that cannot be read or holds no valid token is logged and the
// tokens in use are kept.
func Watch(ctx context.Context, log *slog.Logger, path string, every time.Duration, current [][]byte, update func([][]byte)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		data, err := os.ReadFile(path)
		if err == nil {
			var tokens [][]byte
			if tokens, err = Parse(data); err == nil {
				if !slices.EqualFunc(tokens, current, bytes.Equal) {
					log.Info("API tokens reloaded", "file", path, "tokens", len(tokens))
					current = tokens
					update(tokens)
				}
				continue
			}
		}
		log.Error("reading the API token file; keeping the tokens in use", "file", path, "error", err)
	}
}
