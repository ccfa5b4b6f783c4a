import { test, expect } from "@playwright/test";
import { BDR, hydrated, signIn } from "./support";

test("a BDR imports a CSV file into her campaign and finds the people in Leads", async ({ page }) => {
  await signIn(page, BDR);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Leads", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Leads" })).toBeVisible();
  await hydrated(page);

  const form = page.getByTestId("import-form");
  await form.getByLabel("Into campaign").selectOption({ label: "Spring homebuyer seminar" });
  await form.getByLabel("Consent source").fill("Open house sign-up sheet");
  await form.getByLabel("CSV file").setInputFiles({
    name: "open-house.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(
      "Full Name,Mobile,E-mail,Budget\n" +
        "Nora Quinn,(646) 555-0134,nora.quinn@example.com,450k\n" +
        "Raj Patel,(206) 555-0187,raj.patel@example.com,600k\n" +
        "Bad Row,12,not-an-email,\n",
    ),
  });
  await form.getByRole("button", { name: "Upload" }).click();

  // The mapping page: columns guessed from the headers, the first rows shown.
  await expect(page).toHaveURL(/\/leads\/imports\//);
  await hydrated(page);
  const mapping = page.getByTestId("import-mapping");
  await expect(mapping.getByLabel("Column Mobile")).toHaveValue("phone");
  await expect(mapping.getByLabel("Column Budget")).toHaveValue("custom");
  await expect(mapping.getByText("Nora Quinn")).toBeVisible();
  await mapping.getByRole("button", { name: "Start import" }).click();

  await expect(page.getByTestId("import-status")).toHaveText("Import finished");
  await expect(page.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "100");
  await expect(page.getByTestId("count-created")).toHaveText("2");
  await expect(page.getByTestId("count-skipped")).toHaveText("1");
  await expect(page.getByRole("link", { name: /Download rejected/ })).toBeVisible();

  await page.getByRole("link", { name: "Back to Leads" }).click();
  await hydrated(page);
  await page.getByLabel("Search").fill("Nora");
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByTestId("lead-count")).toHaveText("1 matching");
  await page.getByRole("link", { name: "Nora Quinn" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Nora Quinn" })).toBeVisible();
  await expect(page.getByText("Open house sign-up sheet")).toBeVisible();
  await expect(page.getByText("America/New_York")).toBeVisible();
});
