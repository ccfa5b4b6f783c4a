import { expect, Page } from "@playwright/test";

// The e2e server's first admin (scripts/test sets it) and a demo BDR (demo data).
export const ADMIN = { email: "admin@turnout.test", password: "e2e-admin-password-1" };
export const BDR = { email: "ana@demo.turnout.local", password: "demo-password" };

/** Waits until the page is interactive (the app marks <body> once hydrated). */
export async function hydrated(page: Page) {
  await page.waitForSelector("body[data-hydrated]");
}

export async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password", { exact: true }).fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-user")).toBeVisible();
  await hydrated(page);
}
