import { equal, ok } from "node:assert/strict";
import { startChromium } from "./_chromium.ts";
import { startFleetBench, waitFor } from "./_fleet_fixture.ts";

Deno.test("fleet page in headless Chromium: robots, a failed run, the stop button", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "cap-fleet-page-" });
  try {
    await using bench = await startFleetBench();
    const fleet = await bench.startConsole(`${dir}/fleet.db`);
    const bad = await bench.run(
      "arm-02",
      "grab",
      'pick("red_block");\npick("blue_bowl");',
    );
    await bench.run(
      "arm-01",
      "stack",
      'pick("red_block");\nplace("blue_bowl");',
    );
    await waitFor("both runs stored", async () => {
      const runs = await (await fetch(`${fleet.url}/api/runs`)).json();
      return runs.length === 2 ? true : undefined;
    });
    await using chromium = await startChromium();
    {
      const { context } = chromium;
      const page = await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));

      await t.step("lists the robots and the runs", async () => {
        const started = performance.now();
        await page.goto(fleet.url);
        await page.waitForSelector('#robots tr[data-robot="arm-02"]');
        const firstRenderMs = performance.now() - started;
        equal(await page.locator("#robots tbody tr").count(), 2);
        await page.waitForSelector(`#runs tr[data-run="${bad.runId}"]`);
        await page.waitForSelector("#labels-chart rect");
        // Report, not an assertion: page weight and time to first render.
        let bytes = 0;
        for (const path of ["/", "/app.js", "/style.css"]) {
          bytes += (await (await fetch(fleet.url + path)).arrayBuffer())
            .byteLength;
        }
        console.log(
          `fleet page: ${bytes} bytes, robots rendered in ${
            firstRenderMs.toFixed(0)
          } ms`,
        );
      });

      await t.step(
        "a failed run's page shows its label and highlights its line",
        async () => {
          await page.click(`#runs tr[data-run="${bad.runId}"]`);
          await page.waitForSelector("#failure-label");
          equal(
            await page.textContent("#failure-label"),
            "precondition_violated",
          );
          const line = page.locator("#source span.line.fail");
          equal(await line.count(), 1);
          equal(await line.getAttribute("data-line"), "2");
          equal(await line.textContent(), 'pick("blue_bowl");');
          ok(await page.locator("#timeline rect.call.failed").count() === 1);
          equal(await page.locator("svg.world").count(), 2);
        },
      );

      await t.step(
        "the stop button ends a spinning program with estop",
        async () => {
          await page.goto(`${fleet.url}/#/`);
          await page.waitForSelector('#robots tr[data-robot="arm-01"]');
          const spinning = bench.run("arm-01", "spin", "while (true) {}");
          await page.waitForSelector(
            '#robots tr[data-robot="arm-01"] .st-running',
            { timeout: 20_000 },
          );
          await page.click('button[data-stop="arm-01"]');
          const evidence = await spinning;
          equal(evidence.outcome, "stopped");
          equal(evidence.failure?.label, "estop");
        },
      );
      equal(errors.length, 0, errors.join("\n"));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
