import { test, expect } from "@playwright/test";
import { ADMIN, BDR, hydrated, signIn } from "./support";

test("an admin suppresses a number with a reason, finds it by the number and lifts it with a reason", async ({ page }) => {
  await signIn(page, ADMIN);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Suppressions", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Suppressions" })).toBeVisible();

  const add = page.getByTestId("add-suppression");
  await add.getByLabel("Phone or email").fill("(971) 555-0142");
  await add.getByLabel("Reason").fill("Asked on the phone never to be texted");
  await add.getByRole("button", { name: "Suppress" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Added to the suppression list" })).toBeVisible();

  // Only a hash and a masked address are kept; the number written another way finds it.
  const search = page.getByTestId("suppression-search");
  await search.getByLabel(/^Search/).fill("+1 971-555-0142");
  await search.getByRole("button", { name: "Search" }).click();
  const rows = page.getByTestId("suppressions-table").locator("tbody tr");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-display", "•••0142");
  await expect(rows.first()).toContainText("Asked on the phone never to be texted");

  await rows.first().getByRole("button", { name: "Remove" }).click();
  await rows.first().getByPlaceholder("Why remove it?").fill("Opted back in at the seminar");
  await rows.first().getByRole("button", { name: "Confirm removal" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Removed from the suppression list" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "No suppressions found" })).toBeVisible();
});

test("a BDR has no suppression list: not in the navigation, refused at its address", async ({ page }) => {
  await signIn(page, BDR);
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Suppressions" })).toHaveCount(0);
  await page.goto("/admin/suppressions");
  await expect(page.getByRole("alert")).toContainText("You do not have permission");
  // The server refuses a change too, whatever the page offers.
  await hydrated(page);
  const add = page.getByTestId("add-suppression");
  await add.getByLabel("Phone or email").fill("(971) 555-0143");
  await add.getByLabel("Reason").fill("Trying anyway");
  await add.getByRole("button", { name: "Suppress" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "You do not have permission" })).toBeVisible();
});
