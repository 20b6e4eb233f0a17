// Cline's two client stacks, each driven through a two-turn tool loop against an OpenAI-compatible base URL:
//   openai-node      (Cline 3.x's OpenAiHandler: chat.completions.create, stream, include_usage, native tools)
//   ai-sdk           (@ai-sdk/openai-compatible + ai's streamText, includeUsage)
// A logging fetch records every request as sent (method, path, headers that matter, JSON body). Each turn reads
// the stream the way its client's users do: text, reasoning, tool calls, usage (cache reads), finish reason.
//
//   node cline_clients.mjs <baseURL> <apiKey> <model>   → one JSON object on stdout: {openai-node: …, ai-sdk: …}
//
// Installed by tests/clients/setup_node_clients.sh; run by tests/test_cline_requests.py.
import OpenAI from "openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { jsonSchema, streamText, tool } from "ai";

const [baseURL, apiKey, model] = process.argv.slice(2);

const SYSTEM = "You are Cline, a highly skilled software engineer.\n\n====\n\nTOOL USE\n\nUse one tool per message.";
const TASK = "<task>\nWhat is in README.md?\n</task>";
const ENVIRONMENT = "<environment_details>\n# Current Working Directory (/home/user/project) Files\nREADME.md\n</environment_details>";
const READ_FILE = {
  name: "read_file",
  description: "Request to read the contents of a file at the specified path.",
  parameters: {
    type: "object",
    properties: { path: { type: "string", description: "The path of the file to read" } },
    required: ["path"],
  },
};
const FILE_CONTENT = "# Project\nA demo project.";

function loggingFetch(log) {
  return async (input, init = {}) => {
    const url = new URL(typeof input === "string" ? input : input.url);
    const headers = new Headers(init.headers ?? {});
    const body = typeof init.body === "string" ? JSON.parse(init.body) : null;
    log.push({
      method: init.method ?? "GET",
      path: url.pathname,
      headers: { "content-type": headers.get("content-type"), accept: headers.get("accept") },
      body,
    });
    return fetch(input, init);
  };
}

async function openaiNode() {
  const requests = [];
  const client = new OpenAI({ baseURL, apiKey, fetch: loggingFetch(requests), maxRetries: 0 });
  const user = { role: "user", content: [{ type: "text", text: TASK }, { type: "text", text: ENVIRONMENT }] };
  const turns = [];
  let messages = [{ role: "system", content: SYSTEM }, user];
  for (let turn = 0; turn < 2; turn++) {
    const stream = await client.chat.completions.create({
      model,
      messages,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: "function", function: READ_FILE }],
    });
    const seen = { text: "", reasoning: "", tool_calls: [], usage: null, finish_reason: null };
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta;
      if (delta?.content) seen.text += delta.content;
      if (delta && "reasoning_content" in delta && delta.reasoning_content) seen.reasoning += delta.reasoning_content;
      for (const call of delta?.tool_calls ?? []) seen.tool_calls.push(call);
      if (chunk.choices[0]?.finish_reason) seen.finish_reason = chunk.choices[0].finish_reason;
      if (chunk.usage) {
        seen.usage = {
          inputTokens: chunk.usage.prompt_tokens || 0,
          outputTokens: chunk.usage.completion_tokens || 0,
          cacheReadTokens: chunk.usage.prompt_tokens_details?.cached_tokens || 0,
        };
      }
    }
    turns.push(seen);
    if (!seen.tool_calls.length) break;
    const first = seen.tool_calls[0];
    const call = { id: first.id, type: "function", function: { name: first.function.name, arguments: first.function.arguments } };
    messages = [
      ...messages,
      { role: "assistant", content: seen.text || null, tool_calls: [call] },
      { role: "tool", tool_call_id: call.id, content: FILE_CONTENT },
    ];
  }
  return { requests, turns };
}

async function aiSdk() {
  const requests = [];
  const provider = createOpenAICompatible({ name: "puter-magic", baseURL, apiKey, includeUsage: true, fetch: loggingFetch(requests) });
  const tools = { read_file: tool({ description: READ_FILE.description, inputSchema: jsonSchema(READ_FILE.parameters) }) };
  let messages = [{ role: "user", content: [{ type: "text", text: TASK }, { type: "text", text: ENVIRONMENT }] }];
  const turns = [];
  for (let turn = 0; turn < 2; turn++) {
    const result = streamText({ model: provider.chatModel(model), system: SYSTEM, messages, tools, temperature: 0, maxRetries: 0 });
    const seen = { text: "", reasoning: "", tool_calls: [], usage: null, finish_reason: null, errors: [] };
    for await (const part of result.fullStream) {
      if (part.type === "text-delta") seen.text += part.text;
      else if (part.type === "reasoning-delta") seen.reasoning += part.text;
      else if (part.type === "tool-call") seen.tool_calls.push({ id: part.toolCallId, name: part.toolName, input: part.input });
      else if (part.type === "finish") {
        seen.finish_reason = part.finishReason;
        seen.usage = part.totalUsage;
      } else if (part.type === "error") seen.errors.push(String(part.error?.message ?? part.error));
    }
    turns.push(seen);
    if (!seen.tool_calls.length) break;
    const call = seen.tool_calls[0];
    messages = [
      ...messages,
      { role: "assistant", content: [{ type: "tool-call", toolCallId: call.id, toolName: call.name, input: call.input }] },
      {
        role: "tool",
        content: [{ type: "tool-result", toolCallId: call.id, toolName: call.name, output: { type: "text", value: FILE_CONTENT } }],
      },
    ];
  }
  return { requests, turns };
}

const out = { "openai-node": await openaiNode(), "ai-sdk": await aiSdk() };
process.stdout.write(JSON.stringify(out, null, 2) + "\n");
