package mockmodel

// responses answers POST /v1/responses (codex): a function_call item for
// its shell tool — exec_command {cmd}, shell_command {command} or shell
// {command: [argv]}, whichever the request offers — then a message once a
// function_call_output came back.
func (t *turn) responses() {
	tool := t.pick("exec_command", "shell_command", "shell", "local_shell")
	var item map[string]any
	if t.wantsTool(tool, `"function_call_output"`, `"custom_tool_call_output"`) {
		var args map[string]any
		switch tool {
		case "exec_command":
			args = map[string]any{"cmd": t.command}
		case "shell_command":
			args = map[string]any{"command": t.command}
		default:
			args = map[string]any{"command": []string{"bash", "-c", t.command}}
		}
		item = map[string]any{"type": "function_call", "id": "fc_mock1", "call_id": "call_mock1",
			"name": tool, "arguments": mustJSON(args), "status": "completed"}
	} else {
		item = map[string]any{"type": "message", "id": "msg_mock1", "role": "assistant", "status": "completed",
			"content": []any{map[string]any{"type": "output_text", "text": FinalText, "annotations": []any{}}}}
	}
	model, _ := t.req["model"].(string)
	usage := map[string]any{"input_tokens": 10, "input_tokens_details": map[string]any{"cached_tokens": 0},
		"output_tokens": 5, "output_tokens_details": map[string]any{"reasoning_tokens": 0}, "total_tokens": 15}
	resp := map[string]any{"id": "resp_mock", "object": "response", "created_at": 1, "status": "completed",
		"model": model, "output": []any{item}, "usage": usage}
	if !t.stream() {
		writeJSON(t.w, resp)
		return
	}
	e := newSSE(t.w)
	created := map[string]any{"id": "resp_mock", "object": "response", "created_at": 1, "status": "in_progress", "model": model, "output": []any{}}
	e.event("response.created", map[string]any{"type": "response.created", "sequence_number": 0, "response": created})
	e.event("response.output_item.added", map[string]any{"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": item})
	if item["type"] == "message" {
		e.event("response.output_text.delta", map[string]any{"type": "response.output_text.delta", "sequence_number": 2,
			"item_id": item["id"], "output_index": 0, "content_index": 0, "delta": FinalText})
	}
	e.event("response.output_item.done", map[string]any{"type": "response.output_item.done", "sequence_number": 3, "output_index": 0, "item": item})
	e.event("response.completed", map[string]any{"type": "response.completed", "sequence_number": 4, "response": resp})
}

// chat answers POST /v1/chat/completions (opencode's OpenAI-compatible
// provider): a tool call to its bash tool, then text once a tool message
// came back.
func (t *turn) chat() {
	tool := t.pick("bash", "shell", "run_shell_command")
	model, _ := t.req["model"].(string)
	msg := map[string]any{"role": "assistant"}
	finish := "stop"
	if t.wantsTool(tool, `"role":"tool"`) {
		finish = "tool_calls"
		msg["content"] = nil
		msg["tool_calls"] = []any{map[string]any{"index": 0, "id": "call_mock1", "type": "function",
			"function": map[string]any{"name": tool, "arguments": mustJSON(map[string]any{"command": t.command, "description": "run the test command"})}}}
	} else {
		msg["content"] = FinalText
	}
	usage := map[string]any{"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
	if !t.stream() {
		writeJSON(t.w, map[string]any{"id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
			"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish}}, "usage": usage})
		return
	}
	e := newSSE(t.w)
	chunk := func(delta map[string]any, fin any, u any) map[string]any {
		c := map[string]any{"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": fin}}}
		if u != nil {
			c["usage"] = u
		}
		return c
	}
	e.event("", chunk(msg, nil, nil))
	e.event("", chunk(map[string]any{}, finish, usage))
	e.event("", "[DONE]")
}
