// The official openai npm client against a running bitnet server (base URL, key and model from the
// environment). Prints one JSON line with what it saw; exits non-zero with a message when a check fails.
import OpenAI from "openai";

const baseURL = process.env.BITNET_BASE_URL;
const model = process.env.BITNET_MODEL;
const client = new OpenAI({ baseURL, apiKey: process.env.BITNET_API_KEY ?? "none", maxRetries: 0, timeout: 60000 });

function check(cond, message) {
  if (!cond) throw new Error(message);
}

const models = await client.models.list();
check(models.data.some((m) => m.id === model), `models.list lacks ${model}`);

const messages = [{ role: "user", content: "Tell me a story." }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
const content = chat.choices[0].message.content;
check(chat.object === "chat.completion", `object is ${chat.object}`);
check(typeof content === "string" && content.length > 0, "empty chat content");
check(chat.usage.completion_tokens > 0 && chat.usage.total_tokens === chat.usage.prompt_tokens + chat.usage.completion_tokens,
  `bad usage ${JSON.stringify(chat.usage)}`);

const stream = await client.chat.completions.create({
  model, messages, max_tokens: 12, temperature: 0, stream: true, stream_options: { include_usage: true },
});
let streamed = "";
let finish = null;
let usage = null;
let chunks = 0;
for await (const chunk of stream) {
  chunks += 1;
  if (chunk.usage) usage = chunk.usage;
  for (const choice of chunk.choices) {
    streamed += choice.delta?.content ?? "";
    if (choice.finish_reason) finish = choice.finish_reason;
  }
}
check(streamed === content, `streamed ${JSON.stringify(streamed)} != whole ${JSON.stringify(content)}`);
check(chunks > 2 && finish !== null, `stream had ${chunks} chunks, finish ${finish}`);
check(usage && usage.completion_tokens === chat.usage.completion_tokens, `stream usage ${JSON.stringify(usage)}`);

const completion = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 16, temperature: 0 });
const text = completion.choices[0].text;
check(completion.object === "text_completion", `object is ${completion.object}`);
check(typeof text === "string" && text.length > 0, "empty completion text");

let rejected = false;
try {
  await client.completions.create({ model: "no-such-model", prompt: "x", max_tokens: 1 });
} catch (e) {
  rejected = e instanceof OpenAI.NotFoundError;
}
check(rejected, "an unknown model was not answered with NotFoundError");

console.log(JSON.stringify({ ok: true, chat: content, streamed_chunks: chunks, finish, completion: text }));
