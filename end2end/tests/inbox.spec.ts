import { test, expect } from "@playwright/test";
import { BDR, signIn, textIn } from "./support";

// Demo data: James Carter is a contact of Ana's campaign, which writes from her number.
const JAMES = "+13125550198";
const ANA_NUMBER = "+12025550001";

test("a text arrives in the open inbox without a reload, and the BDR answers it", async ({ page, request, baseURL }) => {
  await signIn(page, BDR);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Inbox", exact: true }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Inbox" })).toBeVisible();
  const list = page.getByTestId("conversations");
  await expect(list).toBeVisible();

  // The text is posted to the webhook as Twilio posts it; the open page shows it by itself.
  const text = `Can I bring my dog? (${Date.now()})`;
  await textIn(request, baseURL!, JAMES, ANA_NUMBER, text);
  const row = list.getByTestId("conversation").filter({ hasText: text });
  await expect(row).toBeVisible({ timeout: 5_000 });
  await expect(row.getByLabel("Unread")).toBeVisible();
  await expect(page.getByTestId("unread-count")).toBeVisible();

  // Opened: the whole history is there, with where James is in the funnel.
  await row.getByRole("button").click();
  const view = page.getByTestId("conversation-view");
  await expect(view.getByTestId("history")).toContainText(text);
  await expect(view.getByTestId("funnel")).toContainText("Spring homebuyer seminar");

  // The answer goes out with its merge tag filled in, and shows in the conversation.
  await view.getByLabel("Reply").fill("Of course, {{contact.first_name}}! Dogs are welcome.");
  await view.getByRole("button", { name: "Send reply" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "Reply sent" })).toBeVisible();
  await expect(view.getByTestId("history")).toContainText("Of course, James! Dogs are welcome.");
  await expect(list.getByTestId("conversation").filter({ hasText: "Of course, James!" })).toBeVisible();
});
