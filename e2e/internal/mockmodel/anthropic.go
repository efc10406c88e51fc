package mockmodel

// anthropic answers POST /v1/messages: Claude Code's Bash tool on the
// first turn, text once a tool_result came back. Requests without the
// tool (titles, topic checks) get text.
func (t *turn) anthropic() {
	tool := t.pick("Bash")
	model, _ := t.req["model"].(string)
	var block map[string]any
	stop := "end_turn"
	if t.wantsTool(tool, `"tool_result"`) {
		stop = "tool_use"
		block = map[string]any{"type": "tool_use", "id": "toolu_mock1", "name": tool,
			"input": map[string]any{"command": t.command, "description": "run the test command"}}
	} else {
		block = map[string]any{"type": "text", "text": FinalText}
	}
	usage := map[string]any{"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
	msg := map[string]any{"id": "msg_mock", "type": "message", "role": "assistant", "model": model,
		"content": []any{block}, "stop_reason": stop, "stop_sequence": nil, "usage": usage}
	if !t.stream() {
		writeJSON(t.w, msg)
		return
	}
	e := newSSE(t.w)
	start := map[string]any{}
	for k, v := range msg {
		start[k] = v
	}
	start["content"], start["stop_reason"] = []any{}, nil
	e.event("message_start", map[string]any{"type": "message_start", "message": start})
	if block["type"] == "tool_use" {
		e.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "tool_use", "id": block["id"], "name": block["name"], "input": map[string]any{}}})
		e.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "input_json_delta", "partial_json": mustJSON(block["input"])}})
	} else {
		e.event("content_block_start", map[string]any{"type": "content_block_start", "index": 0,
			"content_block": map[string]any{"type": "text", "text": ""}})
		e.event("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]any{"type": "text_delta", "text": FinalText}})
	}
	e.event("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	e.event("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}, "usage": map[string]any{"output_tokens": 5}})
	e.event("message_stop", map[string]any{"type": "message_stop"})
}
