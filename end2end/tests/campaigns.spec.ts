import { test, expect } from "@playwright/test";
import { ADMIN, BDR, signIn } from "./support";

test("a BDR starts a campaign from a published template, activates it and imports contacts", async ({ page }) => {
  await signIn(page, BDR);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Campaigns", exact: true }).click();
  const form = page.getByTestId("new-campaign-form");
  await form.getByLabel("Name").fill("Autumn open house");
  await form.getByLabel("Funnel template").selectOption({ label: "Seminar invitation (v1)" });
  await form.getByLabel("Starts (local time)").fill("2027-10-07T18:00");
  await form.getByLabel("Time zone").fill("America/Denver");
  await form.getByLabel("Venue").fill("Main Street Library");
  await form.getByRole("button", { name: "Create campaign" }).click();

  await expect(page.getByRole("heading", { level: 1, name: "Autumn open house" })).toBeVisible();
  await expect(page.getByTestId("campaign-status")).toHaveText("draft");
  await expect(page.getByTestId("campaign-builder").getByText("Invitation text")).toBeVisible();
  await page.getByRole("button", { name: "Activate" }).click();
  await expect(page.getByTestId("campaign-status")).toHaveText("active");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Leads", exact: true }).click();
  await page.waitForSelector("body[data-hydrated]");
  const upload = page.getByTestId("import-form");
  await upload.getByLabel("Into campaign").selectOption({ label: "Autumn open house" });
  await upload.getByLabel("Consent source").fill("Library sign-up");
  await upload.getByLabel("CSV file").setInputFiles({
    name: "library.csv",
    mimeType: "text/csv",
    buffer: Buffer.from("name,phone\nIvy Chen,(303) 555-0111\nOwen Park,(720) 555-0122\n"),
  });
  await upload.getByRole("button", { name: "Upload" }).click();
  await page.waitForSelector("body[data-hydrated]");
  await page.getByTestId("import-mapping").getByRole("button", { name: "Start import" }).click();
  await expect(page.getByTestId("import-status")).toHaveText("Import finished");
  await expect(page.getByTestId("count-enrolled")).toHaveText("2");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Campaigns", exact: true }).click();
  await page.getByRole("link", { name: "Autumn open house" }).click();
  await expect(page.getByRole("link", { name: "Ivy Chen" })).toBeVisible();
});

test("an admin writes SMS content with live checks and a preview", async ({ page }) => {
  await signIn(page, ADMIN);
  await page.goto("/content");
  await page.waitForSelector("body[data-hydrated]");
  const editor = page.getByTestId("content-editor");
  await editor.getByLabel("Name").fill("Reminder");
  const message = editor.getByLabel("Message");
  await message.fill("Hi {{contact.nickname}}");
  await expect(editor.getByRole("alert")).toContainText("unknown merge tag {{contact.nickname}}");
  await message.fill("Hi {{contact.first_name | \"there\"}}, see you {{event.date}} at {{event.venue}}!");
  await expect(editor.getByRole("alert")).toHaveCount(0);
  await expect(editor.getByTestId("sms-length")).toContainText("1 segment · GSM-7");
  await editor.getByRole("button", { name: "Save content" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Content saved" })).toBeVisible();
  await expect(page.getByTestId("content-list").getByText("Reminder")).toBeVisible();

  const preview = page.getByTestId("preview");
  await preview.getByLabel("Campaign").selectOption({ label: "Spring homebuyer seminar" });
  await preview.getByLabel("Contact").selectOption({ label: "Maria Gonzalez" });
  await preview.getByRole("button", { name: "Preview" }).click();
  await expect(preview.getByTestId("preview-body")).toContainText("Hi Maria, see you");
  await expect(preview.getByTestId("preview-body")).toContainText("Riverside Conference Center, Hall B");
});
