import { equal, ok } from "node:assert/strict";
import { startChromium } from "./_chromium.ts";
import { startFakeOpenAiServer } from "./_fake_openai_server.ts";
import { startFleetBench, waitFor } from "./_fleet_fixture.ts";

const REPAIRED =
  'if (holding() === null) pick("red_block");\nplace("blue_bowl");';

Deno.test("fleet page in headless Chromium: robots, a failed run, the stop button", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "cap-fleet-page-" });
  try {
    await using bench = await startFleetBench();
    await using model = startFakeOpenAiServer([
      { content: "```js\n" + REPAIRED + "\n```" },
    ]);
    const key = { ...bench.key.privateJwk, kid: bench.key.keyId };
    const fleet = await bench.startConsole(`${dir}/fleet.db`, {
      operatorKey: key,
      repair: {
        llmUrl: model.baseURL,
        llmModel: "fake",
        apiKey: "test",
        signingKey: key,
      },
    });
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
        "the repair button repairs the failed run and shows the new version",
        async () => {
          await page.waitForSelector("button#repair");
          // The button replaces the command to copy.
          ok(
            !(await page.textContent("#repair-section"))!.includes("cap synth"),
          );
          await waitFor("arm-02's gRPC address at the console", async () => {
            const robots = await (await fetch(`${fleet.url}/api/robots`))
              .json();
            return robots.find((r: { robotId: string }) =>
                r.robotId === "arm-02"
              )?.grpc?.address
              ? true
              : undefined;
          });
          await page.click("button#repair");
          await page.waitForSelector(
            '#repair-status [data-state="succeeded"]',
            { timeout: 60_000 },
          );
          ok((await page.textContent("#repair-status"))!.includes("grab v"));
          equal(await page.textContent("#repaired-source"), REPAIRED);
        },
      );

      await t.step(
        "the run button runs a program the robot holds",
        async () => {
          await page.goto(`${fleet.url}/#/`);
          await page.click('button[data-run="arm-01"]');
          await page.waitForSelector("#run-program");
          await page.selectOption("#run-program", "stack");
          await page.click("#run-start");
          const link = page.locator("#action-result a");
          await link.waitFor();
          const runId = await link.textContent();
          await waitFor("the console's run stored", async () => {
            const res = await fetch(`${fleet.url}/api/runs/${runId}`);
            await res.body?.cancel();
            return res.ok ? true : undefined;
          });
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
