import { test, expect, Page } from "@playwright/test";
import { ADMIN, BDR, hydrated, signIn } from "./support";

test("an admin signs in, visits every page, uses the app and signs out", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/login/);
  await hydrated(page);

  // A hydrated control: the password field's visibility toggle.
  const password = page.getByLabel("Password", { exact: true });
  await expect(password).toHaveAttribute("type", "password");
  await page.getByTestId("show-password").check();
  await expect(password).toHaveAttribute("type", "text");

  // A wrong password is answered on the page.
  await page.getByLabel("Email").fill(ADMIN.email);
  await password.fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Wrong email or password");

  await password.fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-role")).toHaveText("Admin");
  await hydrated(page);

  const pages: [string, string][] = [
    ["Dashboard", "Dashboard"],
    ["Campaigns", "Campaigns"],
    ["Campaign builder", "Campaign builder"],
    ["Templates", "Templates"],
    ["Inbox", "Inbox"],
    ["Leads", "Leads"],
    ["Analytics", "Analytics"],
    ["Settings", "Settings"],
    ["Users", "Users"],
    ["Audit log", "Audit log"],
  ];
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const [link, heading] of pages) {
    await nav.getByRole("link", { name: link, exact: true }).click();
    await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
  }

  // Demo data is real data: both campaigns, and a conversation to read.
  await nav.getByRole("link", { name: "Campaigns", exact: true }).click();
  await expect(page.getByRole("link", { name: "Spring homebuyer seminar" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Refinancing Q&A night" })).toBeVisible();
  await page.getByLabel("Owner").selectOption({ label: "Ben Okafor" });
  await expect(page.getByRole("link", { name: "Spring homebuyer seminar" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Refinancing Q&A night" })).toBeVisible();
  await nav.getByRole("link", { name: "Inbox", exact: true }).click();
  // Her text conversation: in the send window the demo funnel has also left her a voicemail.
  await page.getByTestId("conversations").getByRole("button", { name: /^Maria Gonzalez sms/ }).click();
  await expect(page.getByText("YES! Count me in, can I bring my partner?").last()).toBeVisible();

  // Settings save through a server function and confirm with a toast.
  await nav.getByRole("link", { name: "Settings", exact: true }).click();
  const form = page.getByTestId("profile-form");
  await form.getByLabel("SMS from-number").fill("(202) 555-0188");
  await form.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Settings saved" })).toBeVisible();
  await expect(form.getByLabel("SMS from-number")).toHaveValue("+12025550188");
  await form.getByLabel("SMS from-number").fill("12");
  await form.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "is not a valid phone number" })).toBeVisible();

  // The change is in the audit log.
  await nav.getByRole("link", { name: "Audit log", exact: true }).click();
  await expect(page.getByTestId("audit-table").getByText("user.profile_updated").first()).toBeVisible();

  const missing = await page.goto("/no/such/page");
  expect(missing?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();

  await page.goto("/");
  await hydrated(page);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/settings");
  await expect(page).toHaveURL(/\/login\?next=\/settings/);
});

test("a BDR sees her own campaign and no admin pages", async ({ page }) => {
  await signIn(page, BDR);
  await expect(page.getByTestId("signed-in-role")).toHaveText("BDR");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Users" })).toHaveCount(0);
  await nav.getByRole("link", { name: "Campaigns", exact: true }).click();
  await expect(page.getByRole("link", { name: "Spring homebuyer seminar" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Refinancing Q&A night" })).toHaveCount(0);
  await page.goto("/admin/users");
  await expect(page.getByRole("alert")).toContainText("You do not have permission");
});

test("an admin adds a BDR who can then sign in", async ({ page, browser }) => {
  await signIn(page, ADMIN);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
  const form = page.getByTestId("new-user-form");
  await form.getByLabel("Name").fill("Casey Lin");
  await form.getByLabel("Email").fill("casey@turnout.test");
  await form.getByLabel(/^Password/).fill("casey-password-1");
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByTestId("users-table").locator('tr[data-email="casey@turnout.test"]')).toBeVisible();

  const other = await browser.newPage();
  await signIn(other, { email: "casey@turnout.test", password: "casey-password-1" });
  await expect(other.getByTestId("signed-in-user")).toHaveText("Casey Lin");
  await other.close();
});

test("a forgotten password, without a mail sender, sends the user to an admin", async ({ page }) => {
  await page.goto("/login");
  await hydrated(page);
  await page.getByRole("link", { name: "Forgot your password?" }).click();
  await expect(page.getByRole("heading", { name: "Forgot your password?" })).toBeVisible();
  await hydrated(page);
  await page.getByLabel("Email").fill(BDR.email);
  await page.getByRole("button", { name: "Email me a reset link" }).click();
  await expect(page.getByRole("alert")).toContainText("ask an admin to reset your password");
});

test("the shell works at phone width", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, BDR);
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav).toBeHidden();
  await page.getByTestId("menu-toggle").click();
  await nav.getByRole("link", { name: "Inbox", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Inbox" })).toBeVisible();
  await expect(nav).toBeHidden();
});
