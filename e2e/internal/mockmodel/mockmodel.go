// Package mockmodel is a model provider on loopback for the agent tests: it
// speaks what the real agents speak — Anthropic Messages, OpenAI Responses
// and Chat Completions, Gemini's generateContent — streaming where they
// stream. The first turn of a conversation answers with one shell tool
// call (the command the test set); a turn that carries the tool's result
// ends with text. Every request is recorded, body and all: what the model
// would have seen.
package mockmodel

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
)

// FinalText is the text of the last turn.
const FinalText = "MOCK-DONE: the command ran."

// Request is one request the mock received.
type Request struct {
	Method, Path string
	Header       http.Header
	Body         string
}

// Server is the mock provider.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	command  string
	requests []Request
	calls    int // tool calls answered
	// CAFile is a PEM file of the TLS server's certificate (StartTLS), for
	// SSL_CERT_FILE of whatever must trust it.
	CAFile string
}

// Start serves on 127.0.0.1; command is what the shell tool call runs.
func Start(command string) *Server {
	s := &Server{command: command}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// StartTLS serves HTTPS on 127.0.0.1 with httptest's certificate, written
// to CAFile (readable by anyone; Close removes it).
func StartTLS(command string) *Server {
	s := &Server{command: command}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	if f, err := os.CreateTemp("", "aicage-mock-ca-*.pem"); err == nil {
		pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
		f.Chmod(0o644)
		f.Close()
		s.CAFile = f.Name()
	}
	return s
}

// Close stops the server and removes its CA file.
func (s *Server) Close() {
	s.Server.Close()
	if s.CAFile != "" {
		os.Remove(s.CAFile)
	}
}

// Requests returns a copy of what the mock received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ToolCalls is how many tool calls the mock has answered with.
func (s *Server) ToolCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// SetCommand changes the command of later tool calls.
func (s *Server) SetCommand(c string) {
	s.mu.Lock()
	s.command = c
	s.mu.Unlock()
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: string(body)})
	command := s.command
	s.mu.Unlock()
	var req map[string]any
	json.Unmarshal(body, &req)
	t := turn{s: s, w: w, req: req, raw: string(body), command: command}
	p := r.URL.Path
	switch {
	case strings.HasSuffix(p, "/messages/count_tokens"):
		writeJSON(w, map[string]any{"input_tokens": 100})
	case strings.HasSuffix(p, "/messages"):
		t.anthropic()
	case strings.HasSuffix(p, "/responses"):
		t.responses()
	case strings.HasSuffix(p, "/chat/completions"):
		t.chat()
	case strings.Contains(p, ":streamGenerateContent"):
		t.gemini(true)
	case strings.Contains(p, ":generateContent"):
		t.gemini(false)
	case strings.Contains(p, ":countTokens"):
		writeJSON(w, map[string]any{"totalTokens": 100})
	case strings.HasSuffix(p, "/models"):
		writeJSON(w, map[string]any{"object": "list", "data": []any{map[string]any{"id": "mock-model", "object": "model", "owned_by": "mock"}}, "models": []any{}})
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"type":"not_found_error","message":"mock: no such endpoint"}}`)
	}
}

// turn answers one request.
type turn struct {
	s       *Server
	w       http.ResponseWriter
	req     map[string]any
	raw     string
	command string
}

// wantsTool says whether this request gets the tool call: it offers the
// tool and carries no tool result yet.
func (t *turn) wantsTool(tool string, results ...string) bool {
	if tool == "" {
		return false
	}
	for _, r := range results {
		if strings.Contains(t.raw, r) {
			return false
		}
	}
	t.s.mu.Lock()
	t.s.calls++
	t.s.mu.Unlock()
	return true
}

// toolNames lists the names of the tools a request offers, wherever the
// API keeps them.
func (t *turn) toolNames() []string {
	var names []string
	tools, _ := t.req["tools"].([]any)
	for _, x := range tools {
		m, _ := x.(map[string]any)
		if n, ok := m["name"].(string); ok {
			names = append(names, n)
		}
		if f, ok := m["function"].(map[string]any); ok {
			if n, ok := f["name"].(string); ok {
				names = append(names, n)
			}
		}
		if fs, ok := m["functionDeclarations"].([]any); ok {
			for _, f := range fs {
				fm, _ := f.(map[string]any)
				if n, ok := fm["name"].(string); ok {
					names = append(names, n)
				}
			}
		}
	}
	return names
}

// pick returns the first of want that the request offers.
func (t *turn) pick(want ...string) string {
	names := t.toolNames()
	for _, w := range want {
		for _, n := range names {
			if strings.EqualFold(n, w) {
				return n
			}
		}
	}
	return ""
}

func (t *turn) stream() bool { b, _ := t.req["stream"].(bool); return b }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// sse writes server-sent events; an empty name writes a bare data line.
type sse struct {
	w http.ResponseWriter
}

func newSSE(w http.ResponseWriter) sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	return sse{w}
}

func (e sse) event(name string, data any) {
	if name != "" {
		fmt.Fprintf(e.w, "event: %s\n", name)
	}
	s, ok := data.(string)
	if !ok {
		s = mustJSON(data)
	}
	fmt.Fprintf(e.w, "data: %s\n\n", s)
	if f, ok := e.w.(http.Flusher); ok {
		f.Flush()
	}
}
