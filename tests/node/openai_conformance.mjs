// The official openai client against a running `qinfer serve`:
//   node openai_conformance.mjs BASE_URL MODEL API_KEY
// Lists models, runs chat and completions whole and streamed (greedy, so the
// stream must join to the whole answer), checks usage, and checks that the
// client sees errors as its own typed exceptions (404, 400, 401).
// Prints one line per check; exits 1 at the first failure.
import OpenAI from "openai";

const [baseURL, model, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
let checks = 0;

function check(cond, what, detail) {
  if (!cond) {
    console.error(`FAIL: ${what}${detail === undefined ? "" : ": " + JSON.stringify(detail)}`);
    process.exit(1);
  }
  checks++;
  console.log(`ok: ${what}`);
}

async function expectError(fn, cls, status, what) {
  try {
    await fn();
  } catch (e) {
    check(e instanceof cls && e.status === status, what, { name: e.constructor.name, status: e.status, message: e.message });
    return e;
  }
  check(false, what + " (no error)");
}

const models = await client.models.list();
check(models.data.some((m) => m.id === model && m.object === "model"), "models.list names the model", models.data);

const messages = [{ role: "user", content: "Tell me a story about a dog." }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0 });
check(chat.object === "chat.completion", "chat.completion object", chat.object);
check(typeof chat.choices[0].message.content === "string" && chat.choices[0].message.role === "assistant", "chat message", chat.choices[0]);
check(["stop", "length"].includes(chat.choices[0].finish_reason), "chat finish_reason", chat.choices[0].finish_reason);
check(chat.usage.completion_tokens > 0 && chat.usage.total_tokens === chat.usage.prompt_tokens + chat.usage.completion_tokens, "chat usage", chat.usage);

let streamed = "", finish = null, usage = null, chunks = 0;
const stream = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } });
for await (const chunk of stream) {
  check(chunk.object === "chat.completion.chunk", `chat chunk ${chunks}`, chunk);
  chunks++;
  if (chunk.usage) usage = chunk.usage;
  if (!chunk.choices.length) continue;
  streamed += chunk.choices[0].delta.content ?? "";
  if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
}
check(streamed === chat.choices[0].message.content, "chat stream joins to the whole answer", { streamed, whole: chat.choices[0].message.content });
check(finish === chat.choices[0].finish_reason, "chat stream finish_reason", finish);
check(usage && usage.completion_tokens === chat.usage.completion_tokens && usage.prompt_tokens === chat.usage.prompt_tokens, "chat stream usage", usage);

const prompt = "Once upon a time";
const completion = await client.completions.create({ model, prompt, max_tokens: 12, temperature: 0 });
check(completion.object === "text_completion" && typeof completion.choices[0].text === "string", "completion", completion);
check(completion.usage.completion_tokens <= 12, "completion usage", completion.usage);
let text = "";
const cstream = await client.completions.create({ model, prompt, max_tokens: 12, temperature: 0, stream: true });
for await (const chunk of cstream) text += chunk.choices[0]?.text ?? "";
check(text === completion.choices[0].text, "completion stream joins to the whole answer", { text, whole: completion.choices[0].text });

await expectError(() => client.chat.completions.create({ model: "no-such-model", messages }), OpenAI.NotFoundError, 404, "unknown model is NotFoundError");
await expectError(() => client.completions.create({ model, prompt, temperature: 7 }), OpenAI.BadRequestError, 400, "bad temperature is BadRequestError");
const wrong = new OpenAI({ baseURL, apiKey: apiKey + "-wrong", maxRetries: 0 });
await expectError(() => wrong.models.list(), OpenAI.AuthenticationError, 401, "wrong key is AuthenticationError");

console.log(`all ${checks} checks passed`);
