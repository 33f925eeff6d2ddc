import { openTestDatabase, testDrivers } from "@switchyard/db/testing";
import { describe, expect, it } from "vitest";
import { sharedIssuer } from "../src";

const drivers = await testDrivers();

describe.each(drivers)("the issuer instances share on %s", (driver) => {
  it("is the first instance's address, the same for instances starting at the same moment", async () => {
    const db = await openTestDatabase(driver);
    try {
      const answers = await Promise.all(
        ["http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.3:8080"].map((url) =>
          sharedIssuer(db.prisma, url),
        ),
      );
      expect(new Set(answers).size).toBe(1);
      expect(["http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.3:8080"]).toContain(answers[0]);
      // A later instance, or a restart on another port, keeps it.
      expect(await sharedIssuer(db.prisma, "http://10.0.0.9:9999")).toBe(answers[0]);
    } finally {
      await db.close();
    }
  });
});
