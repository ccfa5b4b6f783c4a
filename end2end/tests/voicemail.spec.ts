import { test, expect } from "@playwright/test";
import { BDR, hydrated, signIn } from "./support";

// The e2e server has no ElevenLabs key and no Slybroadcast login: the local voice
// (espeak-ng + lame) speaks, so the preview is real MP3 a browser can play.
test("a BDR hears a voicemail step in a chosen voice, filled in for one of the campaign's contacts", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await signIn(page, BDR);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Campaigns", exact: true }).click();
  await page.getByRole("link", { name: "Spring homebuyer seminar" }).click();
  await hydrated(page);
  const builder = page.getByTestId("campaign-builder");
  await expect(builder.getByTestId("builder-node").first()).toBeVisible();

  // A new voicemail step, selected as it is added. Nothing is saved: the campaign's funnel
  // stays as the other specs expect it.
  // The demo funnel has a voicemail follow-up already; the new step is the one selected.
  const steps = builder.locator('[data-testid="builder-node"][data-kind="voicemail_drop"]');
  const before = await steps.count();
  await builder.getByTestId("palette-voicemail_drop").click();
  await expect(steps).toHaveCount(before + 1);
  const panel = page.getByTestId("builder-panel");
  const key = await panel.getByTestId("node-form").getAttribute("data-key");
  await expect(builder.locator(`[data-testid="builder-node"][data-key="${key}"]`)).toHaveAttribute("data-kind", "voicemail_drop");

  // A voice other than the default, from the list the server offers.
  const voice = panel.getByTestId("voice-select");
  await expect(voice.locator("option").nth(1)).toBeAttached();
  const offered = await voice.locator("option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value).filter((v) => v !== ""));
  expect(offered.length).toBeGreaterThan(0);
  await voice.selectOption(offered[offered.length > 1 ? 1 : 0]);
  await panel.getByLabel("Voicemail script").fill("Hi {{contact.first_name}}, this is Ana from the seminar team. We saved you a seat!");

  // Heard as Maria, one of the campaign's contacts, would hear it.
  const who = panel.getByTestId("voicemail-preview-contact");
  if ((await who.count()) > 0) {
    await expect(who.locator("option", { hasText: "Maria Gonzalez" })).toBeAttached();
    await who.selectOption({ label: "Maria Gonzalez" });
  }
  await panel.getByTestId("voicemail-preview").click();
  await expect(panel.getByTestId("voicemail-preview-text")).toHaveText("Hi Maria, this is Ana from the seminar team. We saved you a seat!");
  await expect(panel.getByTestId("voicemail-preview-problem")).toHaveCount(0);

  // The player loads and plays the audio (muted: headless Chromium allows muted autoplay).
  const audio = panel.getByTestId("voicemail-preview-audio");
  await expect(audio).toHaveAttribute("src", /\S/);
  const played = await audio.evaluate(async (el: HTMLAudioElement) => {
    el.muted = true;
    if (el.readyState < 1) {
      await new Promise<void>((resolve, reject) => {
        el.addEventListener("loadedmetadata", () => resolve(), { once: true });
        el.addEventListener("error", () => reject(new Error(`audio error ${el.error?.code}: ${el.error?.message}`)), { once: true });
        el.load();
      });
    }
    await el.play();
    return { readyState: el.readyState, duration: el.duration, paused: el.paused, src: el.currentSrc };
  });
  expect(played.readyState).toBeGreaterThanOrEqual(1);
  expect(played.duration).toBeGreaterThan(0);
  expect(played.paused).toBe(false);

  // The source is MP3, served to the signed-in BDR (the page's cookies).
  const res = await page.request.get(played.src);
  expect(res.status()).toBe(200);
  expect(res.headers()["content-type"]).toContain("audio/mpeg");
  const bytes = await res.body();
  expect(bytes.length).toBeGreaterThan(1000);
  const mp3 = bytes.subarray(0, 3).toString("latin1") === "ID3" || (bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0);
  expect(mp3, `starts with ${bytes.subarray(0, 4).toString("hex")}`).toBe(true);
  expect(errors).toEqual([]);
});
