import { test, expect } from "@playwright/test";
import { ADMIN, signIn, textIn } from "./support";

// Demo data: James Carter is a contact of Ana's campaign, which writes from her number.
const JAMES = "+13125550198";
const ANA_NUMBER = "+12025550001";

test("the dashboard counts a reply the moment it arrives, without a reload", async ({ page, request, baseURL }) => {
  await signIn(page, ADMIN);
  await expect(page.getByRole("heading", { level: 1, name: "Dashboard" })).toBeVisible();

  // Every figure is there, as a number.
  for (const id of ["kpi-enrolled", "kpi-messaged", "kpi-responded", "kpi-replied", "kpi-attended", "kpi-opted-out", "replies-waiting"]) {
    await expect(page.getByTestId(id).getByTestId("kpi-value")).toHaveText(/^\d+$/);
  }
  await expect(page.getByTestId("upcoming-events")).toContainText("Spring homebuyer seminar");
  await expect(page.getByTestId("upcoming-events").getByRole("progressbar").first()).toBeVisible();

  // The chart is an image with a name and a description, readable without JavaScript.
  const chart = page.getByTestId("chart-messages-by-day");
  const svg = chart.locator("svg");
  await expect(svg).toHaveAttribute("role", "img");
  await expect(svg).toHaveAccessibleName(/Messages by day/);
  await expect(svg.locator("title").first()).toHaveText(/Messages by day/);
  await expect(svg.locator("desc")).toHaveText(/Outbound \d+ in all/);
  const inbound = chart.locator('li[data-series="Inbound"]').getByTestId("series-total");
  const inboundNow = async () => Number((await inbound.textContent())?.trim());
  const before = await inboundNow();
  expect(before).toBeGreaterThanOrEqual(0);

  // Hovering a day shows its values once the page is hydrated (a live update may redraw
  // the chart under the pointer, so the hover is tried again).
  await expect(async () => {
    await page.mouse.move(0, 0);
    await svg.locator("g[data-label]").last().hover();
    await expect(chart.getByTestId("chart-tooltip")).toContainText("Inbound", { timeout: 1_000 });
  }).toPass();
  await page.mouse.move(0, 0);

  // A mark on the window: a reload would lose it.
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

  // James answers; the open page counts it and lists it, by itself.
  const text = `Running a few minutes late (${Date.now()})`;
  await textIn(request, baseURL!, JAMES, ANA_NUMBER, text);
  await expect.poll(inboundNow, { timeout: 10_000 }).toBe(before + 1);
  await expect(page.getByTestId("recent-activity").getByTestId("activity").filter({ hasText: text })).toBeVisible();
  await expect(page.getByTestId("replies-waiting").getByTestId("kpi-value")).not.toHaveText("0");
  expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
});

test("analytics filters live in the URL and a campaign shows its funnel by step", async ({ page }) => {
  await signIn(page, ADMIN);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Analytics", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Analytics" })).toBeVisible();
  await expect(page.getByTestId("campaign-comparison")).toContainText("Spring homebuyer seminar");
  await expect(page.getByTestId("export-campaigns")).toHaveAttribute("href", /^\/api\/analytics\/export\.csv\?table=campaigns/);

  await page.getByLabel("Campaign", { exact: true }).selectOption({ label: "Spring homebuyer seminar" });
  await expect(page).toHaveURL(/campaign_id=[0-9a-f-]{36}/);
  const funnel = page.getByTestId("campaign-funnel");
  await expect(funnel).toContainText("Spring homebuyer seminar: funnel by step");
  await expect(page.getByTestId("export-nodes")).toHaveAttribute("href", /table=nodes.*campaign_id=[0-9a-f-]{36}/);

  // The URL alone brings the same view back.
  await page.reload();
  await expect(page.getByTestId("campaign-funnel")).toContainText("Spring homebuyer seminar: funnel by step");
  await expect(page.getByLabel("Campaign", { exact: true })).toHaveValue(/[0-9a-f-]{36}/);
});
