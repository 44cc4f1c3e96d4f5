import { openPostgresStore } from "../fleet/mod.ts";
import { _runStoreContract } from "../fleet/store/_store_contract.ts";
import { startPostgres } from "./_postgres.ts";

Deno.test("PostgreSQL fleet store passes the store contract on a real server", async (t) => {
  await using pg = await startPostgres();
  const urls = new WeakMap<object, string>();
  await _runStoreContract(t, {
    newStore: async () => {
      const url = await pg.newDatabase();
      const store = await openPostgresStore(url);
      urls.set(store, url);
      return store;
    },
    reopen: async (store) => {
      await store.close();
      return await openPostgresStore(urls.get(store)!);
    },
  });
});
