package main

import (
	"fmt"
	"testing"
)

// The mailbox keeps the most recent keep messages, oldest first, and counts every recipient,
// the forgotten ones' too.
func TestMailboxKeepsTheMostRecent(t *testing.T) {
	b := &mailbox{keep: 3}
	for i := 1; i <= 7; i++ {
		b.add(Message{To: []string{fmt.Sprintf("p%d@example.org", i%5)}})
		want := min(i, 3)
		got := b.all()
		if len(got) != want {
			t.Fatalf("after %d: %d kept, want %d", i, len(got), want)
		}
		for j, m := range got {
			if m.ID != i-want+1+j {
				t.Fatalf("after %d: kept ids %v, want the last %d in order", i, ids(got), want)
			}
		}
	}
	if n := b.received["p1@example.org"] + b.received["p2@example.org"]; n != 4 {
		t.Errorf("p1 and p2 received %d, want 4", n)
	}
}

func ids(ms []Message) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// Keeping 20,000 and adding 100,000 is linear: the benchmark's time per message does not grow
// with keep (it did, by a copy of the kept messages per message).
func BenchmarkMailboxAdd(b *testing.B) {
	box := &mailbox{keep: 20000}
	m := Message{To: []string{"p@example.org"}, Text: "a survey link"}
	for b.Loop() {
		box.add(m)
	}
}
