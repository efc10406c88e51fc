package mockmodel

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Each API: the first turn is the tool call with the command, a turn with
// the tool's result is text, and every body is recorded.
func TestTurns(t *testing.T) {
	s := Start("echo hi")
	defer s.Close()
	for _, c := range []struct{ path, first, second, call string }{
		{"/v1/messages", `{"stream":true,"tools":[{"name":"Bash"}],"messages":[]}`,
			`{"stream":true,"tools":[{"name":"Bash"}],"messages":[{"content":[{"type":"tool_result"}]}]}`, `"name":"Bash"`},
		{"/v1/responses", `{"stream":true,"tools":[{"type":"function","name":"exec_command"}],"input":[]}`,
			`{"stream":true,"tools":[{"type":"function","name":"exec_command"}],"input":[{"type":"function_call_output"}]}`, `\"cmd\":\"echo hi\"`},
		{"/v1/chat/completions", `{"stream":true,"tools":[{"type":"function","function":{"name":"bash"}}],"messages":[]}`,
			`{"stream":true,"tools":[{"type":"function","function":{"name":"bash"}}],"messages":[{"role":"tool"}]}`, `"tool_calls"`},
		{"/v1beta/models/m:streamGenerateContent?alt=sse", `{"tools":[{"functionDeclarations":[{"name":"run_shell_command"}]}],"contents":[]}`,
			`{"tools":[{"functionDeclarations":[{"name":"run_shell_command"}]}],"contents":[{"parts":[{"functionResponse":{}}]}]}`, `"functionCall"`},
	} {
		if got := post(t, s.URL+c.path, c.first); !strings.Contains(got, c.call) || !strings.Contains(got, "echo hi") {
			t.Errorf("%s, first turn: no tool call %s in\n%s", c.path, c.call, got)
		}
		if got := post(t, s.URL+c.path, c.second); strings.Contains(got, c.call) || !strings.Contains(got, FinalText) {
			t.Errorf("%s, after the tool: want text, got\n%s", c.path, got)
		}
	}
	if n := len(s.Requests()); n != 8 {
		t.Errorf("recorded %d requests, want 8", n)
	}
}
