/**
 * Test helper: Debian's headless Chromium driven by playwright-core, with a
 * fresh profile directory; dispose to close it and remove the profile.
 * @module
 */
import fs from "node:fs";
import type { BrowserContext } from "playwright-core";

const _ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** A running browser context. */
export interface Chromium extends AsyncDisposable {
  readonly context: BrowserContext;
}

/**
 * Starts `/usr/bin/chromium` (or `CHROMIUM_BIN`). playwright-core probes
 * `/proc/sys/fs/binfmt_misc/WSLInterop` with `existsSync` when it loads;
 * Deno answers that probe with NotCapable unless run with `--allow-all`, so
 * the probe is made to answer "no" (this is not WSL) before the import.
 */
export async function startChromium(): Promise<Chromium> {
  const existsSync = fs.existsSync;
  fs.existsSync = ((path: fs.PathLike) => {
    try {
      return existsSync(path);
    } catch {
      return false;
    }
  }) as typeof fs.existsSync;
  const executablePath = Deno.env.get("CHROMIUM_BIN") ?? "/usr/bin/chromium";
  try {
    await Deno.stat(executablePath);
  } catch {
    throw new Error(
      `Cannot start Chromium: no ${executablePath} (apt-get install chromium, or set CHROMIUM_BIN)`,
    );
  }
  const { chromium } = await import("playwright-core");
  const profile = await Deno.makeTempDir({ prefix: "cap-chromium-" });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: _ARGS,
    });
  } catch (error) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw error;
  }
  return {
    context,
    async [Symbol.asyncDispose]() {
      await context.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}
