import { assertEquals } from "../../test/_assert.ts";
import { TABLETOP_API } from "../../skills-bridge/mod.ts";
import { type CatchSite, verifyProgram } from "../../verifier/mod.ts";
import { _catchSites } from "./_instrument_catches.ts";

// The core sends the verifier's catch sites with a run instead of letting
// the host parse the source again: they must be the ones the host finds.
const PROGRAMS = [
  'say("no try at all");',
  'try { pick("a"); } catch (e) { say("caught"); }',
  'try { pick("a"); } catch { say("no binding"); }',
  'try { pick("a"); } catch ({ code }) { say(code); }',
  'try { pick("a"); } finally { say("finally only"); }',
  `function tryPick(id) {
  try { pick(id); return true; } catch (error) { return false; }
}
const again = (id) => { try { return tryPick(id); } catch (inner) { return false; } };
for (let i = 0; i < 3; i++) {
  try { again("red_block"); } catch (e) {
    try { place("blue_bowl"); } catch (f) { say("nested " + f.message); }
  }
}`,
  // "catch" in strings, comments and property names is no clause.
  `const words = ["catch (e) {", 'catch (x) {'];
// try { } catch (comment) { }
const o = { text: "catch" };
say(words[0] + o.text);`,
];

Deno.test("the verifier's catch sites of an accepted program are those the sandbox finds itself", () => {
  for (const source of PROGRAMS) {
    const sites: CatchSite[] = [];
    const report = verifyProgram(source, {
      api: TABLETOP_API,
      catchSites: sites,
    });
    assertEquals(report.issues, [], source);
    assertEquals(sites, _catchSites(source), source);
  }
});
