import { test, expect, Page } from "@playwright/test";
import { BDR, hydrated, signIn } from "./support";

const CAMPAIGN = "Spring homebuyer seminar";

async function openCampaign(page: Page) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Campaigns", exact: true }).click();
  await page.getByRole("link", { name: CAMPAIGN }).click();
  await expect(page.getByRole("heading", { level: 1, name: CAMPAIGN })).toBeVisible();
}

function toast(page: Page, text: string) {
  return page.getByTestId("toast").filter({ hasText: text });
}

test("a BDR watches her campaign run, dry-runs it, test-sends a step to herself and sets the send window", async ({ page }) => {
  await signIn(page, BDR);
  const nav = page.getByRole("navigation", { name: "Main" });

  // Nobody has a Twilio account yet: texts go to the sandbox.
  await nav.getByRole("link", { name: "Settings", exact: true }).click();
  await expect(page.getByTestId("twilio-status")).toContainText("Sandbox: messages are simulated");
  await expect(page.getByTestId("twilio-own").getByRole("button", { name: "Remove my account" })).toHaveCount(0);
  await expect(page.getByTestId("twilio-org")).toHaveCount(0);

  // Every funnel step, in the funnel's order, with its counts.
  await openCampaign(page);
  const progress = page.getByTestId("live-progress");
  await expect(progress.locator("tbody tr")).toHaveCount(6);
  await expect(progress.locator("tbody tr").first()).toHaveAttribute("data-key", "N1");
  await expect(progress.locator('tr[data-key="N2"]')).toContainText("Invitation text");
  await expect(progress.locator('tr[data-key="N4"]')).toContainText("Invitation email");
  await expect(progress.locator('tr[data-key="total"]')).toContainText("All steps");

  // The dry run says what would happen, sending nothing.
  const dry = page.getByTestId("dry-run");
  await dry.getByRole("button", { name: "Dry run" }).click();
  const result = dry.getByTestId("dry-run-result");
  await expect(result).toContainText("Sends planned");
  await expect(result).toContainText("Expected finish");

  // A test send needs her own mobile number first.
  const testSend = page.getByTestId("test-send");
  await testSend.getByLabel("Step to send").selectOption({ label: "N2 · Invitation text" });
  await testSend.getByRole("button", { name: "Send to me" }).click();
  await expect(toast(page, "Add your mobile number in Settings")).toBeVisible();

  await nav.getByRole("link", { name: "Settings", exact: true }).click();
  const profile = page.getByTestId("profile-form");
  await profile.getByLabel("Your mobile (for test sends)").fill("(202) 555-0177");
  await profile.getByRole("button", { name: "Save settings" }).click();
  await expect(toast(page, "Settings saved")).toBeVisible();

  await openCampaign(page);
  await testSend.getByLabel("Step to send").selectOption({ label: "N2 · Invitation text" });
  await testSend.getByRole("button", { name: "Send to me" }).click();
  await expect(toast(page, "Sent to +12025550177 via sandbox")).toBeVisible();

  // The send window: from 08:30 to midnight, Sunday instead of Saturday.
  const win = page.getByTestId("send-window");
  await win.getByLabel("From (HH:MM)").fill("08:30");
  await win.getByLabel("Until (HH:MM)").fill("24:00");
  await win.getByLabel("Sat", { exact: true }).uncheck();
  await win.getByLabel("Sun", { exact: true }).check();
  await win.getByLabel(/^Opt-out line/).fill("Text STOP to opt out");
  await win.getByRole("button", { name: "Save send window" }).click();
  await expect(toast(page, "Send window saved")).toBeVisible();
  await page.reload();
  await hydrated(page);
  await expect(win.getByLabel("From (HH:MM)")).toHaveValue("08:30");
  await expect(win.getByLabel("Until (HH:MM)")).toHaveValue("24:00");
  await expect(win.getByLabel("Sat", { exact: true })).not.toBeChecked();
  await expect(win.getByLabel("Sun", { exact: true })).toBeChecked();
  await expect(win.getByLabel(/^Opt-out line/)).toHaveValue("Text STOP to opt out");
  // A window that ends before it starts is refused.
  await win.getByLabel("Until (HH:MM)").fill("07:00");
  await win.getByRole("button", { name: "Save send window" }).click();
  await expect(toast(page, "the send window must start before it ends")).toBeVisible();
});

test("a BDR pauses and resumes one contact, and another open page of the campaign follows", async ({ page }) => {
  await signIn(page, BDR);
  await openCampaign(page);
  const row = (p: Page) => p.getByTestId("enrollments").locator('tr[data-contact="Priya Natarajan"]');
  const engine = (p: Page) => row(p).locator('[data-col="engine"]');
  await expect(engine(page)).not.toHaveText("paused");

  // She pauses Priya on a second page; the first catches up by itself within seconds.
  const other = await page.context().newPage();
  await other.goto(page.url());
  await hydrated(other);
  await row(other).getByRole("button", { name: "Pause Priya Natarajan" }).click();
  await expect(toast(other, "Priya Natarajan: paused")).toBeVisible();
  await expect(engine(other)).toHaveText("paused");
  await other.close();
  await expect(engine(page)).toHaveText("paused");
  await expect(row(page).getByRole("button", { name: "Pause Priya Natarajan" })).toHaveCount(0);

  await row(page).getByRole("button", { name: "Resume Priya Natarajan" }).click();
  await expect(toast(page, "Priya Natarajan: resumed")).toBeVisible();
  await expect(engine(page)).not.toHaveText("paused");

  // Both are steps on her contact timeline.
  await row(page).getByRole("link", { name: "Priya Natarajan" }).click();
  const steps = page.getByTestId("timeline").locator('[data-kind="step"]');
  await expect(steps.filter({ hasText: "Paused by ana@demo.turnout.local" })).toHaveCount(1);
  await expect(steps.filter({ hasText: "Resumed by ana@demo.turnout.local" })).toHaveCount(1);
});
