import { test, expect } from "@playwright/test";
import { BDR, hydrated, signIn } from "./support";

// The loopback Google that playwright.config.ts starts (end2end/fake-google.mjs) and points
// the server at; the address is the mailbox it hands out.
const GOOGLE = `http://127.0.0.1:${process.env.FAKE_GOOGLE_PORT || "3190"}`;
const MAILBOX = "ana.reyes.events@gmail.com";
// Demo data: Priya Natarajan is a contact of Ana's campaign.
const PRIYA = "priya.n@example.com";

test("a BDR connects Google and a contact's email reply appears in the open inbox", async ({ page, context, request, baseURL }) => {
  await signIn(page, BDR);
  try {
    // Settings › Google: Connect goes to Google (here it consents at once) and comes back.
    await page.goto("/settings");
    await hydrated(page);
    const card = page.getByTestId("google-card");
    await expect(card.getByTestId("google-status")).toContainText("Not connected");
    await card.getByTestId("google-connect").click();
    await page.waitForURL(/\/settings\?google=connected/);
    await hydrated(page);
    await expect(card.getByTestId("google-status")).toContainText(`Connected as ${MAILBOX}`);
    await expect(card.getByTestId("google-sync")).toBeVisible();

    // The inbox is open when Priya's answer lands in Ana's Gmail.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Inbox", exact: true }).click();
    await expect(page.getByRole("heading", { level: 1, name: "Inbox" })).toBeVisible();
    const list = page.getByTestId("conversations");
    await expect(list).toBeVisible();

    const stamp = Date.now();
    const text = `Could you send me the agenda before the seminar? (${stamp})`;
    const raw = [
      `From: Priya Natarajan <${PRIYA}>`,
      `To: Ana Reyes <${MAILBOX}>`,
      "Subject: Agenda for the seminar",
      `Message-ID: <CAE2e${stamp}PriyaN@mail.gmail.com>`,
      `Date: ${new Date().toUTCString()}`,
      "MIME-Version: 1.0",
      'Content-Type: text/plain; charset="UTF-8"',
      "",
      text,
      "",
      "Priya",
      "",
    ].join("\r\n");
    const delivered = await request.post(`${GOOGLE}/_test/deliver`, { data: { raw } });
    expect(delivered.ok()).toBeTruthy();

    // "Sync now" in another tab (the server's worker also syncs every few seconds); the open
    // inbox shows the reply by itself.
    const settings = await context.newPage();
    await settings.goto("/settings");
    await hydrated(settings);
    await settings.getByTestId("google-sync").click();
    await expect(settings.getByTestId("toast").filter({ hasText: "Synced" })).toBeVisible();
    await settings.close();

    const row = list.getByTestId("conversation").filter({ hasText: text });
    await expect(row).toBeVisible({ timeout: 10_000 });
    await expect(row).toContainText("Priya Natarajan");

    // Disconnected again from Settings, which revokes the grant at Google.
    await page.goto("/settings");
    await hydrated(page);
    await card.getByTestId("google-disconnect").click();
    await expect(card.getByTestId("google-status")).toContainText("Not connected");
    const revoked = await (await request.get(`${GOOGLE}/_test/revocations`)).json();
    expect(revoked.length).toBeGreaterThan(0);
  } finally {
    // The other specs run without a connected account.
    await page.request.post(`${baseURL}/api/fn/disconnect_google`, { headers: { origin: baseURL! } });
  }
});
