import { APIRequestContext, expect, Page } from "@playwright/test";
import { createHash, createHmac, randomUUID } from "crypto";
import { readFileSync } from "fs";

// The e2e server's first admin (scripts/test sets it) and a demo BDR (demo data).
export const ADMIN = { email: "admin@turnout.test", password: "e2e-admin-password-1" };
export const BDR = { email: "ana@demo.turnout.local", password: "demo-password" };

/** Waits until the page is interactive (the app marks <body> once hydrated). */
export async function hydrated(page: Page) {
  await page.waitForSelector("body[data-hydrated]");
}

export async function signIn(page: Page, who: { email: string; password: string }) {
  // The specs sign the same demo users in often; past the per-account limit (5 a minute)
  // the page says when to try again, and they do.
  for (let attempt = 1; ; attempt++) {
    await page.goto("/login");
    await hydrated(page);
    await page.getByLabel("Email").fill(who.email);
    await page.getByLabel("Password", { exact: true }).fill(who.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    const limited = page.getByRole("alert").filter({ hasText: "Too many sign-in attempts" });
    await expect(page.getByTestId("signed-in-user").or(limited)).toBeVisible();
    if (attempt === 3 || !(await limited.isVisible())) break;
    const seconds = Number((await limited.textContent())?.match(/in (\d+) seconds?/)?.[1] ?? "10");
    await page.waitForTimeout((seconds + 1) * 1000);
  }
  await expect(page.getByTestId("signed-in-user")).toBeVisible();
  await hydrated(page);
}

/**
 * Texts the app as Twilio would post an incoming SMS to the sandbox's account: signed with
 * the sandbox's auth token (derived from the server's key file in TURNOUT_DATA_DIR, as the
 * server derives it) over the webhook's URL and the sorted parameters.
 */
export async function textIn(request: APIRequestContext, baseURL: string, from: string, to: string, body: string) {
  const master = Buffer.from(readFileSync(`${process.env.TURNOUT_DATA_DIR}/secret.key`, "utf8").trim(), "base64");
  const token = createHash("sha256").update("turnout sandbox v1").update(master).digest("base64url");
  const sid = `SM${randomUUID().replaceAll("-", "")}`;
  const params: Record<string, string> = {
    MessageSid: sid, SmsSid: sid, AccountSid: "ACsandbox000000000000000000000000",
    From: from, To: to, Body: body, NumMedia: "0", ApiVersion: "2010-04-01",
  };
  const url = `${baseURL}/api/twilio/inbound-sms`;
  const signed = url + Object.keys(params).sort().map((k) => k + params[k]).join("");
  const signature = createHmac("sha1", token).update(signed).digest("base64");
  const res = await request.post(url, { form: params, headers: { "X-Twilio-Signature": signature } });
  expect(res.status()).toBe(200);
}
