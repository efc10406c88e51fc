package mockmodel

import "strings"

// gemini answers models/MODEL:generateContent and :streamGenerateContent
// (alt=sse): a functionCall to run_shell_command, then text once a
// functionResponse came back. Requests for JSON (gemini's next-speaker
// and loop checks) get a JSON text that ends the turn.
func (t *turn) gemini(stream bool) {
	tool := t.pick("run_shell_command")
	var part map[string]any
	if t.wantsTool(tool, `"functionResponse"`) {
		part = map[string]any{"functionCall": map[string]any{"name": tool,
			"args": map[string]any{"command": t.command, "description": "run the test command"}}}
	} else if cfg, _ := t.req["generationConfig"].(map[string]any); cfg["responseMimeType"] == "application/json" {
		schema, _ := cfg["responseJsonSchema"].(map[string]any)
		if schema == nil {
			schema, _ = cfg["responseSchema"].(map[string]any)
		}
		part = map[string]any{"text": mustJSON(fill(schema, ""))}
	} else {
		part = map[string]any{"text": FinalText}
	}
	resp := map[string]any{
		"candidates": []any{map[string]any{"index": 0, "finishReason": "STOP",
			"content": map[string]any{"role": "model", "parts": []any{part}}}},
		"usageMetadata": map[string]any{"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
		"modelVersion":  "mock-model",
	}
	if !stream {
		writeJSON(t.w, resp)
		return
	}
	newSSE(t.w).event("", resp)
}

// fill makes a value that satisfies a JSON schema well enough for
// gemini's checks: "user" for next_speaker, the first of an enum, 1 for
// numbers, the properties of an object.
func fill(schema map[string]any, name string) any {
	typ, _ := schema["type"].(string)
	switch strings.ToLower(typ) {
	case "object":
		out := map[string]any{}
		props, _ := schema["properties"].(map[string]any)
		for k, v := range props {
			m, _ := v.(map[string]any)
			out[k] = fill(m, k)
		}
		return out
	case "integer", "number":
		return 1
	case "boolean":
		return false
	case "array":
		return []any{}
	}
	if name == "next_speaker" {
		return "user"
	}
	if e, ok := schema["enum"].([]any); ok && len(e) > 0 {
		return e[0]
	}
	return "mock"
}
