import { test, expect, Page, Locator } from "@playwright/test";
import { ADMIN, BDR, hydrated, signIn } from "./support";

async function center(l: Locator) {
  const b = (await l.boundingBox())!;
  return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
}

/** Presses on `from` and releases at the point, moving in steps as a hand would. */
async function dragTo(page: Page, from: Locator, to: { x: number; y: number }) {
  const start = await center(from);
  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  await page.mouse.move(to.x, to.y, { steps: 8 });
  await page.mouse.up();
}

/** The node's position in canvas units, from its transform. */
async function position(node: Locator) {
  const t = (await node.getAttribute("transform")) ?? "";
  const m = t.match(/translate\(([-\d.]+) ([-\d.]+)\)/)!;
  return { x: Number(m[1]), y: Number(m[2]) };
}

const NAME = "Open house invite";

test("an admin builds a funnel by dragging and connecting, fixes it, saves and publishes it", async ({ page }) => {
  // Hydration mismatches and panics in the WebAssembly show up as console errors.
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await signIn(page, ADMIN);
  await page.goto("/templates");
  await hydrated(page);
  const form = page.getByTestId("new-template");
  await form.getByLabel("Template name").fill(NAME);
  await form.getByRole("button", { name: "New template" }).click();
  await expect(page).toHaveURL(/\/templates\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { level: 1, name: NAME })).toBeVisible();

  const canvas = page.getByTestId("builder-canvas");
  const box = (await canvas.boundingBox())!;
  const issues = page.getByTestId("builder-issues");
  await expect(issues).toContainText("the funnel has no steps");

  // A stage, dragged to the top left.
  await page.getByTestId("palette-stage").click();
  const stage = page.locator('[data-testid="builder-node"][data-key="N1"]');
  await expect(stage).toHaveAttribute("data-kind", "stage");
  await dragTo(page, stage, { x: box.x + 200, y: box.y + 70 });
  const stageAt = await position(stage);

  // An SMS, dragged below it.
  await page.getByTestId("palette-sms_send").click();
  const sms = page.locator('[data-testid="builder-node"][data-key="N2"]');
  await expect(sms).toBeVisible();
  await dragTo(page, sms, { x: box.x + 200, y: box.y + 260 });
  const smsAt = await position(sms);
  expect(smsAt.y - stageAt.y).toBeGreaterThan(150);
  // Two unconnected steps: two entries.
  await expect(issues).toContainText("N2: a second entry node");

  // Connect: from the stage's bottom port onto the SMS.
  await dragTo(page, stage.getByTestId("builder-port"), await center(sms));
  await expect(page.locator('[data-testid="builder-edge"][data-from="N1"][data-to="N2"]')).toHaveCount(1);
  await expect(issues).not.toContainText("second entry node");

  // Both still need their config; fixing each one clears its mark.
  await expect(stage).toHaveAttribute("data-invalid", "true");
  await expect(sms).toHaveAttribute("data-invalid", "true");
  await expect(issues).toContainText("N1: a stage needs a stage key");
  await stage.click();
  const panel = page.getByTestId("builder-panel");
  await panel.getByLabel("Stage key").fill("invited");
  await expect(stage).toHaveAttribute("data-invalid", "false");
  await expect(issues).not.toContainText("stage key");

  await sms.click();
  await expect(panel.getByTestId("node-form")).toHaveAttribute("data-key", "N2");
  await panel.getByLabel("Name").fill("First text");
  await expect(issues).toContainText("N2: a send needs content");
  await panel.getByLabel("Message").fill("Hi {{contact.first_name}}, join us Saturday?");
  await expect(sms).toHaveAttribute("data-invalid", "false");
  await expect(sms).toContainText("First text");
  await expect(page.getByTestId("builder-valid")).toBeVisible();

  // Undo takes the message back out (the issue returns), redo restores it.
  await canvas.focus();
  await page.keyboard.press("Control+z");
  await expect(sms).toHaveAttribute("data-invalid", "true");
  await page.keyboard.press("Control+Shift+z");
  await expect(sms).toHaveAttribute("data-invalid", "false");

  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Saved" })).toBeVisible();
  await page.getByRole("button", { name: "Publish" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Published version 1" })).toBeVisible();
  await expect(page.getByTestId("template-status")).toHaveText("published");
  await expect(page.getByTestId("template-versions")).toContainText("Version 1");

  // Positions were saved with the draft.
  await page.reload();
  await hydrated(page);
  await expect(stage).toBeVisible();
  const stageAfter = await position(stage);
  const smsAfter = await position(sms);
  expect(Math.abs(stageAfter.x - stageAt.x)).toBeLessThanOrEqual(1);
  expect(Math.abs(stageAfter.y - stageAt.y)).toBeLessThanOrEqual(1);
  expect(Math.abs(smsAfter.x - smsAt.x)).toBeLessThanOrEqual(1);
  expect(Math.abs(smsAfter.y - smsAt.y)).toBeLessThanOrEqual(1);
  await expect(page.getByTestId("template-versions")).toContainText("Version 1");

  // A new issue: a second, unconnected step. Publishing is refused with the issue named;
  // deleting it with the keyboard makes the funnel valid again.
  await page.getByTestId("palette-wait").click();
  const wait = page.locator('[data-testid="builder-node"][data-key="N3"]');
  await expect(wait).toBeVisible();
  await page.getByRole("button", { name: "Publish" }).click();
  await expect(page.getByTestId("publish-error")).toContainText("N3: a second entry node");
  await wait.click();
  await page.keyboard.press("Delete");
  await expect(wait).toHaveCount(0);
  await expect(page.getByTestId("builder-valid")).toBeVisible();
  expect(errors).toEqual([]);
});

test("branch ports, auto-layout, zoom, pan and the keyboard; a JSON export imports as a new template", async ({ page }) => {
  await signIn(page, ADMIN);
  await page.goto("/templates");
  await hydrated(page);
  await page.getByTestId("new-template").getByLabel("Template name").fill("Replied or not");
  await page.getByRole("button", { name: "New template" }).click();
  await expect(page).toHaveURL(/\/templates\/[0-9a-f-]{36}$/);
  const canvas = page.getByTestId("builder-canvas");
  const box = (await canvas.boundingBox())!;
  const node = (key: string) => page.locator(`[data-testid="builder-node"][data-key="${key}"]`);

  await page.getByTestId("palette-branch").click();
  await dragTo(page, node("N1"), { x: box.x + 300, y: box.y + 60 });
  await page.getByTestId("palette-sms_send").click();
  await dragTo(page, node("N2"), { x: box.x + 120, y: box.y + 300 });
  await page.getByTestId("palette-voicemail_drop").click();
  await dragTo(page, node("N3"), { x: box.x + 480, y: box.y + 300 });

  // A branch has a yes and a no port; each connects to its own step.
  await expect(page.getByTestId("builder-issues")).toContainText("N1: a branch needs exactly one 'yes' and one 'no' edge");
  await dragTo(page, node("N1").locator('[data-testid="builder-port"][data-outcome="yes"]'), await center(node("N3")));
  await dragTo(page, node("N1").locator('[data-testid="builder-port"][data-outcome="no"]'), await center(node("N2")));
  await expect(page.locator('[data-testid="builder-edge"][data-from="N1"][data-to="N3"][data-outcome="yes"]')).toHaveCount(1);
  await expect(page.locator('[data-testid="builder-edge"][data-from="N1"][data-to="N2"][data-outcome="no"]')).toHaveCount(1);
  await expect(page.getByTestId("builder-issues")).not.toContainText("a branch needs");

  // The branch's rule form: a field rule needs a field.
  await node("N1").click();
  const panel = page.getByTestId("builder-panel");
  await panel.getByLabel("Rule").selectOption("field_equals");
  await expect(node("N1")).toHaveAttribute("data-invalid", "true");
  await panel.getByLabel("Field", { exact: true }).fill("budget");
  await panel.getByLabel("Value", { exact: true }).fill("600k");
  await expect(node("N1")).toHaveAttribute("data-invalid", "false");
  await node("N2").click();
  await panel.getByLabel("Message").fill("Thanks for your interest!");
  await node("N3").click();
  await panel.getByLabel("Voicemail script").fill("Hi, it's Ana from the team.");
  await expect(page.getByTestId("builder-valid")).toBeVisible();

  // Auto-layout: the branch on top, yes to the left of no, one layer down.
  await page.getByRole("button", { name: "Auto-layout" }).click();
  const [b, yes, no] = [await position(node("N1")), await position(node("N3")), await position(node("N2"))];
  expect(yes.y).toBeGreaterThan(b.y);
  expect(no.y).toBe(yes.y);
  expect(yes.x).toBeLessThan(no.x);

  // Arrow keys move the selected step; undo puts it back.
  await node("N2").click();
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  expect((await position(node("N2"))).x).toBe(no.x + 20);
  await page.getByRole("button", { name: "Undo" }).click();
  expect((await position(node("N2"))).x).toBe(no.x + 10);

  // Tab reaches the steps: focusing one selects it.
  await node("N3").focus();
  await expect(panel.getByTestId("node-form")).toHaveAttribute("data-key", "N3");

  // Zoom buttons and the wheel change the scale; dragging the background pans.
  const zoom = page.getByTestId("builder-zoom");
  const before = await zoom.textContent();
  await page.getByRole("button", { name: "Zoom in" }).click();
  await expect(zoom).not.toHaveText(before!);
  const zoomed = await zoom.textContent();
  await page.mouse.move(box.x + 20, box.y + 300);
  await page.mouse.wheel(0, -300);
  await expect(zoom).not.toHaveText(zoomed!);
  const screenBefore = await center(node("N1"));
  await page.mouse.move(box.x + 20, box.y + 300);
  await page.mouse.down();
  await page.mouse.move(box.x + 120, box.y + 260, { steps: 5 });
  await page.mouse.up();
  const screenAfter = await center(node("N1"));
  expect(Math.round(screenAfter.x - screenBefore.x)).toBe(100);
  expect(Math.round(screenAfter.y - screenBefore.y)).toBe(-40);

  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Saved" })).toBeVisible();

  // The JSON export link serves the saved graph; pasted into the import form it makes a
  // new template with the same steps.
  const href = (await page.getByRole("link", { name: "Export JSON" }).getAttribute("href"))!;
  const exported = await (await page.request.get(href)).text();
  expect(JSON.parse(exported).nodes).toHaveLength(3);
  expect((await page.request.get(href.replace("json", "csv"))).ok()).toBeTruthy();
  await page.goto("/templates");
  await hydrated(page);
  const importForm = page.getByTestId("import-template");
  await importForm.getByLabel("Name for the import").fill("Replied or not (copy)");
  await importForm.getByLabel("Format").selectOption("json");
  await importForm.getByLabel("Exported text").fill(exported);
  await importForm.getByRole("button", { name: "Import" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Replied or not (copy)" })).toBeVisible();
  await expect(page.getByTestId("builder-node")).toHaveCount(3);
  await expect(page.getByTestId("builder-valid")).toBeVisible();
});

test("a BDR sees a template's funnel read-only", async ({ page }) => {
  await signIn(page, BDR);
  await page.goto("/templates");
  await hydrated(page);
  await expect(page.getByTestId("new-template")).toHaveCount(0);
  await page.getByRole("link", { name: NAME }).click();
  await expect(page.getByTestId("builder")).toHaveAttribute("data-read-only", "true");
  await expect(page.getByTestId("builder-palette")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Save", exact: true })).toHaveCount(0);
  await page.locator('[data-testid="builder-node"][data-key="N2"]').click();
  await expect(page.getByTestId("builder-panel").getByLabel("Message")).toBeDisabled();
});
