package load

import (
	"cmp"
	"slices"
	"strings"
)

// MessageCount is one distinct error message and how many errors had it.
type MessageCount struct {
	Message string
	Count   int64
}

// maxMessages is how many distinct messages are kept per error reason:
// enough to tell "connection refused" from "no route to host", few enough
// that a run whose every error differs keeps a bounded amount.
const maxMessages = 5

// OtherMessages is the message under which errors whose own message was
// not kept (past the first maxMessages distinct ones) are counted.
const OtherMessages = "(other messages)"

// errorMessages keeps the first distinct messages of each error reason,
// with exact counts, so that a result says what "tls 200" was.
type errorMessages struct {
	byReason [numReasons][]MessageCount
}

func (m *errorMessages) add(reason int, msg string, n int64) {
	kept := m.byReason[reason]
	for i := range kept {
		if kept[i].Message == msg {
			kept[i].Count += n
			return
		}
	}
	if len(kept) < maxMessages || msg == OtherMessages {
		m.byReason[reason] = append(kept, MessageCount{msg, n})
		return
	}
	for i := range kept {
		if kept[i].Message == OtherMessages {
			kept[i].Count += n
			return
		}
	}
	m.byReason[reason] = append(kept, MessageCount{OtherMessages, n})
}

func (m *errorMessages) merge(o *errorMessages) {
	for r := range o.byReason {
		for _, mc := range o.byReason[r] {
			m.add(r, mc.Message, mc.Count)
		}
	}
}

// fill returns the messages by reason name, most frequent first, the
// other messages last; nil when there are none.
func (m *errorMessages) fill() map[string][]MessageCount {
	var out map[string][]MessageCount
	for r, kept := range m.byReason {
		if len(kept) == 0 {
			continue
		}
		if out == nil {
			out = map[string][]MessageCount{}
		}
		list := slices.Clone(kept)
		slices.SortStableFunc(list, func(a, b MessageCount) int {
			if (a.Message == OtherMessages) != (b.Message == OtherMessages) {
				if a.Message == OtherMessages {
					return 1
				}
				return -1
			}
			return cmp.Compare(b.Count, a.Count)
		})
		out[reasonName(r)] = list
	}
	return out
}

// errorMessage is err's message with what varies per connection taken
// out — the local port in "127.0.0.1:54321->127.0.0.1:8080" — so that
// one cause is one message.
func errorMessage(err error) string {
	msg := err.Error()
	var b strings.Builder
	for {
		arrow := strings.Index(msg, "->")
		if arrow < 0 {
			break
		}
		head := msg[:arrow]
		colon := strings.LastIndexByte(head, ':')
		if colon < 0 || colon == len(head)-1 || strings.Trim(head[colon+1:], "0123456789") != "" {
			b.WriteString(msg[:arrow+2])
			msg = msg[arrow+2:]
			continue
		}
		b.WriteString(head[:colon+1])
		b.WriteString("*->")
		msg = msg[arrow+2:]
	}
	b.WriteString(msg)
	return b.String()
}
