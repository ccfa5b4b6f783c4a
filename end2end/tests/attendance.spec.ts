import { test, expect } from "@playwright/test";
import { BDR, signIn } from "./support";

test("a BDR uploads her event's attendee list and sees who was marked Attended and which lines matched nobody", async ({ page }) => {
  await signIn(page, BDR);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Campaigns", exact: true }).click();
  await page.getByRole("link", { name: "Spring homebuyer seminar" }).click();
  const priya = page.getByTestId("enrollments").locator('tr[data-contact="Priya Natarajan"]');
  await expect(priya).toContainText("No Activity");

  // Priya by her number written another way, Tom (Attended already) by email, a stranger
  // and a line naming no one.
  const upload = page.getByTestId("attendees");
  await upload.getByLabel("Attendee CSV file").setInputFiles({
    name: "sign-in-sheet.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(
      "name,phone,email\n" +
        "Priya Natarajan,415-555-0171,\n" +
        "Tom Becker,,TOM.BECKER@example.com\n" +
        "Walk-in guest,(503) 555-0199,\n" +
        "Illegible,n/a,not an email\n",
    ),
  });
  await upload.getByRole("button", { name: "Mark attended" }).click();

  await expect(upload.getByTestId("attendees-marked")).toContainText("1 marked Attended; 1 unchanged");
  const unmatched = upload.getByTestId("attendees-unmatched").getByRole("listitem");
  await expect(unmatched).toHaveText([
    "Line 4: nobody in this campaign has this phone or email",
    "Line 5: no valid phone number or email",
  ]);
  await expect(priya).toContainText("Attended");
});
