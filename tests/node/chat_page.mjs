// The chat page (GET /) in headless Chromium, driven by playwright-core:
// the model picker fills from the server, a typed message gets a streamed
// answer (several DOM updates, not one), the answer equals the server's own
// non-streamed greedy answer, tokens/s is shown, and the page fetches
// nothing but the server itself (no CDN). A screenshot goes to OUT_DIR.
//
// usage: node chat_page.mjs BASE_URL OUT_DIR [CHROMIUM]
import { chromium } from "playwright-core";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [base, outDir, executable = "/usr/bin/chromium"] = process.argv.slice(2);
if (!base || !outDir) {
  console.error("usage: node chat_page.mjs BASE_URL OUT_DIR [CHROMIUM]");
  process.exit(2);
}
const origin = new URL(base).origin;
const prompt = "Tell me a story about a cat.";
const maxTokens = 24;

function fail(message) {
  console.error("chat page: FAILED: " + message);
  process.exitCode = 1;
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), "qinfer-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: executable,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
  viewport: { width: 900, height: 640 },
});
try {
  const page = context.pages()[0] || await context.newPage();
  const foreign = [];
  page.on("request", (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) foreign.push(r.url()); });
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));

  await page.goto(base, { waitUntil: "load" });
  await page.waitForFunction(() => document.getElementById("model").options.length > 0, null, { timeout: 30000 });
  const model = await page.$eval("#model", (s) => s.value);

  // Count every change of the answer's text as it streams in.
  await page.evaluate(() => {
    window.__updates = 0;
    new MutationObserver((records) => {
      for (const r of records) if (r.target.closest && r.target.closest(".msg.assistant") || r.target.parentElement?.closest(".msg.assistant")) window.__updates++;
    }).observe(document.getElementById("messages"), { subtree: true, childList: true, characterData: true });
  });
  await page.fill("#temperature", "0");
  await page.fill("#max-tokens", String(maxTokens));
  await page.fill("#prompt", prompt);
  await page.press("#prompt", "Enter");
  await page.waitForSelector(".msg.assistant .meta, .msg.error", { timeout: 120000 });
  const error = await page.$(".msg.error");
  if (error) throw new Error("the page shows an error: " + await error.textContent());
  const answer = await page.$eval(".msg.assistant .body", (e) => e.textContent);
  const meta = await page.$eval(".msg.assistant .meta", (e) => e.textContent);
  const updates = await page.evaluate(() => window.__updates);
  await page.screenshot({ path: path.join(outDir, "chat_page.png"), fullPage: true });

  // The same request, not streamed, straight to the API: greedy, so equal.
  const r = await fetch(origin + "/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: prompt }], temperature: 0, max_tokens: maxTokens }),
  });
  const direct = await r.json();
  const want = direct.choices?.[0]?.message?.content;
  const usage = direct.usage?.completion_tokens;

  if (!answer) fail("no answer appeared");
  if (answer !== want) fail(`streamed answer ${JSON.stringify(answer)} != API answer ${JSON.stringify(want)}`);
  if (updates < 3) fail(`the answer appeared in ${updates} update(s): not streamed`);
  const m = meta.match(/^(\d+) tokens · ([\d.]+|–) tok\/s · first token (\d+) ms$/);
  if (!m) fail(`stats line ${JSON.stringify(meta)} does not show tokens and tokens/s`);
  else if (Number(m[1]) !== usage) fail(`page says ${m[1]} tokens, usage says ${usage}`);
  if (foreign.length) fail("the page fetched other origins: " + foreign.join(", "));
  if (pageErrors.length) fail("page errors: " + pageErrors.join("; "));
  if (!process.exitCode)
    console.log(`chat page: ok (model ${model}, ${updates} streamed updates, "${meta}", screenshot ${path.join(outDir, "chat_page.png")})`);
} catch (e) {
  fail(e.stack || String(e));
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
