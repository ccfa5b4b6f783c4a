import { test, expect } from "@playwright/test";
import { ADMIN, hydrated } from "./support";

// builder_200: a 200-node funnel on the builder's canvas, one node dragged for 2 s.
// Runs only with BENCH=1 (the normal end-to-end run skips it); prints
//   builder_200: frame p95 ms N
// Frame time is measured in the page with performance.now() (not from a trace): for each
// animation frame during the drag, the main thread's work for that frame = the time spent
// dispatching its pointermove (window capture listener to window bubble listener, which
// runs the builder's handler and its signal updates) + the time from the start of the
// frame's requestAnimationFrame callbacks to a MessageChannel task posted from them, which
// runs once the frame's style, layout and paint are done. The p95 is over the frames that
// dispatched a pointermove (frames without input do next to nothing and would flatter it).
// Idle time is not counted, so a p95 under 16 ms means 95 % of the drag's frames fit a
// 60 Hz frame budget on the main thread. Rasterisation off the main thread is not in it;
// the rAF interval p95 printed beside it shows whether frames were dropped.

// Playwright's own trace would snapshot the 200-node DOM around every mouse move (on the
// page's main thread), slowing the drag and polluting the frames: off for the benchmark.
test.use({ trace: "off", screenshot: "off" });

const KINDS: [string, object][] = [
  ["sms_send", { body: "Hi {{contact.first_name}}" }],
  ["wait", { mode: "duration", minutes: 60 }],
  ["email_send", { subject: "See you there", body: "Join us" }],
  ["voicemail_drop", { body: "Hello from the team" }],
];

function graph(n: number) {
  const nodes = [];
  const edges = [];
  for (let i = 1; i <= n; i++) {
    const [type, config] = i === 1 ? ["stage", { stage_key: "invited" }] : KINDS[i % KINDS.length];
    nodes.push({ key: `N${i}`, type, name: `Step ${i}`, config, x: 40 + ((i - 1) % 10) * 220, y: 40 + Math.floor((i - 1) / 10) * 120 });
    if (i > 1) edges.push({ from: `N${i - 1}`, to: `N${i}` });
  }
  return { nodes, edges };
}

function p95(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))];
}

test("builder_200", async ({ page, browser }) => {
  test.skip(!process.env.BENCH, "a benchmark: set BENCH=1 to run it");
  test.setTimeout(120_000);
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(ADMIN.email);
  await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-user")).toBeVisible();

  const id = await page.evaluate(async (draft) => {
    const r = await fetch("/api/templates", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: `Bench ${Date.now()}`, draft }),
    });
    if (!r.ok) throw new Error(`create: ${r.status} ${await r.text()}`);
    return (await r.json()).id as string;
  }, graph(200));

  await page.goto(`/templates/${id}`);
  await hydrated(page);
  await expect(page.getByTestId("builder-node")).toHaveCount(200);
  await expect(page.getByTestId("builder-edge")).toHaveCount(199);
  await expect(page.getByTestId("builder-valid")).toBeVisible();

  // The view is fitted to all 200 nodes (zoomed out); every node and edge is in the DOM.
  const node = page.locator('[data-testid="builder-node"][data-key="N45"]');
  const b = (await node.boundingBox())!;
  const start = { x: b.x + b.width / 2, y: b.y + b.height / 2 };

  await page.evaluate(() => {
    const w = window as any;
    w.__bench = { frames: [] as { t: number; work: number; input: number }[], running: true };
    let input = 0;
    let t0 = 0;
    window.addEventListener("pointermove", () => { t0 = performance.now(); }, { capture: true });
    window.addEventListener("pointermove", () => { input += performance.now() - t0; });
    const frame = (t: number) => {
      const begin = performance.now();
      const inputMs = input;
      input = 0;
      const ch = new MessageChannel();
      ch.port1.onmessage = () => w.__bench.frames.push({ t, work: inputMs + performance.now() - begin, input: inputMs });
      ch.port2.postMessage(0);
      if (w.__bench.running) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });

  // BENCH_TRACE=file also records a Chrome trace of the drag, to look into.
  if (process.env.BENCH_TRACE) await browser.startTracing(page, { path: process.env.BENCH_TRACE, screenshots: false });
  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  const began = Date.now();
  let moves = 0;
  while (Date.now() - began < 2000) {
    const a = ((Date.now() - began) / 2000) * Math.PI * 2;
    await page.mouse.move(start.x + 150 * Math.sin(a), start.y + 80 * Math.sin(2 * a));
    moves++;
  }
  await page.mouse.move(start.x + 100, start.y);
  await page.mouse.up();
  if (process.env.BENCH_TRACE) await browser.stopTracing();
  const frames: { t: number; work: number; input: number }[] = await page.evaluate(() => {
    const w = window as any;
    w.__bench.running = false;
    return w.__bench.frames;
  });

  // The node moved and nothing else broke.
  const after = (await node.boundingBox())!;
  expect(Math.round(after.x - b.x)).toBe(100);
  await expect(page.getByRole("button", { name: "Undo" })).toBeEnabled();

  const work = frames.filter((f) => f.input > 0).map((f) => f.work);
  const intervals = frames.slice(1).map((f, i) => f.t - frames[i].t);
  const withInput = work.length;
  console.log(`builder_200: frame p95 ms ${p95(work).toFixed(1)}`);
  console.log(
    `builder_200 detail: ${frames.length} frames (${withInput} with a pointermove) from ${moves} mouse moves; frames with input: ` +
      `work median ${[...work].sort((a, b) => a - b)[Math.floor(work.length / 2)].toFixed(1)} ms, ` +
      `max ${Math.max(...work).toFixed(1)} ms; rAF interval p95 ${p95(intervals).toFixed(1)} ms`,
  );
  expect(p95(work)).toBeLessThan(16);
});
